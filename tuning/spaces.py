"""What ``cookbook tune`` searches, per recipe.

Every recipe that has a validation score gets the learning rate (a third of, equal to, and
three times its own) and the batch size (half, equal to, and twice its own). Recipes listed in
``ARCHITECTURES`` also search their own settings. Every hyperparameter is named as in the
recipe's ``DEFAULTS`` (or ``learning_rate``, ``batch_size``), so that a trial's values are
``cookbook train`` options: ``--set hidden_units=64,32 --learning-rate 0.003``. A setting whose
default is a tuple (mlp's ``hidden_units``, cnn's ``filters``) is a string choice written as
``--set`` takes it, and read by the same parser. Every choice is a discrete ``hp.Choice`` or
``hp.Int`` with a step, so all four algorithms (grid search included) can walk the same space.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType
from typing import TYPE_CHECKING

from cookbook.catalogue import load_recipe
from cookbook.protocol import default_learning_rate
from cookbook.training import parse_values

if TYPE_CHECKING:
    import keras_tuner


def _mlp(hp: keras_tuner.HyperParameters) -> dict:
    # A first hidden layer of 32 to 256 units, 1 to 3 layers, each next one half as wide
    networks = [
        ",".join(str(max(width // 2**i, 4)) for i in range(depth))
        for width in (32, 64, 128, 256)
        for depth in (1, 2, 3)
    ]
    return {"hidden_units": hp.Choice("hidden_units", networks)}


def _cnn(hp: keras_tuner.HyperParameters) -> dict:
    return {
        "filters": hp.Choice("filters", ["16,32", "32,64", "64,128"]),  # the second stage doubles the first
        "pooling": hp.Choice("pooling", ["max", "average"]),
        "head": hp.Choice("head", ["flatten", "global_average"]),
        "dropout": hp.Choice("dropout", [0.0, 0.3, 0.5]),
    }


def _recurrent(hp: keras_tuner.HyperParameters) -> dict:
    return {"units": hp.Choice("units", [32, 64, 128]), "dropout": hp.Choice("dropout", [0.0, 0.1, 0.3])}


ARCHITECTURES = {"mlp": _mlp, "cnn": _cnn, "simple_rnn": _recurrent, "lstm": _recurrent, "gru": _recurrent}


def _around(value: float, factors: Iterable[float]) -> list:
    return sorted({float(f"{value * factor:.3g}") for factor in factors})


def training(hp: keras_tuner.HyperParameters, recipe: ModuleType) -> dict:
    """The learning rate and batch size to train a trial with, around the recipe's own."""
    batch = recipe.TASK["batch_size"]
    return {
        "learning_rate": hp.Choice("learning_rate", _around(default_learning_rate(recipe), (1 / 3, 1, 3))),
        "batch_size": hp.Choice("batch_size", sorted({max(batch // 2, 1), batch, batch * 2})),
    }


def architecture(hp: keras_tuner.HyperParameters, name: str) -> dict:
    """The recipe's own settings for this trial, as ``--set`` would give them (none for a recipe
    without a space here)."""
    space = ARCHITECTURES.get(name)
    return parse_values(space(hp), load_recipe(name).DEFAULTS) if space else {}
