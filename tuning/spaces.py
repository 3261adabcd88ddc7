"""What ``cookbook tune`` searches, per recipe.

Every recipe that has a validation score gets the learning rate (a third of, equal to, and
three times its own) and the batch size (half, equal to, and twice its own). Recipes listed in
``ARCHITECTURES`` also search their own settings, named as in their ``DEFAULTS``. Every
choice is a discrete ``hp.Choice`` or ``hp.Int`` with a step, so all four algorithms (grid
search included) can walk the same space.
"""

from __future__ import annotations


def _mlp(hp) -> dict:
    width = hp.Choice("width", [32, 64, 128, 256])  # the first hidden layer; each next one halves it
    depth = hp.Int("depth", 1, 3)
    return {"hidden_units": tuple(max(width // 2**i, 4) for i in range(depth))}


def _cnn(hp) -> dict:
    first = hp.Choice("filters", [16, 32, 64])  # the first stage; the second doubles it
    return {
        "filters": (first, 2 * first),
        "pooling": hp.Choice("pooling", ["max", "average"]),
        "head": hp.Choice("head", ["flatten", "global_average"]),
        "dropout": hp.Choice("dropout", [0.0, 0.3, 0.5]),
    }


def _recurrent(hp) -> dict:
    return {"units": hp.Choice("units", [32, 64, 128]), "dropout": hp.Choice("dropout", [0.0, 0.1, 0.3])}


ARCHITECTURES = {"mlp": _mlp, "cnn": _cnn, "simple_rnn": _recurrent, "lstm": _recurrent, "gru": _recurrent}


def _around(value: float, factors) -> list:
    return sorted({float(f"{value * factor:.3g}") for factor in factors})


def training(hp, task: dict) -> dict:
    """The learning rate and batch size to train a trial with, around the recipe's own."""
    batch = task["batch_size"]
    return {
        "learning_rate": hp.Choice("learning_rate", _around(task["learning_rate"], (1 / 3, 1, 3))),
        "batch_size": hp.Choice("batch_size", sorted({max(batch // 2, 1), batch, batch * 2})),
    }


def architecture(hp, name: str) -> dict:
    """The recipe's own settings for this trial (none for a recipe without a space here)."""
    space = ARCHITECTURES.get(name)
    return space(hp) if space else {}
