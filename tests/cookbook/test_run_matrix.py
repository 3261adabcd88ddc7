"""tests/run_matrix.py's plan and verdict: which processes it starts and when a backend passes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, where run_matrix.py is
import run_matrix  # noqa: E402


@pytest.mark.once  # argument lists and exit codes
def test_each_backend_runs_in_two_parts_the_longest_first_and_every_file_in_one_of_them():
    runs = run_matrix.plan(["tensorflow", "jax", "torch"], ["-k", "cnn"])
    assert len(runs) == 6 and [run.expected for run in runs] == sorted(
        (r.expected for r in runs), reverse=True
    )
    for backend in ("tensorflow", "jax", "torch"):
        heavy, rest = sorted((r for r in runs if r.backend == backend), key=lambda r: r.part)
        assert heavy.args == [
            "-k",
            "cnn",
            "tests/notebooks/test_notebooks.py",
            "tests/recipes/test_contract.py",
            "tests/recipes/test_examples.py",
        ]
        assert rest.args == [
            "-k",
            "cnn",
            "--ignore=tests/notebooks/test_notebooks.py",
            "--ignore=tests/recipes/test_contract.py",
            "--ignore=tests/recipes/test_examples.py",
        ]


@pytest.mark.once  # argument lists and exit codes
def test_a_run_that_names_its_tests_is_not_split():
    (run,) = run_matrix.plan(["jax"], ["tests/cookbook/test_cli.py", "-q"])
    assert run.part == "all" and run.args == ["tests/cookbook/test_cli.py", "-q"]


@pytest.mark.once  # argument lists and exit codes
@pytest.mark.parametrize(
    "statuses, passed, words",
    [
        ((0, 0), True, "passed"),
        ((0, 5), True, "passed"),
        ((5, 5), False, "FAILED (no test ran)"),
        ((1, 0), False, "FAILED (exit 1)"),
        ((5, 2), False, "FAILED (exit 2)"),
    ],
)
def test_a_backend_passes_when_no_part_failed_and_one_ran_tests(statuses, passed, words):
    runs = [run_matrix.Run("jax", part, [], 0, status=status) for part, status in zip(("a", "b"), statuses)]
    assert run_matrix.verdict(runs) == (passed, words)
