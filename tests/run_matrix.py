"""Run the test suite once per Keras backend, each in its own process.

    python tests/run_matrix.py                       # tensorflow, jax, torch; one process per core at a time
    python tests/run_matrix.py --jobs 1              # one after another, the output live
    python tests/run_matrix.py --fast --backends jax # the fast tier: no @slow test (a few minutes)
    python tests/run_matrix.py --backends jax torch  # a subset
    python tests/run_matrix.py -- -k cnn             # extra arguments go to pytest

A process holds one backend (Keras reads KERAS_BACKEND at its first import), so the matrix is
three pytest runs. A single one leaves part of a 2-core machine idle (TensorFlow keeps about one
core busy), so by default as many run at once as there are cores, each one's output kept apart and
printed whole when it ends. Tests marked ``once`` (their result is the same on every backend) run
in one backend's process only: PyTorch's when it runs, its session being the shortest. The matrix
ends with the seconds every test file took per backend and each process's CPU time, and fails if
any run fails or runs no test (pytest's exit status 5).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("tensorflow", "jax", "torch")
NO_TESTS_RAN = 5


def _start(backend: str, pytest_args: list[str], scratch: Path, live: bool, once_in: str):
    """One pytest process; ``live`` lets its output through, else it goes to a log printed at the end.
    Tests marked ``once`` run only in ``once_in``'s process."""
    env = {**os.environ, "KERAS_BACKEND": backend, "COOKBOOK_ONCE_IN": once_in}
    env["COOKBOOK_SECONDS_PER_FILE"] = str(scratch / f"{backend}-seconds.json")
    log = scratch / f"{backend}.log"
    own = ["--basetemp", str(scratch / backend), "-o", f"cache_dir=.pytest_cache/{backend}"]
    if live:
        print(f"\n===== {backend} =====", flush=True)
    with open(log, "w") as handle:  # the child keeps its own handle
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", *own, *pytest_args],
            cwd=ROOT,
            env=env,
            stdout=None if live else handle,
            stderr=None if live else subprocess.STDOUT,
        )
    if not live:
        print(f"started {backend}", flush=True)
    return process, log, time.perf_counter()


def seconds_table(scratch: Path, backends: list[str]) -> str:
    """Seconds per test file and backend, the costliest first: what each change costs the matrix."""
    backends = [name for name in BACKENDS if name in backends]
    seconds = {}
    for backend in backends:
        path = scratch / f"{backend}-seconds.json"
        seconds[backend] = json.loads(path.read_text()) if path.exists() else {}
    files = sorted(
        {file for table in seconds.values() for file in table},
        key=lambda file: -sum(table.get(file, 0) for table in seconds.values()),
    )
    rows = [
        f"\n===== seconds per test file =====\n{'file':<40}"
        + "".join(f"{b:>12}" for b in backends)
        + f"{'all':>10}"
    ]
    for file in [*files, "all files"]:
        cells = [
            sum(seconds[b].values()) if file == "all files" else seconds[b].get(file, 0) for b in backends
        ]
        rows.append(f"{file:<40}" + "".join(f"{cell:>12.0f}" for cell in cells) + f"{sum(cells):>10.0f}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument(
        "--jobs",
        type=int,
        default=min(len(BACKENDS), os.cpu_count() or 1),
        help="backends tested at once (default: one per core, at most 3); 1 shows the output live",
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="leave out the tests marked slow (notebook kernels, searches in subprocesses, long trains)",
    )
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.fast:  # no @slow test; the per-recipe contract on four recipes (tests/conftest.py)
        args.pytest_args = ["-m", "not slow", *args.pytest_args]
        os.environ["COOKBOOK_FAST"] = "1"

    # The backend-neutral tests go to PyTorch's process when it runs: its session is the shortest.
    once_in = "torch" if "torch" in args.backends else args.backends[0]
    started = time.perf_counter()
    waiting, running, results = list(args.backends), {}, []
    with tempfile.TemporaryDirectory(prefix="cookbook-matrix-") as scratch:
        while waiting or running:
            while waiting and len(running) < args.jobs:
                backend = waiting.pop(0)
                running[backend] = _start(
                    backend, args.pytest_args, Path(scratch), live=args.jobs == 1, once_in=once_in
                )
            for backend, (process, log, began) in list(running.items()):
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)  # with its CPU time
                if pid == 0:
                    continue
                del running[backend]
                cpu = usage.ru_utime + usage.ru_stime  # and that of the processes it waited for
                results.append((backend, os.waitstatus_to_exitcode(status), time.perf_counter() - began, cpu))
                if args.jobs > 1:
                    print(f"\n===== {backend} =====", flush=True)
                    sys.stdout.write(log.read_text())
                    sys.stdout.flush()
            time.sleep(0.5)

        print(seconds_table(Path(scratch), [result[0] for result in results]))

    print("\n===== matrix =====")
    for backend, status, seconds, cpu in sorted(results, key=lambda r: args.backends.index(r[0])):
        verdict = {0: "passed", NO_TESTS_RAN: "FAILED (no test ran)"}.get(status, f"FAILED (exit {status})")
        print(
            f"{backend:<11} {verdict:<22} {seconds:6.0f} s   CPU {cpu:6.0f} s ({cpu / seconds:.0%} of a core)"
        )
    print(f"{'wall time':<11} {'':<22} {time.perf_counter() - started:6.0f} s")
    return 0 if all(status == 0 for _, status, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
