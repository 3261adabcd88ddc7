"""Shared fixtures. One pytest process tests one backend: ``KERAS_BACKEND`` picks it
(``tests/run_matrix.py`` runs the three processes)."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile

import pytest

from cookbook.backend import select_backend

BACKEND = select_backend()  # before anything imports keras

if BACKEND == "jax":
    # The tests build the same small networks many times (both APIs, reloads, notebooks):
    # JAX's compilation cache lets XLA compile each distinct program once per session
    # (measured: the contract tests 254 s -> 158 s). Environment variables, so the
    # notebook kernels and CLI subprocesses share it; a fresh folder, so no run depends
    # on an earlier one (tests/run_matrix.py gives the parts of a backend's suite one).
    if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
        _cache = tempfile.mkdtemp(prefix="cookbook-jax-cache-")
        atexit.register(shutil.rmtree, _cache, ignore_errors=True)
        os.environ["JAX_COMPILATION_CACHE_DIR"] = _cache
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    # XLA's CPU compiler at its default level (3) spends 1.5-1.9 s on each small program - one
    # per weight shape for the initializers alone - and level 2 about 0.2 s. Measured on four
    # recipes' build, evaluate, fit and evaluate: CPU time 82 s -> 60 s, and none trained slower.
    _flags = os.environ.get("XLA_FLAGS", "")
    if "xla_backend_optimization_level" not in _flags:
        os.environ["XLA_FLAGS"] = f"{_flags} --xla_backend_optimization_level=2".strip()

import keras  # noqa: E402

from cookbook.catalogue import registry  # noqa: E402
from cookbook.data import load_dataset  # noqa: E402

RECIPES = list(registry())


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend {keras.backend.backend()}"


# run_matrix --fast checks the recipe contract (both builds, the short fit, the reload) on one recipe
# of each kind of layer stack: dense, convolutional, recurrent, attention.
FAST_RECIPES = ("mlp", "cnn", "lstm", "transformer_classifier")


def _recipe_of(item) -> str | None:
    callspec = getattr(item, "callspec", None)
    name = callspec.params.get("name") if callspec else None
    return name if name in RECIPES else None


def pytest_collection_modifyitems(config, items):
    """``@pytest.mark.once`` tests (their result is the same on every backend: text, argument parsing,
    keras-tuner's bookkeeping) run in the process of the backend ``COOKBOOK_ONCE_IN`` names —
    tests/run_matrix.py sets it — and are deselected in the others. Unset, everything runs."""
    if os.environ.get("COOKBOOK_FAST") == "1":  # the fast tier: the per-recipe checks on a few recipes
        left_out = [item for item in items if _recipe_of(item) not in (None, *FAST_RECIPES)]
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item not in left_out]
    once_in = os.environ.get("COOKBOOK_ONCE_IN")
    if not once_in or once_in == BACKEND:
        return
    elsewhere = [item for item in items if item.get_closest_marker("once")]
    if elsewhere:
        config.hook.pytest_deselected(items=elsewhere)
        items[:] = [item for item in items if not item.get_closest_marker("once")]
        _ONCE_ELSEWHERE.extend(elsewhere)


_ONCE_ELSEWHERE: list = []


_SECONDS_PER_FILE: dict[str, float] = {}


def pytest_runtest_logreport(report):
    """Setup, call and teardown of every test, summed per file (a session fixture counts where it
    is first used): ``tests/run_matrix.py`` prints the table of them for each backend."""
    file = report.nodeid.split("::")[0]
    _SECONDS_PER_FILE[file] = _SECONDS_PER_FILE.get(file, 0.0) + report.duration


def pytest_sessionfinish(session):
    if session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and _ONCE_ELSEWHERE:
        session.exitstatus = pytest.ExitCode.OK  # what was asked for runs in another backend's process
    path = os.environ.get("COOKBOOK_SECONDS_PER_FILE")
    if path:
        with open(path, "w") as handle:
            json.dump(_SECONDS_PER_FILE, handle)


@pytest.fixture(autouse=True)
def _fresh_keras():
    """Every test starts from the same seed and the float32 policy."""
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")


_DATA_CACHE: dict = {}


@pytest.fixture
def dataset():
    """``dataset(name)``: an offline dataset, loaded once per session."""

    def load(name: str):
        if name not in _DATA_CACHE:
            _DATA_CACHE[name] = load_dataset(name)
        return _DATA_CACHE[name]

    return load


@pytest.fixture(scope="session")
def _digit_classifier(tmp_path_factory):
    from cookbook.training import train

    out = tmp_path_factory.mktemp("classifier") / f"cnn-functional-{BACKEND}"
    train("cnn", epochs=1, verbose=0, out=str(out))
    return out


@pytest.fixture
def runs_with_a_classifier(_digit_classifier, tmp_path, monkeypatch):
    """A fresh working folder whose ``runs/`` holds a digits ``cnn`` (trained once per session), which
    ``cookbook train`` and ``cookbook sample`` find there to score generated digits with."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / _digit_classifier.name).symlink_to(_digit_classifier)
