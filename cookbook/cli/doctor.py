"""``doctor``: what this machine has for Keras."""

from __future__ import annotations

import argparse
import sys

from cookbook.cli.command import Command


def _doctor(args: argparse.Namespace) -> None:
    import importlib.metadata

    import keras  # first: the backend in use is then asked in this process, the others in their own

    from cookbook.inspection import probe_backends

    print(f"python   {sys.version.split()[0]}")
    print(f"keras    {importlib.metadata.version('keras')}")
    for name, found in probe_backends().items():
        if not found["installed"]:
            print(f'{name:<10} not installed (pip install "keras-cookbook[{found["extra"]}]")')
        elif "error" in found:
            print(f"{name:<10} installed, but fails to import: {found['error']}")
        else:
            gpus = ", ".join(found["gpus"]) or "none (CPU only)"
            print(f"{name:<10} {found['version']:<14} GPUs: {gpus}")
    print(f"backend in use: {keras.backend.backend()}, dtype policy: {keras.config.dtype_policy().name}")


COMMANDS = (Command("doctor", "Keras, backends, GPUs and the dtype policy", _doctor),)
