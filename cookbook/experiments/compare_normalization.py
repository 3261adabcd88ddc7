"""`cookbook compare-normalization`: what batch norm and layer norm buy a deep plain network.

Two deep networks without shortcuts, built from the recipes' own pages: the ``mlp`` with ten
hidden layers of 128 units, and the ``cnn`` as eight 3x3 convolutions of 32 filters at the
digits' full 8x8 (no pooling, no shift, no dropout, so that depth is the only difficulty). Each
is trained with Adam from the same start without normalisation, with ``BatchNormalization`` and
with ``LayerNormalization`` between every layer and its ReLU (the recipes' ``normalization``
setting), at two learning rates, the recipes' 1e-3 and ten times that.

The lesson it is built to show: at the higher rate the plain network and the layer-normed one
collapse to a constant answer, while batch norm keeps every layer's inputs at one scale and
trains. It also shows batch norm's cost: at inference it uses moving averages of the batch
statistics (momentum 0.99), which lag behind weights that change fast. So the validation
accuracy is measured twice for batch norm, with the moving averages (Keras' inference mode,
what ``predict`` and a saved model use) and with each validation batch's own statistics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cookbook.catalogue import load_recipe
from cookbook.data import load_dataset
from cookbook.errors import CookbookError
from cookbook.experiments import fit_until_nan, load_results, save_results
from cookbook.training import data_overrides

if TYPE_CHECKING:
    import keras

# The deep plain networks, as settings of the recipes' pages.
NETWORKS = {
    "mlp": {"hidden_units": (128,) * 10},
    "cnn": {"filters": (32,) * 4, "pooling": "none", "shift": 0, "dropout": 0.0},  # 8 convolutions
}
NORMALIZATIONS = ("none", "batch", "layer")


def _batch_statistics_accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray, batch_size: int) -> float:
    """Accuracy when every batch norm layer normalises with the batch's own mean and variance
    (training mode), not its moving averages. It runs after training; the averages it moves are
    not used again."""
    import keras

    predictions = [
        keras.ops.convert_to_numpy(model(x[i : i + batch_size], training=True))
        for i in range(0, len(x), batch_size)
    ]
    return float(np.mean(np.concatenate(predictions).argmax(-1) == y))


def compare_normalization(
    networks: Sequence[str] = tuple(NETWORKS),
    normalizations: Sequence[str] = NORMALIZATIONS,
    learning_rates: Sequence[float] = (1e-3, 1e-2),
    epochs: int = 12,
    batch_size: int = 32,
    seed: int = 0,
    out: str | Path | None = None,
    verbose: bool = True,
) -> dict:
    """``{"cnn/batch/0.01": {"loss": [...], "val_accuracy": [...], "test_accuracy": 0.95,
    "val_accuracy_batch_statistics": 0.97 (batch norm only), "diverged": False, ...}, ...}``.

    With ``out``, results.json is rewritten after every run and a rerun with the same settings
    measures only the runs not yet finished."""
    import keras

    for name in networks:
        if name not in NETWORKS:
            raise CookbookError(f"unknown network {name!r}; valid: {', '.join(NETWORKS)}")
    for name in normalizations:
        if name not in NORMALIZATIONS:
            raise CookbookError(f"unknown normalization {name!r}; valid: {', '.join(NORMALIZATIONS)}")
    if not learning_rates or min(learning_rates) <= 0 or epochs < 1 or batch_size < 1:
        raise CookbookError("--learning-rates must be above 0, --epochs and --batch-size at least 1")
    data = load_dataset("digits")
    settings = {"epochs": epochs, "batch_size": batch_size, "seed": seed, "backend": keras.backend.backend()}
    path, results = load_results(out, settings)
    runs = [(n, norm, rate) for n in networks for norm in normalizations for rate in learning_rates]
    progress = keras.utils.Progbar(len(runs), unit_name="run") if verbose else None
    for network, normalization, rate in runs:
        name = f"{network}/{normalization}/{rate:g}"
        if name not in results:
            recipe = load_recipe(network)
            keras.utils.set_random_seed(seed)
            model = recipe.build_functional(
                normalization=normalization, **NETWORKS[network], **data_overrides(recipe, data)
            )
            model.compile(
                optimizer=keras.optimizers.Adam(rate),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
            run = fit_until_nan(model, data, epochs, batch_size)
            diverged = run["diverged"]
            predicted = model.predict(data.x_test, batch_size=256, verbose=0).argmax(-1)
            results[name] = {
                "network": network,
                "normalization": normalization,
                "learning_rate": rate,
                "diverged": diverged,
                "loss": run["loss"],
                "val_accuracy": run.get("val_accuracy", []),
                "test_accuracy": None if diverged else float(np.mean(predicted == data.y_test)),
                "parameters": model.count_params(),
                "seconds": run["seconds"],
            }
            if normalization == "batch" and not diverged:
                results[name]["val_accuracy_batch_statistics"] = _batch_statistics_accuracy(
                    model, data.x_val, data.y_val, batch_size
                )
            save_results(path, settings, results)
        if progress:
            progress.add(1)
    return {f"{n}/{norm}/{rate:g}": results[f"{n}/{norm}/{rate:g}"] for n, norm, rate in runs}


def table(results: dict) -> str:
    lines = [
        f"{'network/normalization/rate':<26} {'first loss':>10} {'last loss':>9} {'val acc':>7} "
        f"{'(batch stats)':>13} {'test acc':>8} {'time':>6}"
    ]
    for name, r in results.items():
        first = math.nan if r["loss"][0] is None else r["loss"][0]
        last = "NaN" if r["diverged"] else f"{r['loss'][-1]:.4f}"
        accuracy = r["val_accuracy"][-1] if r["val_accuracy"] else math.nan
        statistics = r.get("val_accuracy_batch_statistics")
        test = "-" if r["test_accuracy"] is None else f"{r['test_accuracy']:.3f}"
        lines.append(
            f"{name:<26} {first:>10.4f} {last:>9} {accuracy:>7.3f} "
            f"{'' if statistics is None else f'{statistics:.3f}':>13} {test:>8} {r['seconds']:>5.1f}s"
        )
    return "\n".join(lines)
