"""The cookbook's measured comparisons: RNN cells racing, ResNet depth, attention's cost per length,
and the design lessons (activations and initialisers, gradient clipping, optimizers and schedules,
normalisation, inductive bias).

Each writes ``results.json`` after every run, under the settings it was measured with, and a rerun
with the same settings measures only what is missing: an interrupted comparison loses nothing."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

    from cookbook.data import Dataset


def load_results(out: str | Path | None, settings: dict) -> tuple[Path | None, dict]:
    """``out/results.json`` (None without ``out``) and the results it holds if they were measured
    under ``settings``; else no results."""
    path = Path(out) / "results.json" if out else None
    if path and path.exists() and (saved := json.loads(path.read_text())).get("settings") == settings:
        return path, saved["results"]
    return path, {}


def save_results(path: Path | None, settings: dict, results: dict) -> None:
    """Rewrite ``path`` with ``results`` and their ``settings`` (nothing when ``path`` is None)."""
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"settings": settings, "results": results}, indent=2) + "\n")


def _finite(values: Iterable[float]) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in values]


def fit_until_nan(
    model: keras.Model,
    data: Dataset,
    epochs: int,
    batch_size: int,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> dict:
    """Fit ``model`` on ``data``'s training split, validated on its validation split, until the
    epochs are done or the loss becomes NaN (``TerminateOnNaN`` stops it). ``{"diverged": bool,
    "loss": [...], "val_loss": [...], "val_accuracy": [...], "seconds": 1.2}``, each curve with
    None where a value was not finite, so that the record is valid JSON."""
    import keras

    started = time.perf_counter()
    history = model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
        callbacks=[keras.callbacks.TerminateOnNaN(), *callbacks],
    ).history
    seconds = time.perf_counter() - started
    losses = [float(v) for v in history["loss"]]
    run = {
        "diverged": len(losses) < epochs or not all(math.isfinite(v) for v in losses),
        "loss": _finite(losses),
    }
    run |= {key: _finite(values) for key, values in history.items() if key.startswith("val_")}
    return run | {"seconds": round(seconds, 1)}
