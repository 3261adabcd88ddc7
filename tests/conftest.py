"""Shared fixtures. One pytest process tests one backend: ``KERAS_BACKEND`` picks it
(``tests/run_matrix.py`` runs the three processes)."""

from __future__ import annotations

import pytest

from recipes._backend import select_backend

BACKEND = select_backend()  # before anything imports keras

import keras  # noqa: E402

from recipes import registry  # noqa: E402
from recipes._data import load_dataset  # noqa: E402

RECIPES = list(registry())


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend {keras.backend.backend()}"


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
