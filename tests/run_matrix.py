"""Run the test suite once per Keras backend, each in its own process.

    python tests/run_matrix.py                       # tensorflow, jax, torch
    python tests/run_matrix.py --backends jax torch  # a subset
    python tests/run_matrix.py -- -k cnn             # extra arguments go to pytest

A process holds one backend (Keras reads KERAS_BACKEND at its first import), so the
matrix is three pytest runs. The matrix fails if any run fails or runs no test
(pytest's exit status 5).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("tensorflow", "jax", "torch")
NO_TESTS_RAN = 5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args(argv)

    results = []
    for backend in args.backends:
        print(f"\n===== {backend} =====", flush=True)
        env = {**os.environ, "KERAS_BACKEND": backend}
        started = time.perf_counter()
        status = subprocess.call([sys.executable, "-m", "pytest", *args.pytest_args], cwd=ROOT, env=env)
        results.append((backend, status, time.perf_counter() - started))

    print("\n===== matrix =====")
    for backend, status, seconds in results:
        verdict = {0: "passed", NO_TESTS_RAN: "FAILED (no test ran)"}.get(status, f"FAILED (exit {status})")
        print(f"{backend:<11} {verdict:<22} {seconds:6.0f} s")
    print(f"{'total':<11} {'':<22} {sum(r[2] for r in results):6.0f} s")
    return 0 if all(status == 0 for _, status, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
