"""benchmarks/gpu_check.py: its dry run, every step at tiny sizes on this CPU, so that the check a
lent GPU runs cannot rot between the sessions that have one; a step that fails is a row of the
report, not the end of the check; bad input in one line."""

from __future__ import annotations

import sys

import pytest

from benchmarks import gpu_check


@pytest.mark.once  # it runs each backend in a process of its own
@pytest.mark.slow
def test_the_dry_run_runs_every_step_and_writes_one_report(tmp_path, capsys):
    assert gpu_check.main(["--dry-run", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "gpu_check.md").read_text()
    assert text.startswith("# GPU check (dry run: tiny sizes)")
    steps = gpu_check.plan(tmp_path, dry_run=True)
    for step in steps:
        assert f"| {step.title} | ok |" in text
    assert "## cookbook doctor" in text and "backend in use:" in text
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith(("| cnn |", "| transformer_"))]
    trained = [row for row in rows if row[2] in gpu_check.PRECISIONS]  # the training table's rows
    assert [(row[0][2:], row[1], row[2]) for row in trained] == gpu_check.trained(dry_run=True)
    assert {row[1] for row in trained} == set(gpu_check.BACKENDS)  # each backend and precision once
    assert {row[2] for row in trained} == set(gpu_check.PRECISIONS)
    for row in trained:  # a trained model scores above chance (10 classes) even after one epoch
        assert float(row[3]) > 0.1, row
    assert "| mlp | torch (native) |" in text and "| mlp | jax |" in text  # the bench tables, inline
    assert "MFU" in text and "| gpt | torch |" in text
    assert "wrote" in capsys.readouterr().out


@pytest.mark.once  # a fake command in place of cookbook
def test_a_failing_step_is_a_row_and_the_steps_after_it_still_run(tmp_path, monkeypatch):
    fail = gpu_check.Step(
        "fails", [sys.executable, "-c", "import sys; print('broken on purpose'); sys.exit(3)"], 30
    )
    slow = gpu_check.Step("sleeps", [sys.executable, "-c", "import time; time.sleep(30)"], 6)
    fine = gpu_check.Step("works", [sys.executable, "-c", "print('fine')"], 30)
    monkeypatch.setattr(gpu_check, "plan", lambda out, dry_run: [fail, slow, fine])
    assert gpu_check.main(["--dry-run", "--out", str(tmp_path)]) == 1
    text = (tmp_path / "gpu_check.md").read_text()
    assert "| fails | failed (3) |" in text and "| sleeps | stopped: out of time |" in text
    assert "| works | ok |" in text
    assert "## fails: the end of its output" in text and "broken on purpose" in text


@pytest.mark.once  # refused before anything runs
def test_bad_input_is_one_line(tmp_path, capsys):
    assert gpu_check.main(["--budget", "5", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == "gpu_check: --budget must be at least 30 seconds; got 5"
    assert not (tmp_path / "gpu_check.md").exists()


@pytest.mark.once  # Keras hidden from the check, no Keras imported
def test_without_keras_or_carried_wheels_it_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "keras" else real(name, *a)
    )
    assert gpu_check.main(["--wheels", str(tmp_path / "no-wheels"), "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert (
        error
        == f"gpu_check: Keras is not installed and {tmp_path / 'no-wheels'} holds no wheels; see the docstring"
    )
