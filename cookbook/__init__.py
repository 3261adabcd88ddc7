"""keras-cookbook's harness: everything around the pages in ``recipes/`` (which need none of it).

It lists the recipes (``registry``, read without importing them), loads their data, trains,
evaluates and inspects them, and is the ``cookbook`` command (``cookbook.cli``; ``python -m cookbook``).
The public surface, imported on first use so that ``import cookbook`` does not import Keras: the
backend must be chosen first, and unless Keras is already imported the first name taken from here
chooses it as the command line does (``KERAS_BACKEND``, else keras.json's when installed, else the
first installed; ``cookbook.backend.select_backend``)::

    from cookbook import load_dataset, load_model, load_recipe, registry, train, evaluate
    from cookbook import compile_model, data_overrides, compare_builds, copy_weights, describe_backend
    from cookbook import show_source, same_network, fit  # what every notebook shares

A notebook imports those from here, and a lesson's own tools from the room that holds them:
``cookbook.plots``, ``cookbook.attention``, ``cookbook.generative``, ``cookbook.judging`` (the
independent judge of generated images), ``cookbook.experiments.*``,
``cookbook.data`` (the generators), ``cookbook.inspection`` (shape arithmetic, the backends' probe),
``cookbook.kinds`` (segmentation scores), ``cookbook.models`` (a model file's size, a model's zeros)
and ``cookbook.cli`` (a command run in place); never a
name that starts with ``_`` (tests/notebooks/test_notebooks.py checks it).
"""

import importlib
import sys

from cookbook.backend import select_backend

_PUBLIC = {
    "train": "cookbook.training",
    "evaluate": "cookbook.training",
    "load_model": "cookbook.models",
    "load_recipe": "cookbook.catalogue",
    "registry": "cookbook.catalogue",
    "load_dataset": "cookbook.data",
    "compile_model": "cookbook.training",
    "data_overrides": "cookbook.training",
    "compare_builds": "cookbook.inspection",
    "copy_weights": "cookbook.inspection",
    "describe_backend": "cookbook.backend",
    "show_source": "cookbook.notebook",
    "same_network": "cookbook.notebook",
    "fit": "cookbook.notebook",
}
NOTEBOOK_ROOMS = (
    "cookbook.plots",
    "cookbook.attention",
    "cookbook.generative",
    "cookbook.judging",
    "cookbook.experiments",
    "cookbook.data",
    "cookbook.inspection",
    "cookbook.training",
    "cookbook.kinds",
    "cookbook.models",
    "cookbook.cli",
)

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> object:
    if name in _PUBLIC:
        if "keras" not in sys.modules:  # choose the backend as the command line does, before Keras loads:
            select_backend()  # KERAS_BACKEND, else keras.json's (when installed), else the first installed
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value  # once: later look-ups find it without this hook
        return value
    raise AttributeError(f"module 'cookbook' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
