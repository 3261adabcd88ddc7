"""`cookbook compare-clipping`: exploding gradients, and the one line that tames them.

A ReLU ``SimpleRNN`` whose recurrent kernel starts as an orthogonal matrix scaled by 1.5 (by
default) multiplies its state by more than 1 at every step, so over 50 steps of the adding
problem (``cookbook.data.make_adding``: add the two marked numbers of a sequence) the
gradient grows by orders of magnitude. Trained with SGD (momentum 0.9) three times from the
same start: without clipping, one step lands on weights whose loss overflows to NaN, and
``TerminateOnNaN`` stops the run (recorded as diverged); with ``clipnorm`` (each weight's
gradient scaled to norm at most 1) or ``global_clipnorm`` (all gradients together) every
step has a bounded length, and the network trains. The gradient's global norm on one fixed
batch is measured every few steps (``cookbook.inspection.gradients``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cookbook.data import make_adding
from cookbook.errors import CookbookError
from cookbook.experiments import load_results, save_results
from cookbook.inspection import gradients

if TYPE_CHECKING:
    import keras

CLIPPINGS = {"none": {}, "clipnorm": {"clipnorm": 1.0}, "global_clipnorm": {"global_clipnorm": 1.0}}


def _network(length: int, units: int, gain: float) -> keras.Sequential:
    import keras

    return keras.Sequential(
        [
            keras.Input((length, 2)),  # (batch, time, [value, marker])
            keras.layers.SimpleRNN(
                units, activation="relu", recurrent_initializer=keras.initializers.Orthogonal(gain=gain)
            ),
            keras.layers.Dense(1, dtype="float32"),  # (batch, 1): the sum
        ],
        name="exploding_rnn",
    )


def _gradient_trace(
    probe: tuple[np.ndarray, np.ndarray], every: int, norms: list
) -> keras.callbacks.Callback:
    """A callback: the global gradient norm on ``probe`` before the first step and every ``every`` steps."""
    import keras

    loss = keras.losses.MeanSquaredError()

    class Trace(keras.callbacks.Callback):
        def _measure(self, step: int) -> None:
            total = math.sqrt(sum(float(np.sum(np.square(g))) for g in gradients(self.model, *probe, loss)))
            norms.append([step, total if math.isfinite(total) else None])

        def on_train_begin(self, logs: dict | None = None) -> None:
            self.step = 0
            self._measure(0)

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self.step += 1
            if self.step % every == 0:
                self._measure(self.step)

    return Trace()


def compare_clipping(
    clippings: Sequence[str] = tuple(CLIPPINGS),
    length: int = 50,
    units: int = 64,
    gain: float = 1.5,
    learning_rate: float = 0.01,
    epochs: int = 5,
    train_size: int = 4000,
    seed: int = 0,
    out: str | Path | None = None,
    verbose: bool = True,
) -> dict:
    """``{"none": {"diverged": True, "loss": [...], "gradient_norms": [[step, norm], ...], ...}, ...}``.

    With ``out``, results.json is rewritten after every run and a rerun with the same settings
    measures only the runs not yet finished."""
    import keras

    for name in clippings:
        if name not in CLIPPINGS:
            raise CookbookError(f"unknown clipping {name!r}; valid: {', '.join(CLIPPINGS)}")
    if length < 2 or units < 1 or epochs < 1 or train_size < 64 or gain <= 0 or learning_rate <= 0:
        raise CookbookError(
            "--length must be at least 2, --units and --epochs at least 1, --train-size at least 64, "
            "--gain and --learning-rate above 0"
        )
    settings = {
        "length": length,
        "units": units,
        "gain": gain,
        "learning_rate": learning_rate,
        "epochs": epochs,
        "train_size": train_size,
        "seed": seed,
        "backend": keras.backend.backend(),
    }
    path, results = load_results(out, settings)
    x, y = make_adding(train_size + 1000, length, seed=seed)
    probe = x[:256], y[:256]
    progress = keras.utils.Progbar(len(clippings), unit_name="run") if verbose else None
    for name in clippings:
        if name not in results:
            keras.utils.set_random_seed(seed)
            model = _network(length, units, gain)
            optimizer = keras.optimizers.SGD(learning_rate, momentum=0.9, **CLIPPINGS[name])
            model.compile(optimizer=optimizer, loss="mse")
            norms: list = []
            history = model.fit(
                x[:train_size],
                y[:train_size],
                epochs=epochs,
                batch_size=32,
                verbose=0,
                callbacks=[keras.callbacks.TerminateOnNaN(), _gradient_trace(probe, 25, norms)],
            ).history
            losses = [float(v) for v in history["loss"]]
            diverged = not all(math.isfinite(v) for v in losses)
            error = None
            if not diverged:
                predictions = model.predict(x[train_size:], batch_size=256, verbose=0)[:, 0]
                error = float(np.mean((predictions - y[train_size:]) ** 2))
            results[name] = {
                "diverged": diverged,
                "loss": [v if math.isfinite(v) else None for v in losses],
                "gradient_norms": norms,
                "test_mse": error,
            }
            save_results(path, settings, results)
        if progress:
            progress.add(1)
    return {name: results[name] for name in clippings}


def table(results: dict) -> str:
    lines = [
        f"{'clipping':<16} {'gradient at start':>17} {'largest':>10} {'epochs':>6} {'last loss':>9} {'test mse':>8}"
    ]
    for name, r in results.items():
        finite = [norm for _, norm in r["gradient_norms"] if norm is not None]
        last = "NaN" if r["diverged"] else f"{r['loss'][-1]:.4f}"
        error = "-" if r["test_mse"] is None else f"{r['test_mse']:.4f}"
        start = r["gradient_norms"][0][1]
        lines.append(
            f"{name:<16} {start if start is None else f'{start:.3g}':>17} {max(finite, default=0):>10.3g} "
            f"{len(r['loss']):>6} {last:>9} {error:>8}"
        )
    return "\n".join(lines)
