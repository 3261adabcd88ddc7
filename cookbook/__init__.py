"""keras-cookbook's harness: everything around the pages in ``recipes/`` (which need none of it).

It lists the recipes (``registry``, read without importing them), loads their data, trains,
evaluates and inspects them, and is the ``cookbook`` command (``cookbook.cli``; ``python -m cookbook``).
The public surface, imported on first use so that ``import cookbook`` does not import Keras (the
backend must be chosen first, ``cookbook.backend.select_backend``)::

    from cookbook import load_dataset, load_model, load_recipe, registry, train, evaluate
"""

import importlib

_PUBLIC = {
    "train": "cookbook.training",
    "evaluate": "cookbook.training",
    "load_model": "cookbook.models",
    "load_recipe": "cookbook.catalogue",
    "registry": "cookbook.catalogue",
    "load_dataset": "cookbook.data",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value  # once: later look-ups find it without this hook
        return value
    raise AttributeError(f"module 'cookbook' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
