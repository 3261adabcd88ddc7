"""Choosing the Keras backend before Keras is imported.

A process holds one backend: Keras reads ``KERAS_BACKEND`` once, at its first import.
So the choice must be made here, before anything imports ``keras``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

from recipes._errors import CookbookError

# backend name -> (the Python package it needs, the pip extra that installs it)
BACKENDS: dict[str, tuple[str, str]] = {
    "tensorflow": ("tensorflow", "tensorflow"),
    "jax": ("jax", "jax"),
    "torch": ("torch", "torch"),
}


def installed_backends() -> list[str]:
    return [name for name, (package, _) in BACKENDS.items() if importlib.util.find_spec(package)]


def _configured_backend() -> str | None:
    """What Keras itself would pick: ``KERAS_BACKEND``, then ``~/.keras/keras.json``."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    try:
        return json.loads((keras_home / "keras.json").read_text()).get("backend")
    except (OSError, ValueError):
        return None


def select_backend(name: str | None = None) -> str:
    """Make ``name`` (or the configured backend) the one Keras will use; return it.

    Order: the explicit ``name``, ``KERAS_BACKEND``, ``~/.keras/keras.json``, then the
    first installed of tensorflow, jax, torch.
    """
    name = name or _configured_backend()
    if name is None:
        available = installed_backends()
        if not available:
            raise CookbookError(
                "no Keras backend is installed: "
                'pip install "keras-cookbook[jax]" (or [tensorflow], [torch], [all])'
            )
        name = available[0]
    if name not in BACKENDS:
        raise CookbookError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    package, extra = BACKENDS[name]
    if importlib.util.find_spec(package) is None:
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
    return name


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
