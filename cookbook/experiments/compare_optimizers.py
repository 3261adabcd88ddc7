"""`cookbook compare-optimizers`: seven optimizers and three learning-rate schedules, each at its
own best learning rate.

An optimizer compared at one shared learning rate mostly measures whether that rate suits it:
SGD wants a rate a hundred times Adam's, Lion one a few times smaller. So each optimizer gets a
grid of five rates around its customary one (``OPTIMIZERS``, a factor of about 3 apart), and for
every schedule the rate whose final validation loss is lowest is the one reported; its test
accuracy is measured once, on data no choice was made on. The network is the digits ``mlp``
(two hidden layers), trained for a fixed budget of epochs from the same start every run.

The schedules (`cookbook.training.learning_rate_schedule`): constant; cosine, from the rate to
zero over the run; warm-up then cosine, rising from zero over the first tenth of the run. A run
whose loss becomes NaN is stopped by ``TerminateOnNaN`` and recorded as diverged.

What it should show is what careful comparisons report (Schmidt, Schneider and Hennig, 2021):
once each has its own rate, the adaptive optimizers are close to each other and a decaying
schedule helps every one of them; the grid's other rates, not the optimizer, cost the most.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cookbook.catalogue import load_recipe
from cookbook.data import load_dataset
from cookbook.errors import CookbookError
from cookbook.experiments import fit_until_nan, load_results, save_results
from cookbook.training import SCHEDULES, data_overrides, learning_rate_schedule

# name: (the Keras optimizer, its options, the learning rates tried)
OPTIMIZERS = {
    "sgd": ("sgd", {}, (0.03, 0.1, 0.3, 1.0, 3.0)),
    "momentum": ("sgd", {"momentum": 0.9}, (0.003, 0.01, 0.03, 0.1, 0.3)),
    "nesterov": ("sgd", {"momentum": 0.9, "nesterov": True}, (0.003, 0.01, 0.03, 0.1, 0.3)),
    "rmsprop": ("rmsprop", {}, (1e-3, 3e-3, 1e-2, 3e-2, 0.1)),
    "adam": ("adam", {}, (1e-3, 3e-3, 1e-2, 3e-2, 0.1)),
    "adamw": ("adamw", {"weight_decay": 0.004}, (1e-3, 3e-3, 1e-2, 3e-2, 0.1)),
    "lion": ("lion", {}, (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)),
}


def compare_optimizers(
    optimizers: Sequence[str] = tuple(OPTIMIZERS),
    schedules: Sequence[str] = SCHEDULES,
    epochs: int = 5,
    batch_size: int = 32,
    seed: int = 0,
    out: str | Path | None = None,
    verbose: bool = True,
) -> dict:
    """``{"adam/cosine/0.001": {"val_loss": [...], "loss": [...], "val_accuracy": [...],
    "test_accuracy": 0.96, "diverged": False, "seconds": 1.2, ...}, ...}``, one run per
    optimizer, schedule and learning rate of the optimizer's grid.

    With ``out``, results.json is rewritten after every run and a rerun with the same settings
    measures only the runs not yet finished."""
    import keras

    for name in optimizers:
        if name not in OPTIMIZERS:
            raise CookbookError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")
    for name in schedules:
        if name not in SCHEDULES:
            raise CookbookError(f"unknown schedule {name!r}; valid: {', '.join(SCHEDULES)}")
    if epochs < 1 or batch_size < 1:
        raise CookbookError("--epochs and --batch-size must be at least 1")
    mlp = load_recipe("mlp")
    data = load_dataset("digits", mlp.TASK["datasets"])
    settings = {"epochs": epochs, "batch_size": batch_size, "seed": seed, "backend": keras.backend.backend()}
    path, results = load_results(out, settings)
    total_steps = epochs * math.ceil(len(data.x_train) / batch_size)
    runs = [(o, s, rate) for o in optimizers for s in schedules for rate in OPTIMIZERS[o][2]]
    progress = keras.utils.Progbar(len(runs), unit_name="run") if verbose else None
    for optimizer_name, schedule, rate in runs:
        name = f"{optimizer_name}/{schedule}/{rate:g}"
        if name not in results:
            keras.utils.set_random_seed(seed)
            model = mlp.build_functional(**data_overrides(mlp, data))
            class_name, options, _ = OPTIMIZERS[optimizer_name]
            learning_rate = learning_rate_schedule(schedule, rate, total_steps)
            optimizer = keras.optimizers.get(
                {"class_name": class_name, "config": {"learning_rate": learning_rate, **options}}
            )
            model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            run = fit_until_nan(model, data, epochs, batch_size)
            accuracy = None
            if not run["diverged"]:
                predicted = model.predict(data.x_test, batch_size=256, verbose=0).argmax(-1)
                accuracy = float(np.mean(predicted == data.y_test))
            results[name] = {
                "optimizer": optimizer_name,
                "schedule": schedule,
                "learning_rate": rate,
                "diverged": run["diverged"],
                "loss": run["loss"],
                "val_loss": run.get("val_loss", []),
                "val_accuracy": run.get("val_accuracy", []),
                "test_accuracy": accuracy,
                "seconds": run["seconds"],
            }
            save_results(path, settings, results)
        if progress:
            progress.add(1)
    return {f"{o}/{s}/{rate:g}": results[f"{o}/{s}/{rate:g}"] for o, s, rate in runs}


def final_val_loss(run: dict) -> float:
    """The run's last validation loss; infinite when it diverged."""
    last = run["val_loss"][-1] if run["val_loss"] else None
    return math.inf if run["diverged"] or last is None else last


def best_runs(results: dict) -> dict:
    """``{"adam/cosine": the run of that optimizer and schedule with the lowest final validation
    loss}``, in the order the results hold them."""
    best: dict = {}
    for run in results.values():
        key = f"{run['optimizer']}/{run['schedule']}"
        if key not in best or final_val_loss(run) < final_val_loss(best[key]):
            best[key] = run
    return best


def table(results: dict) -> str:
    """Per optimizer and schedule: the best rate of its grid (* where that is the grid's edge), the
    final validation loss there and at the grid's worst rate, and the best rate's test accuracy."""
    lines = [
        f"{'optimizer/schedule':<22} {'best rate':>10} {'val loss':>8} {'grid worst':>10} "
        f"{'test acc':>8} {'time':>6}"
    ]
    for key, run in best_runs(results).items():
        grid = OPTIMIZERS[run["optimizer"]][2]
        edge = "*" if run["learning_rate"] in (grid[0], grid[-1]) else " "
        tried = [r for r in results.values() if f"{r['optimizer']}/{r['schedule']}" == key]
        worst = max(final_val_loss(r) for r in tried)
        worst_text = "diverged" if math.isinf(worst) else f"{worst:.4f}"
        accuracy = "-" if run["test_accuracy"] is None else f"{run['test_accuracy']:.3f}"
        best_loss = "diverged" if run["diverged"] else f"{final_val_loss(run):.4f}"
        lines.append(
            f"{key:<22} {run['learning_rate']:>9g}{edge} {best_loss:>8} {worst_text:>10} "
            f"{accuracy:>8} {run['seconds']:>5.1f}s"
        )
    return "\n".join(lines)
