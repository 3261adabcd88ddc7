"""The notebooks: committed without outputs, and every one executed on this backend in
smoke mode (a real Jupyter kernel, the backend chosen by ``KERAS_BACKEND`` as a user would)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import keras
import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


@pytest.mark.once  # a folder listing
def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no notebook"


@pytest.mark.once  # the notebook's JSON, not run
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs_and_imports_its_recipes(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code), "strip the outputs"
    source = "\n".join(cell.source for cell in code)
    assert "from recipes" in source or "from cookbook" in source  # the project's modules, imported
    assert "def build_functional" not in source  # a recipe is imported, never pasted
    assert "SMOKE" in code[0].source and "KERAS_BACKEND" in code[0].source  # the setup cell comes first
    assert notebook.cells[0].cell_type == "markdown"  # why before how
    raw = json.loads(path.read_text())  # as committed: nbformat.read fills in what is missing
    assert all("id" in cell for cell in raw["cells"]), "every cell needs an id (nbformat 4.5)"


@pytest.mark.once  # the notebook's source, not run
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_imports_the_documented_surface_only(path):
    """What ``cookbook``'s docstring promises: the shared names from ``cookbook`` itself, a lesson's
    own tools from the rooms it lists, never a private name, and no notebook its own copy of a
    shared helper."""
    import ast

    import cookbook

    notebook = nbformat.read(path, as_version=4)
    found = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "cookbook":
                found += [(node.module, alias.name) for alias in node.names]
            elif isinstance(node, ast.FunctionDef):
                assert node.name not in cookbook.__all__, f"{node.name} is cookbook's: import it"
    assert found, "the notebook uses nothing of the harness"
    for module, name in found:
        assert not name.startswith("_"), f"from {module} import {name}: a private name"
        if name in cookbook.__all__:
            assert module == "cookbook", f"from {module} import {name}: `from cookbook import {name}`"
        else:
            rooms = cookbook.NOTEBOOK_ROOMS
            assert module in rooms or module.startswith(tuple(f"{room}." for room in rooms)), (
                f"{module} is not a room notebooks use"
            )


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_smoke_mode(path, tmp_path, monkeypatch):
    monkeypatch.setenv("COOKBOOK_SMOKE", "1")
    monkeypatch.setenv("COOKBOOK_RUNS", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    assert os.environ["KERAS_BACKEND"] == keras.backend.backend()  # the kernel inherits this backend
    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    print(f"{path.name}: {time.perf_counter() - started:.0f} s on {keras.backend.backend()}")
    first_output = "".join(output.get("text", "") for output in notebook.cells[2].outputs)
    assert f"backend {keras.backend.backend()}" in first_output  # it really ran on this backend
    assert any(list(tmp_path.rglob("*.png")))  # and drew its pictures
