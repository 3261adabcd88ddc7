"""The notebooks: stored executed in full mode, their outputs made from the code beside them
(``notebooks/refresh.py``), and every one executed again on this backend in smoke mode (a real
Jupyter kernel, the backend chosen by ``KERAS_BACKEND`` as a user would)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import keras
import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "notebooks"))
import refresh  # noqa: E402 - notebooks/refresh.py, which stores them executed


@pytest.mark.once  # a folder listing
def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no notebook"


@pytest.mark.once  # the notebook's JSON, not run
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_imports_its_recipes_and_opens_with_how_to_run_it(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    source = "\n".join(cell.source for cell in code)
    assert "from recipes" in source or "from cookbook" in source  # the project's modules, imported
    assert "def build_functional" not in source  # a recipe is imported, never pasted
    assert "SMOKE" in code[0].source and "KERAS_BACKEND" in code[0].source  # the setup cell comes first
    assert notebook.cells[0].cell_type == "markdown"  # why before how
    assert (
        'To run it: in a checkout of keras-cookbook, `pip install -e ".[jax,notebooks]"`'
        in notebook.cells[0].source
    )
    raw = json.loads(path.read_text())  # as committed: nbformat.read fills in what is missing
    assert all("id" in cell for cell in raw["cells"]), "every cell needs an id (nbformat 4.5)"


def _stored_minutes() -> float:
    """How long the last full refresh of every notebook took, from their metadata."""
    seconds = [
        nbformat.read(path, as_version=4).metadata.get("cookbook", {}).get("seconds", 0) for path in NOTEBOOKS
    ]
    return sum(seconds) / 60


@pytest.mark.once  # the notebook's JSON, not run
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_executed_in_full_from_its_current_code(path):
    """A code host and the site show the stored outputs: they must come from the code beside them."""
    notebook = nbformat.read(path, as_version=4)
    refresh_it = (
        f"refresh it: {refresh.COMMAND} {path.stem} (all {len(NOTEBOOKS)} took {_stored_minutes():.0f} min "
        "in full mode on a 2-core CPU, no GPU)"
    )
    stored = notebook.metadata.get("cookbook")
    assert stored, f"{path.name} is stored without outputs: {refresh_it}"
    assert stored["code_hash"] == refresh.code_hash(notebook), (
        f"{path.name}: its code changed since its outputs were stored; {refresh_it}"
    )
    assert stored["mode"] == "full" and stored["backend"] == refresh.named_backend(notebook)
    assert {"python", "keras", "numpy", stored["backend"]} <= set(stored["versions"])
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code), f"{path.name}: a code cell was not run; {refresh_it}"
    assert not any(output.get("output_type") == "error" for cell in code for output in cell.outputs)
    assert f"backend {stored['backend']}" in "".join(output.get("text", "") for output in code[0].outputs)
    assert not any("\r" in output.get("text", "") for cell in code for output in cell.outputs)  # settled
    blank = [cell.id for cell in code if "plt.show()" in cell.source and not _has_image(cell)]
    assert not blank, f"{path.name}: cells {blank} call plt.show() but hold no figure; {refresh_it}"


def _has_image(cell: nbformat.NotebookNode) -> bool:
    return any("image/png" in output.get("data", {}) for output in cell.outputs)


@pytest.mark.once  # the notebook's first cell, run without the project
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_outside_a_checkout_the_setup_cell_says_what_to_install_in_one_line(path, tmp_path):
    """A hosted Jupyter or a fresh kernel elsewhere: no `import recipes` traceback, one line instead
    (``-S``: a Python without site-packages, so neither cookbook nor Keras is there)."""
    setup = next(cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
    done = subprocess.run(
        [sys.executable, "-S", "-c", setup.source],
        cwd=tmp_path,
        env={"COOKBOOK_RUNS": str(tmp_path), "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        'this notebook needs keras-cookbook: in a checkout, pip install -e ".[jax,notebooks]", then open notebooks/ there'
    )


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


@pytest.mark.once  # matplotlib's state, in a process of its own
def test_a_harness_plot_leaves_a_notebooks_inline_backend_alone(tmp_path):
    """A notebook imports pyplot with Jupyter's inline backend; a harness plot drawn afterwards must not
    switch it to Agg, or every later ``plt.show()`` draws nothing (it did: a stored notebook lost a
    figure). A command, with no pyplot yet, still draws to files with Agg."""
    script = (
        "import matplotlib; matplotlib.use('svg'); import matplotlib.pyplot as plt\n"
        "from cookbook.plots import plot_curves\n"
        f"open({str(tmp_path / 'h.csv')!r}, 'w').write('epoch,loss,val_loss\\n0,2,2.5\\n1,1,1.5\\n')\n"
        f"plot_curves({str(tmp_path / 'h.csv')!r}, {str(tmp_path / 'c.png')!r})\n"
        "print(matplotlib.get_backend())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "svg" and (tmp_path / "c.png").stat().st_size > 1000
    fresh = "from cookbook.plots import pyplot_for_files; import matplotlib; pyplot_for_files(); print(matplotlib.get_backend())"
    done = subprocess.run([sys.executable, "-c", fresh], capture_output=True, text=True, check=True)
    assert done.stdout.strip().lower() == "agg"


# In the matrix (tests/run_matrix.py) each notebook's smoke run goes to one backend's processes,
# so that every notebook runs and every backend runs some: running all eleven on all three backends
# cost 1,208 s of the matrix's 3,997 s of CPU (JAX alone 574 s: its compiles), past the half hour CI
# has. What each page does on each backend is checked elsewhere on all three: the contract (both
# builds, a short fit), the page's example run from the page alone (tests/recipes/test_examples.py),
# and notebook 09 trains on every backend itself. A notebook's own code is the harness's calls.
# The split below (measured smoke seconds, TF / JAX / torch, in brackets) gives each backend two
# notebooks or more and the rest to PyTorch, whose smoke runs are the shortest (no graph to trace
# and compile for runs this short): 282 s in all, where evening out the backends cost 325 s.
# COOKBOOK_NOTEBOOKS_EVERY_BACKEND=1 runs every notebook on every backend; outside the matrix (a
# plain pytest) every notebook runs on the backend at hand.
NOTEBOOK_BACKEND = {
    "01_feedforward_networks": "torch",  # (18 / 31 / 15)
    "02_convolutions": "jax",  # (14 / 29 / 15)
    "03_deeper_convolutions": "torch",  # (31 / 66 / 23)
    "04_recurrent_networks": "tensorflow",  # (24 / 44 / 14)
    "05_attention": "torch",  # (53 / 79 / 22)
    "06_generative": "torch",  # (32 / 56 / 19)
    "07_compression": "torch",  # (43 / 53 / 29)
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
