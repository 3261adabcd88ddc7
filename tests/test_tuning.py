"""cookbook tune: a search completes and exports a model that predicts; a killed search resumes
with every trial run exactly once; a failing trial is recorded and the search goes on; bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from recipes._cli import main
from recipes._errors import CookbookError
from tuning import search

SMALL = ["--epochs", "2", "--max-trials", "3"]


def _statuses(folder: Path) -> dict[str, str]:
    return {json.loads(p.read_text())["trial_id"]: json.loads(p.read_text())["status"]
            for p in folder.glob("trial_*/trial.json")}  # fmt: skip


def test_a_search_completes_and_its_exported_model_predicts_as_scored(tmp_path, capsys, dataset):
    assert main(["tune", "mlp", *SMALL, "--dir", str(tmp_path / "runs")]) == 0
    folder = search.project(tmp_path / "runs", "mlp", "functional")
    assert _statuses(folder) == {"0": "COMPLETED", "1": "COMPLETED", "2": "COMPLETED"}
    table = capsys.readouterr().out
    assert "mlp (functional, random): 3 trials, scored by val_accuracy" in table
    rows = search.trials(folder)
    assert [row["score"] for row in rows] == sorted((row["score"] for row in rows), reverse=True)
    assert all(row["seconds"] > 0 for row in rows)

    assert main(["tune", "mlp", "--dir", str(tmp_path / "runs"), "--export", str(tmp_path / "best")]) == 0
    best = json.loads((tmp_path / "best/best.json").read_text())
    assert best["hyperparameters"] == json.loads((tmp_path / "best/best_hyperparameters.json").read_text())
    assert best["hyperparameters"] == {k: v for k, v in rows[0]["hyperparameters"].items()}
    assert len((tmp_path / "best/trials.csv").read_text().splitlines()) == 1 + 3
    assert (tmp_path / "best/scores.png").stat().st_size > 0
    model = keras.saving.load_model(tmp_path / "best/model.keras", safe_mode=True)
    digits = dataset("digits")
    predicted = model.predict(digits.x_test, verbose=0).argmax(axis=-1)
    assert np.mean(predicted == digits.y_test) == pytest.approx(best["test"]["accuracy"], abs=1e-6)
    assert model.layers[-2].units == best["hyperparameters"]["width"] // 2 ** (
        best["hyperparameters"]["depth"] - 1
    )


def test_a_killed_search_resumes_and_runs_every_trial_exactly_once(tmp_path):
    """SIGKILL in the middle of the second trial, then --resume: three trials, each completed once."""
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "recipes", "tune", "mlp", "--epochs", "30", "--max-trials", "3",
               "--dir", str(runs), "--backend", keras.backend.backend()]  # fmt: skip
    folder = search.project(runs, "mlp", "functional")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while "1" not in _statuses(folder):  # the second trial has begun
            assert process.poll() is None and time.monotonic() < deadline, "the search ended before the kill"
            time.sleep(0.05)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert _statuses(folder)["1"] == "RUNNING" and "2" not in _statuses(folder)
    first = json.loads((folder / "trial_0/trial.json").read_text())
    # keras-tuner's own chief can leave an ended trial listed as ongoing: it must not run again
    state = json.loads((folder / "oracle.json").read_text())
    state["ongoing_trials"]["worker0"] = "0"
    (folder / "oracle.json").write_text(json.dumps(state))
    assert main(["tune", "mlp", "--epochs", "30", "--max-trials", "3", "--dir", str(runs), "--resume"]) == 0
    statuses = _statuses(folder)
    assert statuses == {"0": "COMPLETED", "1": "COMPLETED", "2": "COMPLETED"}
    assert json.loads((folder / "trial_0/trial.json").read_text()) == first  # the finished trial is kept
    assert json.loads((folder / "oracle.json").read_text())["run_times"] == {"0": 1, "1": 1, "2": 1}
    assert (
        main(["tune", "mlp", "--dir", str(runs), "--resume"]) == 0
    )  # the options left out: the search's own
    assert _statuses(folder) == statuses  # a finished search runs nothing more
    assert main(["tune", "mlp", "--epochs", "5", "--dir", str(runs), "--resume"]) == 2  # another search


def _ongoing(folder: Path) -> dict:
    try:
        return json.loads((folder / "oracle.json").read_text())["ongoing_trials"]
    except (OSError, ValueError):  # not written yet, or being written
        return {}


def test_a_chief_and_two_workers_finish_a_search_when_a_worker_is_killed(tmp_path):
    """SIGKILL one worker in the middle of its trial: the chief restarts it with its id, it runs
    that trial again, and every trial ends exactly once."""
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "recipes", "tune", "mlp", "--epochs", "6", "--max-trials", "4",
               "--workers", "2", "--time-limit", "400", "--dir", str(runs), "--backend", keras.backend.backend()]  # fmt: skip
    folder = search.project(runs, "mlp", "functional")
    chief = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300
        while "worker0" not in _ongoing(folder):
            assert chief.poll() is None and time.monotonic() < deadline, "the search ended before the kill"
            time.sleep(0.05)
        killed = _ongoing(folder)["worker0"]
        os.kill(json.loads((folder / "workers/workers.json").read_text())["worker0"]["pid"], signal.SIGKILL)
        output, _ = chief.communicate(timeout=400)
    finally:
        chief.kill()
    assert chief.returncode == 0, output[-2000:]
    assert _statuses(folder) == dict.fromkeys(["0", "1", "2", "3"], "COMPLETED")
    state = json.loads((folder / "oracle.json").read_text())
    assert state["ongoing_trials"] == {} and state["run_times"] == dict.fromkeys(["0", "1", "2", "3"], 1)
    workers = json.loads((folder / "workers/workers.json").read_text())
    assert workers["worker0"]["restarts"] == 1 and workers["worker1"]["restarts"] == 0
    rows = {row["trial"]: row for row in search.trials(folder)}
    assert rows[killed]["tuner"] == "worker0"  # the orphaned trial went back to the restarted worker0
    assert {row["tuner"] for row in rows.values()} == {"worker0", "worker1"}
    assert "by" in output and "mlp (functional, random): 4 trials" in output
    assert main(["tune", "mlp", "--dir", str(runs), "--resume", "--workers", "2"]) == 0  # nothing to run
    assert json.loads((folder / "oracle.json").read_text())["run_times"] == state["run_times"]


def test_the_time_limit_stops_the_workers_and_resume_finishes(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["tune", "perceptron", "--epochs", "1", "--max-trials", "2", "--workers", "1",
                 "--time-limit", "0.5", "--dir", str(runs)]) == 2  # fmt: skip
    assert "the time limit (0.5 s) stopped the search with 0 trials ended" in capsys.readouterr().err
    folder = search.project(runs, "perceptron", "functional")
    pid = json.loads((folder / "workers/workers.json").read_text())["worker0"]["pid"]
    with pytest.raises(ProcessLookupError):  # (stopped, and reaped by the chief)
        os.kill(pid, 0)
    search.tune("perceptron", directory=runs, resume=True, verbose=0)
    assert _statuses(folder) == {"0": "COMPLETED", "1": "COMPLETED"}


def test_a_failing_trial_is_recorded_with_its_reason_and_the_search_goes_on(tmp_path, monkeypatch):
    build = search.build
    calls = []

    def build_that_fails_once(recipe, api, **settings):
        calls.append(settings)
        if len(calls) == 3:  # keras-tuner's first build only lists the space: this is the second trial
            raise RuntimeError("out of memory (simulated)")
        return build(recipe, api, **settings)

    monkeypatch.setattr(search, "build", build_that_fails_once)
    folder = search.tune("mlp", max_trials=3, epochs=1, directory=tmp_path, verbose=0)
    rows = {row["trial"]: row for row in search.trials(folder)}
    assert sorted(row["status"] for row in rows.values()) == ["COMPLETED", "COMPLETED", "FAILED"]
    (failed,) = (row for row in rows.values() if row["status"] == "FAILED")
    assert "out of memory (simulated)" in failed["reason"]
    assert "FAILED" in search.summary(
        folder
    ) and "(RuntimeError: out of memory (simulated))" in search.summary(folder)


def test_ctrl_c_stops_with_one_line_and_resume_finishes_the_search(tmp_path, monkeypatch):
    build, calls = search.build, []

    def build_interrupted_once(recipe, api, **settings):
        calls.append(settings)
        if len(calls) == 3:  # in the second trial
            raise KeyboardInterrupt
        return build(recipe, api, **settings)

    monkeypatch.setattr(search, "build", build_interrupted_once)
    with pytest.raises(CookbookError, match="interrupted: the finished trials are kept in .*add --resume"):
        search.tune("perceptron", max_trials=2, epochs=1, directory=tmp_path, verbose=0)
    folder = search.tune("perceptron", max_trials=2, epochs=1, directory=tmp_path, resume=True, verbose=0)
    assert [row["status"] for row in search.trials(folder)] == ["COMPLETED", "COMPLETED"]


def test_a_nan_loss_fails_the_trial(tmp_path, monkeypatch):
    monkeypatch.setattr(search.spaces, "training", lambda hp, task: {
        "learning_rate": hp.Choice("learning_rate", [1e30]), "batch_size": hp.Choice("batch_size", [32])})  # fmt: skip
    with pytest.raises(CookbookError, match="stopped after 1 failed trials in a row .*NaN in epoch 1"):
        search.tune("mlp", max_trials=2, epochs=2, directory=tmp_path, max_failures=1, verbose=0)
    (row,) = search.trials(search.project(tmp_path, "mlp", "functional"))
    assert row["status"] == "FAILED" and "the loss became NaN in epoch 1" in row["reason"]


@pytest.mark.parametrize("algorithm", ["bayesian", "grid", "hyperband"])
def test_every_algorithm_walks_the_space(tmp_path, algorithm):
    folder = search.tune("perceptron", algorithm, max_trials=2, epochs=2, directory=tmp_path, verbose=0)
    rows = search.trials(folder)
    assert rows and all(row["status"] == "COMPLETED" for row in rows)


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    cases = [
        (["--max-trials", "0"], "--max-trials, --epochs and --max-failures must be at least 1"),
        (["--resume"], "nothing to resume in"),
        (["--summary"], "no search in"),
        (["--export", str(tmp_path / "best")], "no search in"),
        (["--time-limit", "60"], "--time-limit and --oracle are the chief's: they need --workers"),
        (["--workers", "-1"], "--workers must be at least 0"),
        (["--join", "localhost"], "'localhost' is not HOST:PORT"),
        (["--join", "127.0.0.1:1", "--worker-id", "chief2"], "an id containing 'chief' for the chief"),
        (["--join", "127.0.0.1:1"], "--dir must be the chief's (shared) directory"),
    ]
    for extra, message in cases:
        assert main(["tune", "mlp", "--dir", str(tmp_path), *extra]) == 2
        assert message in capsys.readouterr().err
    assert main(["tune", "gan", "--dir", str(tmp_path)]) == 2
    assert "gan trains by its own game, which has no validation score" in capsys.readouterr().err
    assert main(["tune", "nope"]) == 2
    assert "unknown recipe 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["tune", "mlp", "--algo", "annealing"])
    assert "invalid choice: 'annealing'" in capsys.readouterr().err
    search.tune("perceptron", max_trials=1, epochs=1, directory=tmp_path, verbose=0)
    with pytest.raises(CookbookError, match="already holds a search: --resume it"):
        search.tune("perceptron", max_trials=1, epochs=1, directory=tmp_path, verbose=0)
