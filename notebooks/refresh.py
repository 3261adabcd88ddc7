"""Run notebooks in full mode and store them with their outputs, so that a code host and the site
show every table and figure without anyone running them.

    python notebooks/refresh.py                  # every notebook
    python notebooks/refresh.py 05_attention     # one (or several)

Each notebook runs in a fresh Jupyter kernel on the backend its setup cell names (the
``os.environ.setdefault("KERAS_BACKEND", ...)`` line), in full mode (``COOKBOOK_SMOKE`` unset), its
pictures written where a reader's run writes them (``runs/NAME``, emptied first: the lessons resume
from what an earlier run left there) and kept in the notebook as outputs. Keras' progress bars are
stored as a terminal leaves them (the last state of each line), not every update. The notebook's
metadata then records how its outputs were made (``metadata["cookbook"]``): the backend, the mode,
the versions of Python, Keras, NumPy and the backend, when, how many seconds it took, and a hash of
its code cells. ``tests/notebooks/test_notebooks.py`` fails when a notebook's code no longer matches
the hash its outputs were stored with, and names this command.

Needs the ``notebooks`` extra and the backend the notebook names. A notebook that fails is left as it
was, its error printed in one line; the others still run.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path

import nbformat

FOLDER = Path(__file__).resolve().parent
COMMAND = "python notebooks/refresh.py"
BACKEND_LINE = re.compile(r"""os\.environ\.setdefault\("KERAS_BACKEND", "(\w+)"\)""")
# What TensorFlow's C++ side writes to the kernel's stderr as it loads (absl's notice, oneDNN's
# I0000 line): noise to a reader, not the notebook's output.
NATIVE_LOG = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)|[IWE]\d{4} \d\d:)")
BACKEND_PACKAGES = {"tensorflow": "tensorflow-cpu", "jax": "jax", "torch": "torch"}


def code_hash(notebook: nbformat.NotebookNode) -> str:
    """A hash of the notebook's code cells, in order: what its stored outputs were made from."""
    sources = [cell.source.strip() for cell in notebook.cells if cell.cell_type == "code"]
    return hashlib.sha256("\n\0\n".join(sources).encode()).hexdigest()[:16]


def named_backend(notebook: nbformat.NotebookNode) -> str:
    """The backend the notebook's setup cell chooses when none is set."""
    setup = next(cell for cell in notebook.cells if cell.cell_type == "code")
    found = BACKEND_LINE.search(setup.source)
    if not found:
        raise ValueError('its setup cell has no os.environ.setdefault("KERAS_BACKEND", ...) line')
    return found[1]


def settle(text: str) -> str:
    """``text`` as a terminal would leave it: each line's last state after carriage returns and
    backspaces (how Keras' progress bar redraws itself)."""
    settled = []
    for line in text.split("\n"):
        shown = ""
        for character in line.rstrip("\r").split("\r")[-1]:
            shown = shown[:-1] if character == "\b" else shown + character
        settled.append(shown)
    return "\n".join(settled)


def _settled(outputs: list) -> list:
    """Consecutive writes to one stream joined, then settled (a redraw may span two writes)."""
    joined: list = []
    for output in outputs:
        previous = joined[-1] if joined else None
        if (
            output.get("output_type") == "stream"
            and previous
            and previous.get("output_type") == "stream"
            and previous.get("name") == output.get("name")
        ):
            previous["text"] += output["text"]
        else:
            joined.append(output)
    for output in joined:
        if output.get("output_type") == "stream":
            output["text"] = settle(output["text"])
            if output.get("name") == "stderr":
                lines = output["text"].splitlines(keepends=True)
                output["text"] = "".join(line for line in lines if not NATIVE_LOG.match(line))
    return [output for output in joined if output.get("output_type") != "stream" or output["text"].strip()]


def _version(distribution: str) -> str:
    for name in (distribution, distribution.removesuffix("-cpu")):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def refresh(path: Path) -> float:
    """Execute ``path`` in full mode and write it back with its outputs; return the seconds taken."""
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    backend = named_backend(notebook)
    # A fresh run: the lessons resume from what an earlier run left in the notebook's runs folder
    # (compare-rnn's results.json), which would store old numbers as new outputs.
    shutil.rmtree(FOLDER.parent / "runs" / path.stem, ignore_errors=True)
    # The kernel's environment: this backend, full mode, pictures in the checkout's runs/ (the
    # notebook's default, so its printed folder is the one a reader's run uses), inline figures.
    unset = ("COOKBOOK_SMOKE", "COOKBOOK_RUNS", "MPLBACKEND")
    environment = {key: value for key, value in os.environ.items() if key not in unset}
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environment, KERAS_BACKEND=backend)
    started = time.perf_counter()
    try:
        NotebookClient(
            notebook, timeout=3600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        ).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    seconds = time.perf_counter() - started
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = _settled(cell.outputs)
    notebook.metadata["cookbook"] = {
        "backend": backend,
        "mode": "full",
        "code_hash": code_hash(notebook),
        "executed": time.strftime("%Y-%m-%d"),
        "seconds": round(seconds),
        "machine": f"{os.cpu_count()} CPU cores, no GPU"
        if not _has_gpu()
        else f"{os.cpu_count()} CPU cores and a GPU",
        "versions": {
            "python": platform.python_version(),
            "keras": _version("keras"),
            "numpy": _version("numpy"),
            backend: _version(BACKEND_PACKAGES[backend]),
        },
    }
    nbformat.write(notebook, path)
    return seconds


def _has_gpu() -> bool:
    return Path("/proc/driver/nvidia").exists()


def main(argv: list[str]) -> int:
    known = {path.stem: path for path in sorted(FOLDER.glob("*.ipynb"))}
    unknown = [name for name in argv if name not in known]
    if unknown:
        print(
            f"refresh.py: error: no notebook {unknown[0]!r}; choose from: {', '.join(known)}", file=sys.stderr
        )
        return 2
    failed = []
    total = 0.0
    for name in argv or list(known):
        print(f"{name}: running in full mode ...", flush=True)
        try:
            seconds = refresh(known[name])
        except Exception as error:  # noqa: BLE001 - one line per failed notebook; the others still run
            message = str(error).strip().splitlines()
            print(f"{name}: failed: {message[-1] if message else type(error).__name__}", file=sys.stderr)
            failed.append(name)
            continue
        total += seconds
        print(f"{name}: stored with its outputs ({seconds:.0f} s)", flush=True)
    print(f"refreshed {len(argv or known) - len(failed)} notebooks in {total / 60:.1f} minutes")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
