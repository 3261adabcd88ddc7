"""`cookbook compare-rnn`: which recurrent cells still remember as sequences grow.

Every cell learns the adding problem (see ``make_adding``): add the two numbers that
carry a marker, one in each half of the sequence. The first must be held across up
to ``length - 1`` steps of distracting numbers. A SimpleRNN learns through a product
of one Jacobian per step; over long gaps that product vanishes, and the network falls
back to answering the mean (error 1/6, "solved" ~ 8 %). The gated cells (LSTM, GRU)
carry the number in a state updated by addition and keep solving it.

Each race takes the recipe's own network, swaps its softmax head for one linear
output (the answer is a number), and trains it with the same budget: Adam at 1e-2
with cosine decay and gradients clipped to norm 1 - the usual guard for recurrent
nets, applied to every cell alike. "Solved" is the fraction of test sequences
answered within 0.04, the criterion of the original LSTM paper.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cookbook.catalogue import load_recipe
from cookbook.data import make_adding
from cookbook.errors import CookbookError
from cookbook.experiments import load_results, save_results

if TYPE_CHECKING:
    import keras

TOLERANCE = 0.04  # an answer this close counts as solved
GUESS_SOLVED = 1 - (1 - TOLERANCE) ** 2  # always answering 1.0: P(|sum - 1| < 0.04)


def cell_settings(units: int) -> dict[str, dict]:
    """Each recipe at the same width, without dropout: a fair race."""
    return {
        "simple_rnn": {"units": units, "dropout": 0.0},
        "jordan_rnn": {"hidden_units": units, "output_units": units},
        "lstm": {"units": units, "dropout": 0.0},
        "gru": {"units": units, "dropout": 0.0},
        "bidirectional": {"units": units, "dropout": 0.0},
    }


CELLS = tuple(cell_settings(1))


def _epoch_timer(seconds: list) -> keras.callbacks.LambdaCallback:
    """A callback appending each epoch's wall time to ``seconds``."""
    import keras

    started = {}
    return keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: started.update(at=time.perf_counter()),
        on_epoch_end=lambda epoch, logs: seconds.append(time.perf_counter() - started["at"]),
    )


def race(cell: str, length: int, units: int, epochs: int, train_size: int, test_size: int, seed: int) -> dict:
    """Train one cell on the adding problem at one length: solved fraction, error, ms per step."""
    import keras

    recipe = load_recipe(cell)
    x, y = make_adding(train_size + test_size, length, seed=seed)
    keras.utils.set_random_seed(seed)
    classifier = recipe.build_functional(input_shape=(length, 2), num_classes=2, **cell_settings(units)[cell])
    summary = classifier.layers[-1].input  # what the softmax head read: the recurrent summary
    answer = keras.layers.Dense(1, dtype="float32", name="answer")(summary)  # (batch, 1)
    model = keras.Model(classifier.inputs, answer, name=f"{cell}_adding")
    batch_size = 64
    steps = math.ceil(train_size / batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(1e-2, decay_steps=epochs * steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=1.0), loss="mse")
    seconds: list[float] = []
    model.fit(
        x[:train_size],
        y[:train_size],
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
        callbacks=[_epoch_timer(seconds)],
    )
    error = model.predict(x[train_size:], batch_size=256, verbose=0)[:, 0] - y[train_size:]
    warm = seconds[1:] or seconds  # the first epoch pays for compilation
    return {
        "solved": float(np.mean(np.abs(error) < TOLERANCE)),
        "mse": float(np.mean(error**2)),
        "step_ms": 1000 * float(np.median(warm)) / steps,
    }


def compare_rnns(
    lengths: Sequence[int] = (25, 50, 100, 200),
    cells: Sequence[str] = CELLS,
    units: int = 32,
    epochs: int = 10,
    train_size: int = 10_000,
    test_size: int = 1000,
    seed: int = 0,
    out: str | Path | None = None,
    verbose: bool = True,
) -> dict:
    """Race the cells at every length: ``{cell: {length: {"solved", "mse", "step_ms"}}}``.

    With ``out``, results.json is rewritten after every race, and a rerun with the same
    settings skips the races already finished: an interrupted comparison loses nothing,
    and adding a length or a cell runs only the new races.
    """
    import keras

    unknown = [cell for cell in cells if cell not in CELLS]
    if unknown:
        raise CookbookError(f"unknown cell {unknown[0]!r}; choose from: {', '.join(CELLS)}")
    if not lengths or min(lengths) < 2:
        raise CookbookError(f"sequence lengths must be at least 2 (one marker per half); got {list(lengths)}")
    if units < 1 or epochs < 1 or train_size < 64 or test_size < 1:
        raise CookbookError("--units and --epochs must be at least 1, --train-size at least 64")
    settings = {
        "task": "adding",
        "units": units,
        "epochs": epochs,
        "train_size": train_size,
        "test_size": test_size,
        "seed": seed,
        "backend": keras.backend.backend(),
    }
    path, results = load_results(out, settings)
    progress = keras.utils.Progbar(len(cells) * len(lengths), unit_name="race") if verbose else None
    for length in lengths:
        for cell in cells:
            if str(length) not in results.get(cell, {}):
                result = race(cell, length, units, epochs, train_size, test_size, seed)
                results.setdefault(cell, {})[str(length)] = result
                save_results(path, settings, results)
            if progress:
                progress.add(1)
    return {cell: {str(length): results[cell][str(length)] for length in lengths} for cell in cells}


def table(results: dict) -> str:
    """Solved fraction, mean squared error and ms per training step, per cell and length."""
    lengths = list(next(iter(results.values())))
    lines = [f"{'cell':<14}" + "".join(f"{'T=' + n:>24}" for n in lengths)]
    for cell, by_length in results.items():
        cells = (f"{r['solved']:.3f} {r['mse']:.4f} {r['step_ms']:5.1f}ms" for r in by_length.values())
        lines.append(f"{cell:<14}" + "".join(f"{c:>24}" for c in cells))
    return "\n".join(lines)
