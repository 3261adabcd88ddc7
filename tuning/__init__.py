"""Hyperparameter search over the recipes with keras-tuner: ``cookbook tune RECIPE``.

The search spaces live here, not in the recipe files (which import only Keras): ``spaces``
maps each recipe's ``DEFAULTS`` names, plus the learning rate and batch size, onto
keras-tuner's ``HyperParameters``; ``search`` builds every trial through the recipe's own
builders and keeps one keras-tuner project per recipe, API and backend.
"""

ALGORITHMS = ("random", "bayesian", "hyperband", "grid")  # keras-tuner's tuners, by `--algo`'s names
