"""`cookbook compare-rnn`: which recurrent cells still remember as sequences grow.

Every cell reads sequences of random symbols and must name the *first* one (see
``make_recall``): a dependency ``length - 1`` steps long. The textbook expectation is
that a SimpleRNN's gradient through that many tanh steps shrinks geometrically, so it
falls to chance as the length grows, while the gated cells (LSTM, GRU) carry the
symbol in their additive state.

What a small CPU budget shows is subtler, and the race is here to let you see it.
Keras starts a SimpleRNN's recurrent matrix orthogonal, which keeps its gradient alive
for tens of steps, and an LSTM's forget gate near sigmoid(1) = 0.73, so an *untrained*
LSTM forgets faster than an untrained SimpleRNN: the gated cells must first learn to
hold, and until they do they sit at chance - a plateau that ends suddenly, after a
number of updates that varies with the seed. Give them more (``--epochs``,
``--train-size``) before concluding. The bidirectional LSTM has it easiest: its
backward reader sees the first symbol last.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from recipes import load_recipe
from recipes._data import make_recall
from recipes._errors import CookbookError
from recipes._train import compile_model

SYMBOLS = 8


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


def _epoch_timer(seconds: list):
    """A callback appending each epoch's wall time to ``seconds``."""
    import keras

    started = {}
    return keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: started.update(at=time.perf_counter()),
        on_epoch_end=lambda epoch, logs: seconds.append(time.perf_counter() - started["at"]),
    )


def race(cell: str, length: int, units: int, epochs: int, train_size: int, test_size: int, seed: int) -> dict:
    """Train one cell on the recall task at one length: test accuracy and ms per step."""
    import keras

    recipe = load_recipe(cell)
    x, y = make_recall(train_size + test_size, length, SYMBOLS, seed=seed)
    keras.utils.set_random_seed(seed)
    model = recipe.build_functional(
        input_shape=(length, SYMBOLS), num_classes=SYMBOLS, **cell_settings(units)[cell]
    )
    batch_size = 64
    steps = math.ceil(train_size / batch_size)
    compile_model(model, recipe.TASK, total_steps=epochs * steps)
    seconds: list[float] = []
    model.fit(x[:train_size], y[:train_size], epochs=epochs, batch_size=batch_size, verbose=0,
              callbacks=[_epoch_timer(seconds)])  # fmt: skip
    accuracy = model.evaluate(x[train_size:], y[train_size:], verbose=0, return_dict=True)["accuracy"]
    warm = seconds[1:] or seconds  # the first epoch pays for compilation
    return {"accuracy": float(accuracy), "step_ms": 1000 * float(np.median(warm)) / steps}


def compare_rnns(
    lengths=(10, 25, 50, 100), cells=CELLS, units: int = 32, epochs: int = 15,
    train_size: int = 2000, test_size: int = 1000, seed: int = 0, out: str | Path | None = None,
    verbose: bool = True,
) -> dict:  # fmt: skip
    """Race the cells at every length: ``{cell: {length: {"accuracy", "step_ms"}}}``.

    With ``out``, results.json is rewritten after every race, and a rerun with the same
    settings skips the races already finished: an interrupted comparison loses nothing,
    and adding a length or a cell runs only the new races.
    """
    import keras

    unknown = [cell for cell in cells if cell not in CELLS]
    if unknown:
        raise CookbookError(f"unknown cell {unknown[0]!r}; choose from: {', '.join(CELLS)}")
    if not lengths or min(lengths) < 1:
        raise CookbookError(f"sequence lengths must be at least 1; got {list(lengths)}")
    if units < 1 or epochs < 1 or train_size < 64 or test_size < 1:
        raise CookbookError("--units and --epochs must be at least 1, --train-size at least 64")
    settings = {"units": units, "epochs": epochs, "train_size": train_size, "test_size": test_size,
                "seed": seed, "backend": keras.backend.backend()}  # fmt: skip
    path = Path(out) / "results.json" if out else None
    results: dict = {}
    if path and path.exists():
        saved = json.loads(path.read_text())
        if saved.get("settings") == settings:
            results = saved["results"]
    progress = keras.utils.Progbar(len(cells) * len(lengths), unit_name="race") if verbose else None
    for length in lengths:
        for cell in cells:
            if str(length) not in results.get(cell, {}):
                result = race(cell, length, units, epochs, train_size, test_size, seed)
                results.setdefault(cell, {})[str(length)] = result
                if path:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(json.dumps({"settings": settings, "results": results}, indent=2) + "\n")
            if progress:
                progress.add(1)
    return {cell: {str(length): results[cell][str(length)] for length in lengths} for cell in cells}


def table(results: dict) -> str:
    """Accuracy (and ms per training step) per cell and length, as text."""
    lengths = list(next(iter(results.values())))
    lines = [f"{'cell':<14}" + "".join(f"{'T=' + n:>16}" for n in lengths)]
    for cell, by_length in results.items():
        cells = (f"{r['accuracy']:.3f} {r['step_ms']:6.1f}ms" for r in by_length.values())
        lines.append(f"{cell:<14}" + "".join(f"{c:>16}" for c in cells))
    return "\n".join(lines)
