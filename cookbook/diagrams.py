"""A picture of each build: ``keras.utils.model_to_dot`` (pydot, drawn by Graphviz's ``dot``) for the
Sequential and the Functional model of a recipe, side by side on its page of the site, with the
shapes shown. ``cookbook diagram`` writes them, and ``diagrams.json`` beside them: per recipe and
build, the files and the parameter count."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import shutil
from pathlib import Path
from types import ModuleType

from cookbook.errors import CookbookError

FORMATS = ("svg", "png")
INDEX = "diagrams.json"
DPI = 72  # Graphviz's points at screen size: an SVG as large as its text, a PNG that fits a page


def check_graphviz() -> None:
    """One line, not a traceback, on a machine without pydot or Graphviz."""
    missing = []
    if importlib.util.find_spec("pydot") is None:
        missing.append("pydot (pip install pydot, or the docs extra)")
    if shutil.which("dot") is None:
        missing.append("Graphviz's `dot` program (apt-get install graphviz, brew install graphviz)")
    if missing:
        raise CookbookError(f"drawing a diagram needs {' and '.join(missing)}")


def draw(recipe: ModuleType, out: Path, image_format: str = "svg") -> dict:
    """Write a diagram of each network of each build of ``recipe`` into ``out``; return, per build,
    its files and its parameter count."""
    import keras

    from cookbook.inspection import networks
    from cookbook.training import build

    name = recipe.__name__.split(".")[-1]
    drawn = {}
    for api in ("sequential", "functional"):
        keras.backend.clear_session()  # the layers' names count from zero in each build: conv2d, conv2d_1
        model = build(recipe, api)
        files = []
        for part, network in networks(recipe, model).items():
            path = out / (
                f"{name}.{api}.{image_format}" if part == "model" else f"{name}.{api}.{part}.{image_format}"
            )
            graph = keras.utils.model_to_dot(network, show_shapes=True, show_layer_names=True, dpi=DPI)
            _write(graph, path, image_format)
            files.append({"network": part, "file": path.name})
        drawn[api] = {"parameters": model.count_params(), "files": files}
    return drawn


def _write(graph: object, path: Path, image_format: str) -> None:
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # pydot prints dot's failure before raising
            graph.write(str(path), format=image_format)
    except AssertionError:
        # Graphviz's orthogonal edge router (Keras' default) trips an assertion on some graphs
        # (2.43's maze.c: chkSgraph; the Functional transformer_classifier): curved edges instead.
        graph.set("splines", "spline")
        graph.write(str(path), format=image_format)


def draw_all(recipes: dict[str, ModuleType], out: Path, image_format: str = "svg") -> dict:
    """``draw`` each recipe into ``out`` and merge what was drawn into ``out/diagrams.json``."""
    check_graphviz()
    if image_format not in FORMATS:
        raise CookbookError(f"unknown format {image_format!r}; choose one of: {', '.join(FORMATS)}")
    out.mkdir(parents=True, exist_ok=True)
    index_path = out / INDEX
    index = json.loads(index_path.read_text()) if index_path.exists() else {}
    for name, recipe in recipes.items():
        index[name] = draw(recipe, out, image_format)
    index_path.write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    return index
