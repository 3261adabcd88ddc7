"""Each page's "use it on your data" example, run as a reader runs it: the page copied alone into an
empty folder, in a Python with only ``keras``, ``numpy`` and this backend installed
(``tests/recipes/run_examples.py``)."""

from __future__ import annotations

import ast

import keras
import pytest
from conftest import RECIPES
from run_examples import example_code, run

from cookbook.catalogue import registry


@pytest.mark.slow
def test_each_page_copied_alone_runs_its_example(tmp_path):
    """The example builds for its own shapes, compiles with the page's ``compile_settings``, fits,
    saves, and reloads to the same predictions (its own assertion), in the reader's Python. (This
    is also every page's save-and-reload test on this backend.)"""
    report = run(RECIPES, tmp_path, keras.backend.backend())
    assert report["backend"] == keras.backend.backend()
    assert set(report["pages"]) == set(RECIPES)
    failed = {name: page["outcome"] for name, page in report["pages"].items() if page["outcome"] != "ok"}
    assert not failed, "\n\n".join(f"{name}: {outcome}" for name, outcome in failed.items())


def _calls(code: str) -> set[str]:
    """The names of the functions and methods ``code`` calls."""
    called = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call):
            function = node.func
            called.add(function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", ""))
    return called


@pytest.mark.once  # the pages' text
@pytest.mark.parametrize("name", RECIPES)
def test_each_example_builds_compiles_with_the_page_fits_saves_and_reloads(name):
    code = example_code(ast.get_docstring(ast.parse(registry()[name].path.read_text())))
    assert f"import {name}" in code, f"{name}: the example imports its page"
    assert {"build_functional", "compile_settings", "compile", "fit", "save", "load_model"} <= _calls(code), (
        name
    )
    assert code.index(f"import {name}") < code.index("load_model("), f"{name}: import the page before loading"


@pytest.mark.once  # text
def test_a_docstring_without_an_example_is_told_what_is_missing():
    with pytest.raises(ValueError, match="no paragraph beginning 'Use it on your data'"):
        example_code("A page.\n\nFacts.\n")
    with pytest.raises(ValueError, match="does not end in '::'"):
        example_code("Use it on your data.\n\n    import keras\n")
    assert (
        example_code("Use it on your data::\n\n    import keras\n\n    x = 1\nAfter.\n")
        == "import keras\n\nx = 1\n"
    )
