"""Choosing the Keras backend before Keras is imported.

A process holds one backend: Keras reads ``KERAS_BACKEND`` once, at its first import.
So the choice must be made here, before anything imports ``keras``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from cookbook.errors import CookbookError

# backend name -> (the Python package it needs, the pip extra that installs it)
BACKENDS: dict[str, tuple[str, str]] = {
    "tensorflow": ("tensorflow", "tensorflow"),
    "jax": ("jax", "jax"),
    "torch": ("torch", "torch"),
}


def installed_backends() -> list[str]:
    return [name for name, (package, _) in BACKENDS.items() if _installed(package)]


def check_installed(backends: Sequence[str]) -> None:
    """A one-line error for a backend named that Keras has not, or that is not installed here (for
    the commands that start a process per backend: bench, leaderboard)."""
    for backend in backends:
        if backend not in BACKENDS:
            raise CookbookError(f"unknown backend {backend!r}; choose from: {', '.join(BACKENDS)}")
        if backend not in installed_backends():
            raise CookbookError(f"the {backend} backend is not installed")


def _installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # hidden by an import hook, or a None left in sys.modules
        return False


def _keras_json_backend() -> str | None:
    """The backend ``~/.keras/keras.json`` (or ``$KERAS_HOME/keras.json``) names, if any."""
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    try:
        return json.loads((keras_home / "keras.json").read_text()).get("backend")
    except (OSError, ValueError, AttributeError):
        return None


def trained_backend(folder: str | Path) -> str | None:
    """The backend a run or tuning folder was made with: its ``metrics.json``, else the name's
    ``-BACKEND`` ending (``runs/cnn-functional-jax``, ``runs/tuning/cnn-functional-jax``)."""
    folder = Path(folder)
    try:
        backend = json.loads((folder / "metrics.json").read_text()).get("backend")
    except (OSError, ValueError, AttributeError):
        backend = None
    if backend in BACKENDS:
        return backend
    ending = folder.name.rsplit("-", 1)[-1]
    return ending if ending in BACKENDS else None


def select_backend(
    name: str | None = None, trained: Sequence[str | Path] = (), announce: bool = False
) -> str:
    """Make the chosen backend the one Keras will use; return it.

    Order: the explicit ``name`` (``--backend``), ``KERAS_BACKEND``, then — for a command given
    run folders or model files (``trained``) — the backend the first of them was made with, then
    ``keras.json``'s backend, then the first installed of tensorflow, jax, torch. The last three
    count only when their package is installed: Keras writes ``keras.json`` with "tensorflow" on
    its first import whatever is installed, and a run trained elsewhere may name a backend this
    machine lacks. ``announce`` names a choice the user did not make on stderr.
    """
    if name:
        reason = None
    elif os.environ.get("KERAS_BACKEND"):
        name, reason = os.environ["KERAS_BACKEND"], None
    else:
        name, reason = _infer_backend(trained)
    if name not in BACKENDS:
        raise CookbookError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    package, extra = BACKENDS[name]
    if not _installed(package):
        raise CookbookError(
            f"the {name} backend needs the {package!r} package, which is not installed: "
            f'pip install "keras-cookbook[{extra}]"'
        )
    if "keras" in sys.modules:
        current = sys.modules["keras"].backend.backend()
        if current != name:
            raise CookbookError(
                f"Keras was already imported with the {current} backend in this process; "
                f"set KERAS_BACKEND={name} before the first `import keras` "
                "(in a notebook: restart the kernel)"
            )
    os.environ["KERAS_BACKEND"] = name
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
    if announce and reason:
        print(f"cookbook: the {name} backend ({reason}; --backend picks another)", file=sys.stderr)
    return name


def _infer_backend(trained: Sequence[str | Path]) -> tuple[str, str]:
    """The backend and why, when neither ``--backend`` nor ``KERAS_BACKEND`` says."""
    available = installed_backends()
    for folder in trained:
        backend = trained_backend(folder)
        if backend in available:
            return backend, f"{folder} was made with it"
    configured = _keras_json_backend()
    if configured in available:
        return configured, "keras.json names it"
    if not available:
        raise CookbookError(
            "no Keras backend is installed: "
            'pip install "keras-cookbook[jax]" (or [tensorflow], [torch], [all])'
        )
    if configured:
        return available[0], f"the first installed; keras.json names {configured}, which is not"
    return available[0], "the first installed"


def describe_backend() -> str:
    """One line for a notebook's first cell: Keras, the backend in use and the GPUs it sees.

    Only the current backend is asked (in this process); `cookbook doctor` asks all three.
    """
    import keras

    name = keras.backend.backend()
    if name == "jax":
        import jax

        version, gpus = jax.__version__, [d.device_kind for d in jax.devices() if d.platform == "gpu"]
    elif name == "torch":
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        version, gpus = torch.__version__, [torch.cuda.get_device_name(i) for i in range(count)]
    else:
        import tensorflow as tf

        version, gpus = tf.__version__, [d.name for d in tf.config.list_physical_devices("GPU")]
    return f"keras {keras.__version__}, backend {name} {version}, GPUs: {', '.join(gpus) or 'none (CPU)'}"
