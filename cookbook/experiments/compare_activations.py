"""`cookbook compare-activations`: vanishing gradients, seen layer by layer.

A deep ``mlp`` (20 Dense layers of 64 units by default) is built once per activation and
kernel initialiser and trained on the digits with one budget. Before training and after it,
the gradient of the loss on one fixed batch is measured for every layer's kernel
(``cookbook.inspection.layer_gradient_norms``). Three lessons should show:

- sigmoid's gradient shrinks layer by layer towards the input: its slope is at most 1/4,
  and backpropagation multiplies one such factor per layer;
- all-zero kernels never break the symmetry: every unit of a layer computes the same
  thing and receives the same update, so the network stays as narrow as one unit (with
  ReLU, zero kernels give zero activations and zero gradients to every hidden layer);
- an initialiser scaled for its activation (He for ReLU, LeCun normal for SELU) keeps the
  gradient's size about level from the last layer to the first, and the network trains.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path

from cookbook.catalogue import load_recipe
from cookbook.data import load_dataset
from cookbook.errors import CookbookError
from cookbook.experiments import load_results, save_results
from cookbook.inspection import layer_gradient_norms
from cookbook.training import compile_model, data_overrides

ACTIVATIONS = ("sigmoid", "tanh", "relu", "gelu", "selu")
INITIALIZERS = ("glorot_uniform", "he_normal", "lecun_normal", "zeros")


def compare_activations(
    activations: Sequence[str] = ACTIVATIONS,
    initializers: Sequence[str] = INITIALIZERS,
    depth: int = 20,
    width: int = 64,
    epochs: int = 10,
    seed: int = 0,
    out: str | Path | None = None,
    verbose: bool = True,
) -> dict:
    """``{"relu/he_normal": {"gradients_at_start": [...], "gradients_after": [...], "loss": [...],
    "val_accuracy": [...], ...}, ...}``, gradients per hidden layer from the input side, the
    output layer last.

    With ``out``, results.json is rewritten after every run and a rerun with the same settings
    measures only the runs not yet finished."""
    import keras

    mlp = load_recipe("mlp")
    for name in activations:
        if name not in mlp.ACTIVATIONS:
            raise CookbookError(f"unknown activation {name!r}; valid: {', '.join(mlp.ACTIVATIONS)}")
    for name in initializers:
        if name not in mlp.INITIALIZERS:
            raise CookbookError(f"unknown initializer {name!r}; valid: {', '.join(mlp.INITIALIZERS)}")
    if depth < 1 or width < 1 or epochs < 1:
        raise CookbookError("--depth, --width and --epochs must be at least 1")
    data = load_dataset("digits", mlp.TASK["datasets"])
    settings = {
        "depth": depth,
        "width": width,
        "epochs": epochs,
        "seed": seed,
        "backend": keras.backend.backend(),
    }
    path, results = load_results(out, settings)
    loss = keras.losses.SparseCategoricalCrossentropy()
    probe = data.x_train[:256], data.y_train[:256]  # the batch every gradient is measured on
    runs = [f"{a}/{i}" for a in activations for i in initializers]
    progress = keras.utils.Progbar(len(runs), unit_name="run") if verbose else None
    for name in runs:
        if name not in results:
            activation, initializer = name.split("/")
            keras.utils.set_random_seed(seed)
            model = mlp.build_functional(
                hidden_units=(width,) * depth,
                activation=activation,
                kernel_initializer=initializer,
                **data_overrides(mlp, data),
            )
            steps = epochs * math.ceil(len(data.x_train) / mlp.TASK["batch_size"])
            compile_model(model, mlp, total_steps=steps, example=(data.x_train, data.y_train))
            at_start = list(layer_gradient_norms(model, *probe, loss).values())
            started = time.perf_counter()
            history = model.fit(
                data.x_train,
                data.y_train,
                validation_data=(data.x_val, data.y_val),
                epochs=epochs,
                batch_size=mlp.TASK["batch_size"],
                verbose=0,
            ).history
            seconds = time.perf_counter() - started
            results[name] = {
                "activation": activation,
                "initializer": initializer,
                "gradients_at_start": at_start,
                "gradients_after": list(layer_gradient_norms(model, *probe, loss).values()),
                "loss": [float(v) for v in history["loss"]],
                "val_accuracy": [float(v) for v in history["val_accuracy"]],
                "seconds": round(seconds, 1),
            }
            save_results(path, settings, results)
        if progress:
            progress.add(1)
    return {name: results[name] for name in runs}


def ratio(norms: list[float]) -> float:
    """The first hidden layer's gradient norm over the last hidden layer's: below 1 it vanishes
    towards the input (0 when the first layer gets no gradient at all)."""
    first, last = norms[0], norms[-2]
    return float(first / last) if last > 0 else float("nan")


def table(results: dict) -> str:
    lines = [
        f"{'activation/initializer':<24} {'first layer':>11} {'first/last at start':>19} {'after':>9} "
        f"{'first loss':>10} {'last loss':>9} {'val acc':>8} {'time':>6}"
    ]

    def shown(value: float) -> str:  # NaN: neither layer gets any gradient
        return "none" if math.isnan(value) else f"{value:.2e}"

    for name, r in results.items():
        lines.append(
            f"{name:<24} {r['gradients_at_start'][0]:>11.1e} {shown(ratio(r['gradients_at_start'])):>19} "
            f"{shown(ratio(r['gradients_after'])):>9} "
            f"{r['loss'][0]:>10.4f} {r['loss'][-1]:>9.4f} {r['val_accuracy'][-1]:>8.3f} {r['seconds']:>5.0f}s"
        )
    return "\n".join(lines)
