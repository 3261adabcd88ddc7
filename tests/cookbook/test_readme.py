"""README.md stays true: its catalogue lists every recipe, its test command is CI's."""

from __future__ import annotations

from pathlib import Path

import pytest

from cookbook.catalogue import registry

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


@pytest.mark.once  # README text and the registry
def test_the_recipe_table_lists_every_recipe_with_its_family_and_data():
    rows = {line.split("|")[1].strip(" `"): line for line in README.splitlines() if line.startswith("| `")}
    for name, info in registry().items():
        assert name in rows, f"README's recipe table lacks {name}"
        assert f"| {info.family} | {info.dataset} |" in rows[name]


@pytest.mark.once  # README and .ci/run text
def test_ci_runs_the_readme_test_command():
    ci = [line.split("#")[0].strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    steps = [
        line.replace("--quiet ", "").replace("--no-compile ", "")  # what CI adds for itself
        for line in ci
        if line.startswith(("pip install", "python "))
    ]
    command = next(line for line in README.splitlines() if line.endswith("python tests/run_matrix.py"))
    assert " && ".join(steps) in command
    assert "python3 -m venv .venv" in ci and command.startswith(
        "python3 -m venv .venv && . .venv/bin/activate"
    )
