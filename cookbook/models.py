"""Loading a saved model: the one way every command (and a notebook) opens a ``.keras`` file; and
what a model file weighs (``file_sizes``, ``kernel_zeros``).

A ``.keras`` file is a zip of ``config.json`` (the layers, by class and module) and the weights.
Keras can rebuild a layer of a recipe's own (``cnn``'s ``RandomShift``) only once that recipe's
module has registered it, so the recipes the file names are imported first. ``safe_mode`` stays
on: a ``Lambda`` layer holds Python code that would run as the file is loaded. Every failure —
a missing, corrupt or unsafe file, or another recipe's — is one ``CookbookError`` line.

Keras is imported inside the functions: the caller selects the backend first.
"""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from cookbook.catalogue import load_recipe, registry
from cookbook.errors import UNSAFE_RISK, CookbookError


def model_file(path: str | Path) -> Path:
    """``path`` itself, or ``path/model.keras`` for a run folder."""
    path = Path(path)
    return path / "model.keras" if path.is_dir() else path


def run_record(path: str | Path) -> dict:
    """The ``metrics.json`` `cookbook train` wrote beside a model ({} when there is none)."""
    try:
        return json.loads((model_file(path).parent / "metrics.json").read_text())
    except (OSError, ValueError):
        return {}


def _config(path: Path) -> dict:
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))
    except zipfile.BadZipFile:
        raise CookbookError(f"{path} is not a Keras model file (a .keras zip archive)") from None
    except (KeyError, ValueError, OSError) as error:
        raise CookbookError(f"{path} is a damaged .keras file: {_first_line(error)}") from None


def _classes(config: Any) -> list[tuple[str | None, str]]:
    """Every (module, class name) the saved configuration rebuilds."""
    found = []
    if isinstance(config, dict):
        if "class_name" in config:
            found.append((config.get("module"), config["class_name"]))
        for value in config.values():
            found += _classes(value)
    elif isinstance(config, list):
        for value in config:
            found += _classes(value)
    return found


def recipes_in(path: str | Path) -> list[str]:
    """The recipes whose own layers or models the file holds, e.g. ``["cnn"]`` for a trained cnn."""
    known = registry()
    modules = {module for module, _ in _classes(_config(model_file(path))) if module}
    return sorted({module.split(".")[1] for module in modules if module.startswith("recipes.")} & set(known))


def recipe_of(path: str | Path) -> str:
    """The recipe that built the model at ``path``: the one whose layers the file holds, else the one
    the ``metrics.json`` beside it names; a one-line error when neither tells."""
    path = model_file(path)
    names = recipes_in(path) or [name for name in [run_record(path).get("recipe")] if name]
    if len(names) != 1:
        raise CookbookError(
            f"cannot tell which recipe {path} was built by: no metrics.json beside it names one"
        )
    return names[0]


def load_model(path: str | Path, recipe: str | None = None, unsafe: bool = False) -> Any:
    """Load a ``.keras`` file (or a run folder's ``model.keras``) as ``recipe``'s model.

    The file's own recipes are imported first, so that their layers are registered. ``recipe``
    names what the caller expects: a file of another recipe is refused. ``unsafe`` turns Keras'
    ``safe_mode`` off (a ``Lambda`` layer's code then runs as the file is loaded).
    """
    import keras

    path = model_file(path)
    if not path.is_file():
        hint = f"; train one with `cookbook train {recipe}`" if recipe else ""
        raise CookbookError(f"no model file {str(path)!r}{hint}")
    config = _config(path)
    names = recipes_in(path) or [name for name in [run_record(path).get("recipe")] if name]
    if recipe and names and recipe not in names:
        raise CookbookError(f"{path} holds a {' and '.join(names)} model, not a {recipe} model")
    lambdas = sorted({name for module, name in _classes(config) if name == "Lambda"})
    if lambdas and not unsafe:
        raise CookbookError(f"{path} holds a Lambda layer; {UNSAFE_RISK}: pass --unsafe to load it")
    for name in names:
        load_recipe(name)  # registers the recipe's layers
    try:
        return keras.saving.load_model(path, safe_mode=not unsafe)
    except Exception as error:  # noqa: BLE001 - a user's file can fail in any of Keras' ways
        if "safe_mode" in str(error):
            raise CookbookError(
                f"{path} holds Python code; {UNSAFE_RISK}: pass --unsafe to load it"
            ) from None
        raise CookbookError(f"cannot load {path}: {_first_line(error)}") from None


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return (lines[0] if lines else type(error).__name__)[:200]


def kernel_zeros(model: Any) -> dict:
    """``{"sparsity": share of zeros over all kernels, "layers": {layer: its kernel's share}}``:
    every weight named ``kernel`` (Dense, EinsumDense, convolutions), as the model computes with it."""
    import keras

    layers, zeros, total = {}, 0, 0
    for weight in model.weights:
        if weight.path.split("/")[-1] != "kernel":
            continue
        values = keras.ops.convert_to_numpy(weight)
        layer = weight.path.rsplit("/", 1)[0].removeprefix(f"{model.name}/")  # (a Sequential's path names it)
        layers[layer] = float(np.mean(values == 0))
        zeros, total = zeros + int(np.sum(values == 0)), total + values.size
    return {"sparsity": zeros / total if total else 0.0, "layers": layers}


def weight_bytes(model: Any) -> int:
    """The bytes ``model``'s variables hold as stored (int8 kernels, their scales, everything)."""
    import keras

    return sum(keras.ops.convert_to_numpy(w.value).nbytes for w in model.weights)


def agreement(reference: Any, candidate: Any, x: np.ndarray, batch_size: int = 256) -> float:
    """The share of rows of ``x`` on which both classifiers predict the same class."""
    expected = np.argmax(reference.predict(x, batch_size=batch_size, verbose=0), axis=-1)
    return float(
        np.mean(expected == np.argmax(candidate.predict(x, batch_size=batch_size, verbose=0), axis=-1))
    )


def uncompiled(model: Any) -> Any:
    """A copy of ``model`` as it would ship: its weights, no optimizer state to save beside them (a
    copy rebuilt from its config is not compiled; ``keras.models.clone_model`` would compile it)."""
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def saved_sizes(model: Any) -> dict:
    """``file_sizes`` of ``model`` saved as it would ship (``uncompiled``)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        uncompiled(model).save(Path(folder) / "model.keras")
        return file_sizes(Path(folder) / "model.keras")


def file_sizes(path: str | Path) -> dict:
    """A model file's bytes, and its bytes gzipped: a ``.keras`` archive stores its weights
    uncompressed, so zeros shrink only the compressed copy people download."""
    data = Path(path).read_bytes()
    return {"bytes": len(data), "zipped_bytes": len(gzip.compress(data, compresslevel=9, mtime=0))}
