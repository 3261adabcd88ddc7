"""Run the test suite once per Keras backend, each backend in processes of its own.

    python tests/run_matrix.py                       # tensorflow, jax, torch; one process per core at a time
    python tests/run_matrix.py --jobs 1              # one after another, the output live
    python tests/run_matrix.py --fast --backends jax # the fast tier: no @slow test (a few minutes)
    python tests/run_matrix.py --backends jax torch  # a subset
    python tests/run_matrix.py -- -k cnn             # extra arguments go to pytest

A process holds one backend (Keras reads KERAS_BACKEND at its first import), so the matrix is at
least three pytest runs. The machine is kept busy by splitting each backend's suite in two parts
(``PARTS``: the notebooks, the recipe contract and each page's example, then the rest) and running as many parts
at once as there are cores, the longest first. Each process then gets one core, so the backends'
own thread pools are set to one thread: on 2 cores PyTorch's two threads spent 50 % more CPU time
for a 10 % shorter run, which is time the other process could have had. Tests marked ``once``
(their result is the same on every backend) run in one backend's processes only: PyTorch's when
it runs, its session being the shortest. Each notebook's smoke run, too, goes to one backend's
processes (``tests/notebooks/test_notebooks.py``, ``NOTEBOOK_BACKEND``). Each part's output is kept apart and printed whole when
it ends. The matrix ends with the seconds every test file took per backend and each process's CPU
time, and fails if any run fails or a backend runs no test (pytest's exit status 5).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("tensorflow", "jax", "torch")
NO_TESTS_RAN = 5

# A backend's suite in two parts, each a process of its own: the notebooks' smoke runs, the recipe
# contract and each page's example run from the page alone (measured 7 December 2026: 34-47 % of a
# backend's seconds; with the examples in the rest, JAX's and PyTorch's rest ran 923 and 994 s and the
# matrix 1,666 s, as against about 1,620 s computed for this split from the same run's seconds).
PARTS = {
    "notebooks+contract+examples": (
        "tests/notebooks/test_notebooks.py",
        "tests/recipes/test_contract.py",
        "tests/recipes/test_examples.py",
    ),
    "rest": (),
}
# The fast tier runs no notebook (they are slow): its first part takes the heaviest files of the
# rest instead, so that its two parts are of about one length (measured on JAX: 224 and 209 of
# 433 s, where the notebooks+contract split gave 57 and 398).
FAST_FIRST_PART = (
    "tests/recipes/test_contract.py",
    "tests/recipes/test_quantization.py",
    "tests/recipes/test_distillation.py",
    "tests/recipes/test_gan.py",
    "tests/cookbook/test_cli.py",
    "tests/recipes/test_gpt.py",
    "tests/cookbook/test_first_contact.py",
)
# Seconds each (backend, part) takes in the full matrix (2 cores, two parts at a time), to start the
# longest first: the matrix of 7 December 2026 (evening), less what was moved or cut after it.
EXPECTED_SECONDS = {"tensorflow": (375, 435), "jax": (330, 900), "torch": (300, 950)}
ONE_THREAD = {  # one core per process: each backend's thread pools at one thread
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
}


@dataclass
class Run:
    """One pytest process: a backend, a part of the suite, and how it went."""

    backend: str
    part: str
    args: list[str]
    expected: float
    status: int | None = None
    seconds: float = 0.0
    cpu: float = 0.0
    process: subprocess.Popen | None = field(default=None, repr=False)
    log: Path | None = None
    began: float = 0.0

    @property
    def name(self) -> str:
        return self.backend if self.part == "all" else f"{self.backend} ({self.part})"


def plan(backends: list[str], pytest_args: list[str], fast: bool = False) -> list[Run]:
    """The runs, the longest expected first. The suite is split only when no test path is given;
    ``fast`` (the fast tier) splits it as ``FAST_FIRST_PART`` says."""
    names_a_path = any(arg.startswith("tests") or arg.endswith(".py") or "::" in arg for arg in pytest_args)
    runs = []
    for backend in backends:
        if names_a_path:
            runs.append(Run(backend, "all", pytest_args, sum(EXPECTED_SECONDS[backend])))
            continue
        heavy = FAST_FIRST_PART if fast else PARTS["notebooks+contract+examples"]
        first = "contract+heaviest" if fast else "notebooks+contract+examples"
        runs.append(Run(backend, first, [*pytest_args, *heavy], EXPECTED_SECONDS[backend][0]))
        rest = [f"--ignore={path}" for path in heavy]
        runs.append(Run(backend, "rest", [*pytest_args, *rest], EXPECTED_SECONDS[backend][1]))
    return sorted(runs, key=lambda run: -run.expected)


def _start(run: Run, scratch: Path, live: bool, once_in: str, one_thread: bool) -> None:
    """Start ``run``'s pytest; ``live`` lets its output through, else it goes to a log printed at the
    end. Tests marked ``once`` run only in ``once_in``'s processes."""
    env = {**os.environ, "KERAS_BACKEND": run.backend, "COOKBOOK_ONCE_IN": once_in}
    if one_thread:
        env.update({key: value for key, value in ONE_THREAD.items() if key not in os.environ})
    if run.backend == "jax":  # one compilation cache for the parts of JAX's suite (tests/conftest.py)
        env.setdefault("JAX_COMPILATION_CACHE_DIR", str(scratch / "jax-compilation-cache"))
    tag = f"{run.backend}-{run.part}".replace("+", "-")
    env["COOKBOOK_SECONDS_PER_FILE"] = str(scratch / f"{tag}-seconds.json")
    run.log = scratch / f"{tag}.log"
    own = ["--basetemp", str(scratch / tag), "-o", f"cache_dir=.pytest_cache/{run.backend}"]
    if live:
        print(f"\n===== {run.name} =====", flush=True)
    with open(run.log, "w") as handle:  # the child keeps its own handle
        run.process = subprocess.Popen(
            [sys.executable, "-m", "pytest", *own, *run.args],
            cwd=ROOT,
            env=env,
            stdout=None if live else handle,
            stderr=None if live else subprocess.STDOUT,
        )
    if not live:
        print(f"started {run.name}", flush=True)
    run.began = time.perf_counter()


def seconds_table(scratch: Path, backends: list[str]) -> str:
    """Seconds per test file and backend, the costliest first: what each change costs the matrix."""
    backends = [name for name in BACKENDS if name in backends]
    seconds: dict[str, dict[str, float]] = {backend: {} for backend in backends}
    for backend in backends:
        for path in scratch.glob(f"{backend}-*-seconds.json"):
            for file, value in json.loads(path.read_text()).items():
                seconds[backend][file] = seconds[backend].get(file, 0.0) + value
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


def verdict(runs: list[Run]) -> tuple[bool, str]:
    """A backend passes when none of its runs failed and at least one ran a test."""
    statuses = [run.status for run in runs]
    if any(status not in (0, NO_TESTS_RAN) for status in statuses):
        failed = next(status for status in statuses if status not in (0, NO_TESTS_RAN))
        return False, f"FAILED (exit {failed})"
    if all(status == NO_TESTS_RAN for status in statuses):
        return False, "FAILED (no test ran)"
    return True, "passed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="pytest processes at once (default: one per core); 1 shows the output live",
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

    # The backend-neutral tests go to PyTorch's processes when it runs: its session is the shortest.
    once_in = "torch" if "torch" in args.backends else args.backends[0]
    # Each notebook's smoke run goes to one backend of those running (tests/notebooks/test_notebooks.py).
    os.environ["COOKBOOK_MATRIX_BACKENDS"] = ",".join(args.backends)
    live, one_thread = args.jobs == 1, args.jobs > 1
    started = time.perf_counter()
    runs = plan(args.backends, args.pytest_args, fast=args.fast)
    waiting, running = list(runs), []
    with tempfile.TemporaryDirectory(prefix="cookbook-matrix-") as scratch:
        while waiting or running:
            while waiting and len(running) < args.jobs:
                run = waiting.pop(0)
                _start(run, Path(scratch), live, once_in, one_thread)
                running.append(run)
            for run in list(running):
                pid, status, usage = os.wait4(run.process.pid, os.WNOHANG)  # with its CPU time
                if pid == 0:
                    continue
                running.remove(run)
                run.cpu = usage.ru_utime + usage.ru_stime  # and that of the processes it waited for
                run.status, run.seconds = os.waitstatus_to_exitcode(status), time.perf_counter() - run.began
                if not live:
                    print(f"\n===== {run.name} =====", flush=True)
                    sys.stdout.write(run.log.read_text())
                    sys.stdout.flush()
            time.sleep(0.5)

        print(seconds_table(Path(scratch), args.backends))

    print("\n===== matrix =====")
    passed = True
    for backend in args.backends:
        own = [run for run in runs if run.backend == backend]
        ok, words = verdict(own)
        passed &= ok
        for run in own:
            status = {0: "passed", NO_TESTS_RAN: "no test selected"}.get(
                run.status, f"FAILED (exit {run.status})"
            )
            print(f"  {run.name:<30} {status:<18} {run.seconds:6.0f} s   CPU {run.cpu:6.0f} s")
        seconds, cpu = sum(run.seconds for run in own), sum(run.cpu for run in own)
        print(
            f"{backend:<32} {words:<18} {seconds:6.0f} s   CPU {cpu:6.0f} s ({cpu / seconds:.0%} of a core)"
        )
    print(f"{'wall time':<32} {'':<18} {time.perf_counter() - started:6.0f} s")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
