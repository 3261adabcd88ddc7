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


# In the matrix (tests/run_matrix.py) each notebook's smoke run goes to one backend's processes,
# so that every notebook runs and every backend runs some: running all eleven on all three backends
# cost 1,208 s of the matrix's 3,997 s of CPU (JAX alone 574 s: its compiles), past the half hour CI
# has. What each page does on each backend is checked elsewhere on all three: the contract (both
# builds, a short fit), the page's example run from the page alone (tests/recipes/test_examples.py),
# and notebook 09 trains on every backend itself. A notebook's own code is the harness's calls.
# The split below (measured smoke seconds, TF / JAX / torch, in brackets) evens out the backends.
# COOKBOOK_NOTEBOOKS_EVERY_BACKEND=1 runs every notebook on every backend; outside the matrix (a
# plain pytest) every notebook runs on the backend at hand.
NOTEBOOK_BACKEND = {
    "01_feedforward_networks": "jax",  # (18 / 31 / 15)
    "02_convolutions": "jax",  # (14 / 29 / 15)
    "03_deeper_convolutions": "torch",  # (31 / 66 / 23)
    "04_recurrent_networks": "tensorflow",  # (24 / 44 / 14)
    "05_attention": "torch",  # (53 / 79 / 22)
    "06_generative": "tensorflow",  # (32 / 56 / 19)
    "07_compression": "tensorflow",  # (43 / 53 / 29)
    "08_hyperparameter_search": "tensorflow",  # (32 / 41 / 30)
    "09_backends_gpus_and_precision": "tensorflow",  # (37 / 49 / 63): trains on every backend itself
    "10_mixing_sequential_and_functional": "jax",  # (20 / 31 / 17)
    "11_design_choices": "torch",  # (58 / 90 / 21)
}


def _smoke_runs_here(path: Path) -> bool:
    listed = [name for name in os.environ.get("COOKBOOK_MATRIX_BACKENDS", "").split(",") if name]
    if not listed or os.environ.get("COOKBOOK_NOTEBOOKS_EVERY_BACKEND") == "1":
        return True
    wanted = NOTEBOOK_BACKEND.get(path.stem, "torch")
    return keras.backend.backend() == (wanted if wanted in listed else listed[0])


@pytest.mark.once  # the table above
def test_every_notebook_has_a_backend_in_the_matrix():
    assert set(NOTEBOOK_BACKEND) == {path.stem for path in NOTEBOOKS}
    assert set(NOTEBOOK_BACKEND.values()) == {"tensorflow", "jax", "torch"}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_smoke_mode(path, tmp_path, monkeypatch):
    if not _smoke_runs_here(path):
        pytest.skip(f"the matrix runs {path.stem} on {NOTEBOOK_BACKEND.get(path.stem, 'torch')}")
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
