"""cookbook tune: a search completes and exports a model that predicts; a killed search resumes
with every trial run exactly once; a failing trial is recorded and the search goes on; bad input."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from cookbook.catalogue import load_recipe
from cookbook.cli import main
from cookbook.data import load_dataset
from cookbook.errors import CookbookError
from cookbook.training import compile_model, read_history
from tuning import search, spaces

SMALL = ["--epochs", "2", "--max-trials", "3"]

# keras-tuner's bookkeeping (resume after a kill, workers, failures, the options and files it takes)
# is the same on every backend: tests/run_matrix.py runs those tests in one backend's process. Every
# backend still runs one complete search, its export and train --hyperparameters (the tests on
# `exported` below).
ONCE = pytest.mark.once


def _statuses(folder: Path) -> dict[str, str]:
    """Each trial's status, as its trial.json says; a file the search is still writing is left out."""
    statuses = {}
    for path in folder.glob("trial_*/trial.json"):
        try:
            trial = json.loads(path.read_text())
        except json.JSONDecodeError:  # keras-tuner writes it in place: caught half-written
            continue
        statuses[trial["trial_id"]] = trial["status"]
    return statuses


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One small mlp search and its export, shared: (search folder, export folder, printed text)."""
    root = tmp_path_factory.mktemp("search")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["tune", "mlp", *SMALL, "--dir", str(root / "runs")]) == 0
        assert main(["tune", "mlp", "--dir", str(root / "runs"), "--export", str(root / "best")]) == 0
    return search.project(root / "runs", "mlp", "functional"), root / "best", printed.getvalue()


@pytest.mark.slow
def test_a_search_completes_and_its_exported_model_predicts_as_scored(exported, dataset):
    folder, best_folder, printed = exported
    assert _statuses(folder) == {"0": "COMPLETED", "1": "COMPLETED", "2": "COMPLETED"}
    assert "mlp (functional, random): 3 trials, scored by val_accuracy at the best epoch" in printed
    rows = search.trials(folder)
    assert [row["score"] for row in rows] == sorted((row["score"] for row in rows), reverse=True)
    assert all(row["seconds"] > 0 for row in rows)
    for row in rows:  # scored at the epoch keras-tuner recorded as the trial's best
        trial = json.loads((folder / f"trial_{row['trial']}/trial.json").read_text())
        assert row["epochs"] == trial["best_step"] + 1 and 1 <= row["epochs"] <= 2

    best = json.loads((best_folder / "best.json").read_text())
    assert best["hyperparameters"] == json.loads((best_folder / "best_hyperparameters.json").read_text())
    assert best["hyperparameters"] == {**rows[0]["hyperparameters"], "epochs": rows[0]["epochs"]}
    assert best["objective"] == "val_accuracy" and best["epochs"] == rows[0]["epochs"]
    assert len((best_folder / "trials.csv").read_text().splitlines()) == 1 + 3
    assert (best_folder / "scores.png").stat().st_size > 0
    model = keras.saving.load_model(best_folder / "model.keras", safe_mode=True)
    digits = dataset("digits")
    predicted = model.predict(digits.x_test, verbose=0).argmax(axis=-1)
    assert np.mean(predicted == digits.y_test) == pytest.approx(best["test"]["accuracy"], abs=1e-6)
    widths = [int(units) for units in best["hyperparameters"]["hidden_units"].split(",")]
    dense = [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert dense == [*widths, 10]  # the hidden layers the trial named, then the output
    assert f"the same model again: cookbook train mlp --hyperparameters {best_folder}" in printed


@pytest.mark.slow
def test_train_with_the_exported_hyperparameters_scores_as_the_export(exported, tmp_path, capsys):
    """The round trip: `cookbook train --hyperparameters best_hyperparameters.json` trains the model
    that `--export` retrained (same backend and seed), and gets its test scores back."""
    _, best_folder, _ = exported
    best = json.loads((best_folder / "best.json").read_text())
    out = tmp_path / "again"
    hyperparameters = str(best_folder / "best_hyperparameters.json")
    assert main(["train", "mlp", "--hyperparameters", hyperparameters, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    values = best["hyperparameters"]
    assert (metrics["epochs"], metrics["batch_size"]) == (values["epochs"], values["batch_size"])
    assert metrics["learning_rate"] == values["learning_rate"]
    assert metrics["settings"] == {"hidden_units": [int(u) for u in values["hidden_units"].split(",")]}
    assert len(read_history(out / "history.csv")["epoch"]) == values["epochs"]
    # The same code trains both (export calls train with this file): measured equal, difference 0.0,
    # on jax, torch and tensorflow (CPU). Another seed alone moves accuracy by 0.01 to 0.03 and
    # the loss by 0.03 to 0.1 (jax), so 1e-6 tells this model from any other
    for name, score in best["test"].items():
        assert metrics["test"][name] == pytest.approx(score, abs=1e-6), name


@pytest.mark.slow
def test_export_retrains_for_the_epoch_the_best_trial_scored_at(exported, tmp_path):
    """A trial is scored at its best epoch: the export trains that many epochs, not the search's."""
    folder, _, _ = exported
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    best = search.trials(copy)[0]
    record = copy / f"trial_{best['trial']}/trial.json"
    trial = json.loads(record.read_text())
    record.write_text(json.dumps({**trial, "best_step": 0}))  # as if it scored best after epoch 1
    result = search.export(copy, tmp_path / "best", verbose=0)
    assert result["epochs"] == 1
    assert json.loads((tmp_path / "best/best_hyperparameters.json").read_text())["epochs"] == 1
    assert json.loads((tmp_path / "best/metrics.json").read_text())["epochs"] == 1
    assert read_history(tmp_path / "best/history.csv")["epoch"] == [0]


@pytest.mark.slow
@ONCE
def test_the_options_given_win_over_the_hyperparameters_file(tmp_path, capsys):
    path = tmp_path / "best_hyperparameters.json"
    path.write_text(json.dumps({"learning_rate": 0.003, "batch_size": 64, "hidden_units": "16", "epochs": 3}))
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "mlp",
                "--hyperparameters",
                str(path),
                "--epochs",
                "1",
                "--learning-rate",
                "0.01",
                "--set",
                "hidden_units=8,4",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["epochs"], metrics["batch_size"], metrics["learning_rate"]) == (1, 64, 0.01)
    assert metrics["settings"] == {"hidden_units": [8, 4]}


@ONCE
def test_a_bad_hyperparameters_file_is_one_line_and_exit_2(tmp_path, capsys):
    files = {
        "unknown.json": ('{"width": 64}', "unknown hyperparameter 'width'; valid: input_shape"),
        "broken.json": ('{"hidden_units": ', "is not JSON"),
        "list.json": ("[64, 32]", "must be a JSON object of name: value"),
        "value.json": ('{"hidden_units": "a,b"}', "hidden_units='a,b' is not a value like (128, 64)"),
        "rate.json": ('{"learning_rate": 0}', "learning_rate must be a positive number, got 0"),
        "epochs.json": ('{"epochs": 2.5}', "epochs must be a positive integer, got 2.5"),
    }
    cases = [([str(tmp_path / "missing.json")], "cannot read --hyperparameters")]
    for name, (text, message) in files.items():
        (tmp_path / name).write_text(text)
        cases.append(([str(tmp_path / name)], message))
    for extra, message in cases:
        assert main(["train", "mlp", "--out", str(tmp_path / "run"), "--hyperparameters", *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("cookbook: error:") and message in err[0], err
    assert main(["train", "mlp", "--out", str(tmp_path / "run"), "--learning-rate", "-0.1"]) == 2
    assert "--learning-rate must be a positive number, got -0.1" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # each refused before anything was trained or written


@ONCE
def test_every_space_names_only_what_cookbook_train_takes():
    """Each hyperparameter is a DEFAULTS name (or a training option), and each of its values is
    what ``--set`` takes: the same candidate networks as before the names were the recipes'."""
    import keras_tuner

    from cookbook.training import TRAINING_HYPERPARAMETERS, parse_values

    for name in spaces.ARCHITECTURES:
        recipe = load_recipe(name)
        hp = keras_tuner.HyperParameters()
        spaces.training(hp, recipe)
        settings = spaces.architecture(hp, name)
        assert {item.name for item in hp.space} <= {*recipe.DEFAULTS, *TRAINING_HYPERPARAMETERS}, name
        assert set(settings) == {item.name for item in hp.space} - set(TRAINING_HYPERPARAMETERS)
        for item in hp.space:
            for value in item.values:
                if item.name in recipe.DEFAULTS:
                    converted = parse_values({item.name: value}, recipe.DEFAULTS)[item.name]
                    assert type(converted) is type(recipe.DEFAULTS[item.name]), (name, item.name, value)
    hp = keras_tuner.HyperParameters()
    spaces.architecture(hp, "mlp")
    (choice,) = hp.space
    networks = {
        parse_values({"hidden_units": v}, {"hidden_units": (1,)})["hidden_units"] for v in choice.values
    }
    before = {tuple(max(w // 2**i, 4) for i in range(d)) for w in (32, 64, 128, 256) for d in (1, 2, 3)}
    assert networks == before and len(choice.values) == 12  # (a first width, 1 to 3 layers each halving)
    hp = keras_tuner.HyperParameters()
    assert spaces.architecture(hp, "cnn")["filters"] == (16, 32)  # both stages, as --set filters=16,32
    assert set(hp.space[0].values) == {"16,32", "32,64", "64,128"}


@pytest.mark.slow
@ONCE
def test_the_objective_is_the_headline_a_recipe_compiles(tmp_path):
    """Exact match for the seq2seq recipes (a name their fit really logs), else accuracy, else loss."""
    assert {
        name: search.headline(load_recipe(name))
        for name in ("seq2seq_rnn", "transformer_seq2seq", "mlp", "gpt", "autoencoder", "vae")
    } == {
        "seq2seq_rnn": "val_exact_match",
        "transformer_seq2seq": "val_exact_match",
        "mlp": "val_accuracy",
        "gpt": "val_accuracy",
        "autoencoder": "val_loss",
        "vae": "val_loss",
    }
    directions = {
        name: search.direction(name)
        for name in (
            "val_exact_match",
            "val_accuracy",
            "val_loss",
            "val_bits_per_character",
            "val_reconstruction_loss",
        )
    }
    assert directions == {
        "val_exact_match": "max",
        "val_accuracy": "max",
        "val_loss": "min",
        "val_bits_per_character": "min",
        "val_reconstruction_loss": "min",
    }
    recipe = load_recipe("seq2seq_rnn")  # what its fit logs, less Keras' "val_" of the validation pass
    data = load_dataset("addition")
    model = compile_model(recipe.build_functional(units=8), recipe)
    logged = model.evaluate(data.x_val[:16], data.y_val[:16], verbose=0, return_dict=True)
    assert {name.removeprefix("val_") for name in search.objectives(recipe)} == set(logged)


@pytest.mark.slow
@ONCE
def test_a_search_records_its_objective_and_a_resume_keeps_it(tmp_path, capsys):
    folder = search.tune(
        "perceptron", max_trials=2, epochs=1, directory=tmp_path, verbose=0, objective="val_loss"
    )
    assert json.loads((folder / "search.json").read_text())["objective"] == "val_loss"
    assert "scored by val_loss at the best epoch (lower is better)" in search.summary(folder)
    scores = [row["score"] for row in search.trials(folder)]
    assert scores == sorted(scores)  # the lowest loss first
    trial = json.loads(next(folder.glob("trial_*/trial.json")).read_text())
    assert trial["metrics"]["metrics"]["val_loss"]["direction"] == "min"  # what keras-tuner was told
    with pytest.raises(CookbookError, match="holds another search"):
        search.tune("perceptron", directory=tmp_path, resume=True, verbose=0, objective="val_accuracy")
    search.tune("perceptron", directory=tmp_path, resume=True, verbose=0)  # the options left out: its own
    assert "the search is complete: 2 of 2 trials ended" in capsys.readouterr().out


@pytest.mark.slow
@ONCE
def test_a_killed_search_resumes_and_runs_every_trial_exactly_once(tmp_path):
    """SIGKILL in the middle of the second trial, then --resume: three trials, each completed once."""
    runs = tmp_path / "runs"
    command = [
        sys.executable,
        "-m",
        "cookbook",
        "tune",
        "mlp",
        "--epochs",
        "30",
        "--max-trials",
        "3",
        "--dir",
        str(runs),
        "--backend",
        keras.backend.backend(),
    ]
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


@pytest.mark.slow
@ONCE
def test_a_chief_and_two_workers_finish_a_search_when_a_worker_is_killed(tmp_path):
    """SIGKILL one worker in the middle of its trial: the chief restarts it with its id, it runs
    that trial again, and every trial ends exactly once."""
    runs = tmp_path / "runs"
    command = [
        sys.executable,
        "-m",
        "cookbook",
        "tune",
        "mlp",
        "--epochs",
        "6",
        "--max-trials",
        "4",
        "--workers",
        "2",
        "--time-limit",
        "400",
        "--dir",
        str(runs),
        "--backend",
        keras.backend.backend(),
    ]
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


@pytest.mark.slow
@ONCE
def test_the_time_limit_stops_the_workers_and_resume_finishes(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert (
        main(
            [
                "tune",
                "perceptron",
                "--epochs",
                "1",
                "--max-trials",
                "2",
                "--workers",
                "1",
                "--time-limit",
                "0.5",
                "--dir",
                str(runs),
            ]
        )
        == 2
    )
    assert "the time limit (0.5 s) stopped the search with 0 trials ended" in capsys.readouterr().err
    folder = search.project(runs, "perceptron", "functional")
    pid = json.loads((folder / "workers/workers.json").read_text())["worker0"]["pid"]
    with pytest.raises(ProcessLookupError):  # (stopped, and reaped by the chief)
        os.kill(pid, 0)
    search.tune("perceptron", directory=runs, resume=True, verbose=0)
    assert _statuses(folder) == {"0": "COMPLETED", "1": "COMPLETED"}


@pytest.mark.slow
@ONCE
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


@pytest.mark.slow
@ONCE
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


@ONCE
def test_a_nan_loss_fails_the_trial(tmp_path, monkeypatch):
    monkeypatch.setattr(
        search.spaces,
        "training",
        lambda hp, task: {
            "learning_rate": hp.Choice("learning_rate", [1e30]),
            "batch_size": hp.Choice("batch_size", [32]),
        },
    )
    with pytest.raises(CookbookError, match="stopped after 1 failed trials in a row .*NaN in epoch 1"):
        search.tune("mlp", max_trials=2, epochs=2, directory=tmp_path, max_failures=1, verbose=0)
    (row,) = search.trials(search.project(tmp_path, "mlp", "functional"))
    assert row["status"] == "FAILED" and "the loss became NaN in epoch 1" in row["reason"]


@pytest.mark.slow
@ONCE
@pytest.mark.parametrize("algorithm", ["bayesian", "grid", "hyperband"])
def test_every_algorithm_walks_the_space(tmp_path, algorithm):
    folder = search.tune("perceptron", algorithm, max_trials=2, epochs=2, directory=tmp_path, verbose=0)
    rows = search.trials(folder)
    assert rows and all(row["status"] == "COMPLETED" for row in rows)


@ONCE
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
        (
            ["--objective", "val_exact_match"],
            "mlp logs no 'val_exact_match' to score trials by; choose one of: val_loss, val_accuracy",
        ),
    ]
    for extra, message in cases:
        assert main(["tune", "mlp", "--dir", str(tmp_path), *extra]) == 2
        assert message in capsys.readouterr().err
    assert main(["tune", "gan", "--dir", str(tmp_path)]) == 2
    assert "gan trains by its own game, which has no validation score" in capsys.readouterr().err
    assert main(["tune", "nope"]) == 2
    assert "unknown recipe 'nope'" in capsys.readouterr().err
    assert main(["tune", "mlp", "--algo", "annealing"]) == 2  # argparse's refusal, returned as a status
    assert "invalid choice: 'annealing'" in capsys.readouterr().err
    search.tune("perceptron", max_trials=1, epochs=1, directory=tmp_path, verbose=0)
    with pytest.raises(CookbookError, match="already holds a search: --resume it"):
        search.tune("perceptron", max_trials=1, epochs=1, directory=tmp_path, verbose=0)


@pytest.mark.slow
@ONCE
def test_each_trial_is_fed_the_masks_its_own_unet_predicts(tmp_path, monkeypatch):
    """A search that tries both paddings: a valid-padded trial predicts the masks' centre and is
    fed masks cropped to it, as `cookbook train` crops them (tests/recipes/test_unet.py), a same-padded
    trial the whole mask."""
    from cookbook.data import DATASETS, SHAPES, Dataset, make_shapes

    x, y = make_shapes(200, size=44, seed=2)  # valid, depth 1: 44 -> 40 -> 20 -> 16 -> 32 -> 28
    scenes = Dataset(
        "shapes", "segmentation", x[:128], y[:128], x[128:160], y[128:160], x[160:], y[160:], list(SHAPES)
    )
    monkeypatch.setitem(DATASETS, "shapes", lambda: scenes)
    monkeypatch.setattr(
        spaces,
        "training",
        lambda hp, task: {
            "learning_rate": hp.Fixed("learning_rate", 1e-3),
            "batch_size": hp.Fixed("batch_size", 32),
        },
    )
    paddings = lambda hp: {"padding": hp.Choice("padding", ["same", "valid"]), "depth": 1, "filters": 4}  # noqa: E731
    monkeypatch.setitem(spaces.ARCHITECTURES, "unet", paddings)
    folder = search.tune("unet", "grid", max_trials=2, epochs=1, directory=tmp_path, verbose=0)
    rows = search.trials(folder)
    assert sorted(row["hyperparameters"]["padding"] for row in rows) == ["same", "valid"]
    assert [row["status"] for row in rows] == ["COMPLETED", "COMPLETED"], [row.get("reason") for row in rows]
