"""Backend selection: the order of precedence and the one-line errors."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import keras
import pytest

from cookbook import backend as _backend
from cookbook.backend import select_backend
from cookbook.errors import CookbookError

CURRENT = keras.backend.backend()


def _hide_packages(monkeypatch, *packages):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        _backend.importlib.util, "find_spec", lambda name, *a: None if name in packages else real(name, *a)
    )


@pytest.mark.once  # select_backend's precedence: names and files
def test_a_missing_backend_package_names_the_extra_to_install(monkeypatch):
    _hide_packages(monkeypatch, "jax")
    with pytest.raises(
        CookbookError, match=r"the jax backend needs the .jax. package.*keras-cookbook\[jax\]"
    ):
        select_backend("jax")


@pytest.mark.once  # select_backend's precedence: names and files
def test_an_unknown_backend_names_the_choices():
    with pytest.raises(
        CookbookError, match="unknown backend 'theano'; choose one of: tensorflow, jax, torch"
    ):
        select_backend("theano")


@pytest.mark.once  # select_backend's precedence: names and files
def test_keras_json_is_read_when_the_variable_is_unset(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_BACKEND")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "keras.json").write_text(json.dumps({"backend": CURRENT}))
    assert select_backend() == CURRENT
    other = next(name for name in _backend.BACKENDS if name != CURRENT)
    (tmp_path / "keras.json").write_text(json.dumps({"backend": other}))
    monkeypatch.delenv("KERAS_BACKEND")  # select_backend exported its choice
    with pytest.raises(CookbookError, match=f"already imported with the {CURRENT} backend"):
        select_backend()


@pytest.mark.once  # select_backend's precedence: names and files
def test_with_nothing_configured_the_first_installed_backend_is_chosen(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_BACKEND")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no keras.json there
    _hide_packages(monkeypatch, *(name for name in _backend.BACKENDS if name != CURRENT))
    assert select_backend() == CURRENT


@pytest.mark.once  # select_backend's precedence: names and files
def test_with_no_backend_installed_the_error_says_how_to_get_one(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_BACKEND")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    _hide_packages(monkeypatch, "tensorflow", "jax", "torch")
    with pytest.raises(CookbookError, match=r"no Keras backend is installed: pip install"):
        select_backend()


@pytest.mark.once  # select_backend's precedence: names and files
def test_a_run_folder_names_the_backend_it_was_made_with(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_BACKEND")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    other = next(name for name in _backend.BACKENDS if name != CURRENT)
    (tmp_path / "keras.json").write_text(json.dumps({"backend": other}))
    run = tmp_path / "runs" / "cnn-functional-somewhere"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({"backend": CURRENT}))
    assert select_backend(trained=[run]) == CURRENT  # the run, over keras.json
    monkeypatch.delenv("KERAS_BACKEND")
    assert select_backend(trained=[tmp_path / f"tuning/cnn-functional-{CURRENT}"]) == CURRENT  # its name


@pytest.mark.once  # select_backend's precedence: names and files
def test_a_backend_that_is_not_installed_is_passed_over(monkeypatch, tmp_path, capsys):
    """keras.json says tensorflow after Keras' first import, whatever is installed; a run may come
    from a machine with another backend. Neither may end in 'the X backend needs the X package'."""
    monkeypatch.delenv("KERAS_BACKEND")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    missing = next(name for name in _backend.BACKENDS if name != CURRENT)
    _hide_packages(monkeypatch, *(name for name in _backend.BACKENDS if name != CURRENT))
    (tmp_path / "keras.json").write_text(json.dumps({"backend": missing}))
    run = tmp_path / f"cnn-functional-{missing}"
    assert select_backend(trained=[run], announce=True) == CURRENT
    said = capsys.readouterr().err
    assert said.count("\n") == 1 and f"keras.json names {missing}, which is not" in said


@pytest.mark.once  # select_backend's precedence: names and files
def test_an_explicit_choice_is_not_announced(monkeypatch, capsys):
    assert select_backend(CURRENT, announce=True) == CURRENT
    assert capsys.readouterr().err == ""


@pytest.mark.once  # a fresh process of its own
@pytest.mark.skipif(not importlib.util.find_spec("jax"), reason="the first installed backend here is jax")
def test_the_python_surface_chooses_the_backend_as_the_command_line_does(tmp_path):
    """A fresh machine with JAX alone: Keras' first import wrote keras.json naming tensorflow. The first
    public name a script takes from ``cookbook`` chooses the backend as `cookbook` does (the first
    installed), so the script's own ``import keras`` after it works, where Keras alone would fail."""
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "tensorflow"}))
    script = (
        "import sys; sys.modules['tensorflow'] = None  # not installed\n"
        "import cookbook\n"
        "cookbook.load_model\n"
        "import keras\n"
        "print(keras.backend.backend())\n"
    )
    environment = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**environment, "KERAS_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "jax"
