"""The documentation site (docs/build.py): built by Sphinx with warnings as errors, every page opened
in Chromium (docs/check_site.py), and the pieces it is made of: each page's docstring is valid
reStructuredText, ``cookbook diagram`` draws both builds, and a missing tool is one line.

The site needs the ``docs`` extra, Graphviz and Chromium (apt-get install graphviz chromium). On a
machine without them these tests skip; with ``COOKBOOK_SITE_REQUIRED=1`` (set by ``.ci/run``) a
missing tool fails them instead.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import RECIPES

from cookbook.catalogue import registry

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs"))


def need(*modules: str, programs: tuple[str, ...] = ()) -> None:
    """Skip (or, where CI requires the site, fail) without these modules and programs."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    missing += [name for name in programs if shutil.which(name) is None]
    if missing:
        message = f"the site needs {', '.join(missing)}: pip install -e '.[docs]'; apt-get install graphviz chromium"
        if os.environ.get("COOKBOOK_SITE_REQUIRED") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.mark.once  # the pages' text
@pytest.mark.parametrize("name", RECIPES)
def test_each_page_docstring_is_valid_restructuredtext(name):
    """The site renders it as reStructuredText: a list needs a blank line before it, and an indented
    block a paragraph ending in '::' (a literal block), or docutils warns and the build fails."""
    need("docutils")
    import docutils.core

    warnings = io.StringIO()
    docstring = ast.get_docstring(ast.parse(registry()[name].path.read_text()))
    docutils.core.publish_doctree(
        docstring, settings_overrides={"warning_stream": warnings, "report_level": 1}
    )
    assert not warnings.getvalue(), warnings.getvalue()


@pytest.mark.once  # refused before Keras draws anything
def test_cookbook_diagram_without_graphviz_says_so_in_one_line(monkeypatch, capsys):
    from cookbook.cli import main

    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "dot" else real(name, *a, **k))
    assert main(["diagram", "cnn"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert (
        error.startswith("cookbook: error: drawing a diagram needs") and "apt-get install graphviz" in error
    )


@pytest.mark.once  # arguments, read before Keras loads
def test_the_site_builder_refuses_a_folder_without_diagrams_in_one_line(tmp_path, capsys):
    import build

    assert build.main(["--diagrams", str(tmp_path), "--out", str(tmp_path / "site")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"docs/build.py: error: {tmp_path} holds no diagrams.json: run cookbook diagram --out {tmp_path}"
    )


@pytest.mark.once  # text
def test_a_recipe_page_shows_its_leaderboard_row_and_a_generative_page_its_samples_distance():
    import build

    measured = build.measured_rows()
    assert {"mlp", "cnn", "lstm", "unet", "gpt"} <= set(measured) <= set(RECIPES)
    drawn = {api: {"parameters": 10, "files": []} for api in ("sequential", "functional")}
    page = build.recipe_page(registry()["unet"], drawn, measured["unet"])
    assert "the test mean IoU on each backend" in page
    assert "| | TensorFlow | JAX | PyTorch |" in page and "| test mean IoU | 0." in page
    assert "![unet: masks](../results/figures/unet/jax-seed0/masks.png)" in page  # the run's pictures
    gan = build.recipe_page(registry()["gan"], drawn, measured["gan"])  # judged by its samples
    assert "the Fréchet distance of 1,000 samples to the test digits (lower is better)" in gan
    assert (
        "| Fréchet distance | " in gan
        and "![gan: samples](../results/figures/gan/jax-seed0/samples.png)" in gan
    )
    assert "Not measured yet: `cookbook leaderboard gan --out" in build.recipe_page(
        registry()["gan"], drawn, None
    )


@pytest.mark.once  # drawing is Keras' and Graphviz's: each backend builds the pages in the contract
def test_cookbook_diagram_draws_both_builds_with_their_shapes_and_parameters(tmp_path):
    need("pydot", programs=("dot",))
    import keras

    from cookbook.cli import main

    assert main(["diagram", "cnn", "gan", "--out", str(tmp_path)]) == 0
    index = json.loads((tmp_path / "diagrams.json").read_text())
    from recipes import cnn

    assert index["cnn"]["functional"]["parameters"] == cnn.build_functional().count_params()
    assert index["cnn"]["sequential"]["parameters"] == index["cnn"]["functional"]["parameters"]
    functional = (tmp_path / "cnn.functional.svg").read_text()
    assert "<svg" in functional and "Output shape" in functional and "(None, 8, 8, 32)" in functional
    assert ">conv2d<" in functional and ">conv2d_1<" in functional  # names counted from zero per build
    parts = [item["network"] for item in index["gan"]["sequential"]["files"]]
    assert parts == ["generator", "discriminator"]  # a GAN's two networks, each drawn
    assert all(
        (tmp_path / item["file"]).stat().st_size > 1000 for item in index["gan"]["functional"]["files"]
    )
    keras.backend.clear_session()


@pytest.mark.once  # one site, whatever backend draws its diagrams
@pytest.mark.slow
def test_the_site_builds_without_a_warning_and_every_page_passes_in_chromium(tmp_path):
    need("sphinx", "myst_nb", "furo", "pydot", "playwright", programs=("dot", "chromium"))
    done = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "build.py"), "--out", str(tmp_path), "--check"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "0 problems" in done.stdout
    html = tmp_path / "html"
    for name in RECIPES:  # a page per recipe, each with its diagrams
        page = (html / "recipes" / f"{name}.html").read_text()
        assert f"_images/{name}.sequential" in page and f"_images/{name}.functional" in page, name
    notebooks = sorted(path.stem for path in (ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks == sorted(path.stem for path in (html / "notebooks").glob("[0-9]*.html"))
    assert (html / "CLI.html").is_file() and (html / "RESULTS.html").is_file()
