"""The `cookbook` command: every route, and bad input as one line with exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from cookbook import inspection
from cookbook.backend import BACKENDS, installed_backends
from cookbook.catalogue import load_recipe, registry
from cookbook.cli import main
from cookbook.errors import CookbookError
from cookbook.protocol import schedule_name
from cookbook.training import compile_model, learning_rate_schedule, read_history, train


def _run(capsys, *argv):
    """``cookbook argv...`` in this process: (exit status, stdout, stderr)."""
    try:
        status = main(list(argv))
    except SystemExit as exit_:  # argparse's own errors
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cookbook"), err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.once  # the registry, read from the recipe files' text
def test_list_shows_every_recipe_with_family_and_data(capsys):
    status, out, _ = _run(capsys, "list")
    assert status == 0
    for name, info in registry().items():
        line = next(line for line in out.splitlines() if line.startswith(name + " "))
        assert info.family in line and info.dataset in line and info.summary in line


@pytest.mark.once  # a pipe closed by its reader: no Keras involved
def test_a_reader_that_stops_early_gets_no_error(tmp_path):
    """`cookbook list | head -3`: when the reader has gone, the command ends quietly with status 0."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cookbook", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    process.stdout.close()  # gone before the first line is written
    err = process.stderr.read()
    assert process.wait(timeout=60) == 0 and err == "", err


@pytest.mark.once  # the parser and the command table: no Keras involved
def test_every_command_has_one_row_in_the_table_and_a_recipe_where_it_says_so():
    from cookbook.cli import COMMANDS, build_parser

    (subcommands,) = [action for action in build_parser()._actions if action.dest == "command"]
    assert list(COMMANDS) == list(subcommands.choices)  # the same commands, in the help's order
    for name, parser in subcommands.choices.items():
        positional = [action.dest for action in parser._actions if not action.option_strings]
        assert (positional[:1] == ["recipe"]) == COMMANDS[name].takes_recipe, name


BAD_INPUT = {
    "unknown recipe": (["train", "resnet9000"], "unknown recipe 'resnet9000'"),
    "diagram of an unknown recipe": (["diagram", "cnn", "nope"], "unknown recipe 'nope'"),
    "unknown backend": (["train", "mlp", "--backend", "theano"], "invalid choice: 'theano'"),
    "unknown api": (["train", "mlp", "--api", "subclassing"], "invalid choice: 'subclassing'"),
    "unknown dataset": (["train", "mlp", "--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    "malformed --set": (["train", "mlp", "--set", "hidden_units"], "--set expects key=value"),
    "unknown --set key": (["train", "mlp", "--set", "depth=3"], "unknown setting 'depth'"),
    "--set of the wrong type": (["train", "cnn", "--set", "filters=a,b"], "expected a value like (32, 64)"),
    "--set out of range": (["train", "cnn", "--set", "padding=full"], "padding must be one of same, valid"),
    "bad epochs": (["train", "mlp", "--epochs", "0"], "must be positive"),
    "unknown command": (["fly"], "invalid choice: 'fly'"),
    "show unknown recipe": (["show", "nope"], "unknown recipe 'nope'"),
    "missing model": (["filters", "no/such/model.keras"], "no model file"),
    "unknown photo": (["edges", "--image", "moon.jpg"], "no image 'moon.jpg'"),
    "rnn race: bad length": (["compare-rnn", "--lengths", "10,1"], "sequence lengths must be at least 2"),
    "rnn race: not a length": (
        ["compare-rnn", "--lengths", "ten"],
        "argument --lengths: expects comma-separated integers",
    ),
    "rnn race: unknown cell": (["compare-rnn", "--cells", "lstm,tcn"], "unknown cell 'tcn'"),
    "lessons: unknown initializer": (
        ["compare-activations", "--initializers", "he_normal,orthogonal"],
        "unknown initializer 'orthogonal'; valid: glorot_uniform",
    ),
    "lessons: no layers": (["compare-activations", "--depth", "0"], "--depth, --width and --epochs must be"),
    "lessons: unknown schedule": (
        ["compare-optimizers", "--schedules", "cosine,step"],
        "unknown schedule 'step'; valid: constant, cosine, warmup_cosine",
    ),
    "lessons: a rate that is not a number": (
        ["compare-normalization", "--learning-rates", "0.01,fast"],
        "argument --learning-rates: expects comma-separated numbers, got '0.01,fast'",
    ),
    "lessons: a normalization a recipe does not know": (
        ["train", "mlp", "--set", "normalization=group"],
        "normalization must be one of none, batch, layer; got 'group'",
    ),
    "lessons: a fraction of nothing": (
        ["compare-inductive-bias", "--fractions", "0,0.5"],
        "--fractions must lie in (0, 1]; got 0, 0.5",
    ),
    "lessons: no epochs": (
        ["compare-optimizers", "--epochs", "0"],
        "--epochs and --batch-size must be at least 1",
    ),
    "heads that do not divide the width": (
        ["train", "transformer_classifier", "--set", "heads=5"],
        "5 heads do not divide width 64; heads that do: 1, 2, 4, 8, 16",
    ),
    "imdb for a digits-only recipe": (["train", "simple_rnn", "--dataset", "imdb"], "unknown dataset 'imdb'"),
}


@pytest.mark.once  # argparse, the registry, --set and config checks: no layer made
@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_and_status_2(case, capsys, tmp_path):
    argv, expected = BAD_INPUT[case]
    if argv[0] == "train":
        argv = [*argv, "--out", str(tmp_path / "run")]
    status, out, err = _run(capsys, *argv)
    assert status == 2
    assert expected in _one_line_error(err)
    assert not (tmp_path / "run" / "model.keras").exists()


@pytest.mark.once  # select_backend compares names
def test_another_backend_after_keras_is_imported_is_a_clear_error(capsys, tmp_path):
    other = next(name for name in BACKENDS if name != keras.backend.backend())
    status, _, err = _run(capsys, "train", "mlp", "--backend", other, "--out", str(tmp_path))
    assert status == 2
    assert f"already imported with the {keras.backend.backend()} backend" in _one_line_error(err)


def test_show_prints_both_summaries_and_the_verdict(capsys):
    status, out, _ = _run(capsys, "show", "cnn", "--set", "padding=valid", "--set", "filters=16")
    assert status == 0
    assert "cnn_sequential" in out and "cnn_functional" in out
    assert "floor((8 - 3)/1) + 1 = 6" in out  # the shape arithmetic of a valid convolution
    assert "the same network" in out


def test_show_fits_the_input_to_a_dataset(capsys):
    status, out, _ = _run(capsys, "show", "perceptron", "--dataset", "wine")
    assert status == 0
    assert "parameters: sequential 42, functional 42" in out  # 13 features * 3 classes + 3


def test_train_writes_model_history_curves_and_metrics(capsys, tmp_path):
    out_dir = tmp_path / "mlp"
    status, out, _ = _run(
        capsys,
        "train",
        "mlp",
        "--epochs",
        "3",
        "--api",
        "sequential",
        "--set",
        "hidden_units=32",
        "--out",
        str(out_dir),
    )
    assert status == 0
    assert {p.name for p in out_dir.iterdir()} >= {"model.keras", "history.csv", "curves.png", "metrics.json"}
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["backend"] == keras.backend.backend() and metrics["api"] == "sequential"
    assert metrics["settings"] == {"hidden_units": [32]}
    history = read_history(out_dir / "history.csv")
    assert history["epoch"] == [0, 1, 2] and history["loss"][-1] < history["loss"][0]
    assert (out_dir / "curves.png").stat().st_size > 10_000
    from cookbook.data import load_dataset

    digits = load_dataset("digits")
    model = keras.saving.load_model(out_dir / "model.keras", safe_mode=True)
    scores = model.evaluate(digits.x_test, digits.y_test, verbose=0, return_dict=True)
    assert scores["accuracy"] == pytest.approx(metrics["test"]["accuracy"], abs=1e-6)
    assert metrics["test"]["accuracy"] > 0.5


@pytest.mark.slow
def test_train_with_mixed_precision_keeps_the_output_in_float32(tmp_path):
    metrics = train(
        "cnn",
        epochs=1,
        precision="mixed_bfloat16",
        out=tmp_path,
        verbose=0,
        settings={"filters": (8,), "dense_units": 16},
    )
    assert metrics["precision"] == "mixed_bfloat16"
    model = keras.saving.load_model(tmp_path / "model.keras")
    assert model.layers[-1].dtype_policy.name == "float32"
    assert any(layer.dtype_policy.name == "mixed_bfloat16" for layer in model.layers)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored


class _StopAfter(keras.callbacks.Callback):
    """Plays a user pressing Ctrl-C at the end of an epoch."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch, self.seen = epoch, []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch)

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_an_interrupted_run_resumes_where_it_stopped(tmp_path):
    settings = {"hidden_units": (16,)}
    first = _StopAfter(epoch=1)
    with pytest.raises(CookbookError, match="interrupted: .* run the same command to resume"):
        train("mlp", epochs=4, out=tmp_path, settings=settings, verbose=0, callbacks=[first])
    assert first.seen == [0, 1] and not (tmp_path / "model.keras").exists()
    second = _StopAfter(epoch=-1)
    metrics = train("mlp", epochs=4, out=tmp_path, settings=settings, verbose=0, callbacks=[second])
    assert second.seen == [2, 3]  # the finished epochs were not run again
    assert read_history(tmp_path / "history.csv")["epoch"] == [0, 1, 2, 3]
    assert metrics["epochs"] == 4 and (tmp_path / "model.keras").exists()
    assert not (tmp_path / "backup").exists()  # a finished run leaves no backup behind


def test_a_resume_with_other_settings_is_refused_in_one_line(tmp_path):
    with pytest.raises(CookbookError, match="interrupted"):
        train(
            "mlp",
            epochs=3,
            out=tmp_path,
            settings={"hidden_units": (16,)},
            verbose=0,
            callbacks=[_StopAfter(epoch=0)],
        )
    with pytest.raises(CookbookError, match="holds an interrupted run of another configuration .* delete"):
        train("mlp", epochs=3, out=tmp_path, settings={"hidden_units": (32,)}, verbose=0)
    metrics = train("mlp", epochs=3, out=tmp_path, settings={"hidden_units": (16,)}, verbose=0)
    assert metrics["epochs"] == 3 and read_history(tmp_path / "history.csv")["epoch"] == [0, 1, 2]


class _LearningRates(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.rates = []

    def on_epoch_end(self, epoch, logs=None):
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


@pytest.mark.slow
def test_a_cosine_schedule_decays_to_zero_and_resumes_mid_decay(tmp_path):
    assert schedule_name(load_recipe("lstm").compile_settings(steps=10)["optimizer"]) == "CosineDecay"
    rates = _LearningRates()
    with pytest.raises(CookbookError, match="interrupted"):
        train(
            "lstm", epochs=4, out=tmp_path, settings={"units": 8}, verbose=0, callbacks=[rates, _StopAfter(1)]
        )
    train("lstm", epochs=4, out=tmp_path, settings={"units": 8}, verbose=0, callbacks=[rates])
    # epochs 0, 1, then (resumed) 2, 3: the decay goes on from the restored step count
    assert len(rates.rates) == 4 and all(a > b for a, b in zip(rates.rates, rates.rates[1:]))
    assert rates.rates[0] < 1e-2 and rates.rates[-1] == pytest.approx(0.0, abs=1e-7)


def test_an_unknown_schedule_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown schedule 'step'; valid: constant, cosine"):
        learning_rate_schedule("step", 1e-3, total_steps=10)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="JAX and PyTorch build it themselves")
@pytest.mark.parametrize("example", [False, True])
def test_an_example_batch_lets_tensorflow_trace_the_first_step_once(example):
    """Without ``example``, Keras creates the optimizer's and metrics' variables inside the first
    traced step, and tf.function traces the step again; built beforehand, one trace is enough."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    x, y = np.linspace(-1, 1, 256, dtype="float32").reshape(64, 4), np.arange(64) % 3
    compile_model(model, load_recipe("mlp"), example=(x, y) if example else None)
    traces, step = [], model.train_step
    model.train_step = lambda data: (traces.append(data), step(data))[1]  # runs once per trace
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert len(traces) == (1 if example else 2)


@pytest.mark.once  # copies a file
def test_copy_refuses_to_overwrite_without_force(capsys, tmp_path):
    status, out, _ = _run(capsys, "copy", "cnn", str(tmp_path))
    assert status == 0 and (tmp_path / "cnn.py").read_text() == registry()["cnn"].path.read_text()
    status, _, err = _run(capsys, "copy", "cnn", str(tmp_path))
    assert status == 2 and "already exists; pass --force" in _one_line_error(err)
    (tmp_path / "cnn.py").write_text("# my edits\n")
    assert _run(capsys, "copy", "cnn", str(tmp_path), "--force")[0] == 0
    assert (tmp_path / "cnn.py").read_text().startswith('"""Convolutional network')
    status, _, err = _run(capsys, "copy", "cnn", str(tmp_path / "missing" / "cnn.py"))
    assert status == 2 and "does not exist" in _one_line_error(err)


def test_edges_writes_the_edge_maps_of_a_sample_photo(capsys, tmp_path):
    status, out, _ = _run(capsys, "edges", "--image", "flower.jpg", "--out", str(tmp_path))
    assert status == 0
    png = tmp_path / "edges-flower.png"
    assert png.stat().st_size > 50_000 and str(png) in out


@pytest.mark.slow
def test_filters_plots_the_first_layer_of_a_trained_cnn(capsys, tmp_path):
    train("cnn", epochs=1, out=tmp_path, verbose=0, settings={"filters": (8,), "dense_units": 16})
    status, out, _ = _run(capsys, "filters", str(tmp_path / "model.keras"))
    assert status == 0 and (tmp_path / "filters.png").stat().st_size > 5_000


@pytest.mark.slow
@pytest.mark.once  # the bookkeeping; notebook 01 runs compare_regularizers on every backend
def test_compare_regularization_writes_results_for_every_variant(capsys, tmp_path):
    status, out, _ = _run(
        capsys, "compare-regularization", "--epochs", "2", "--train-size", "64", "--out", str(tmp_path)
    )
    assert status == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results) == {"none", "dropout", "l1", "l2", "l1l2", "dropconnect"}
    assert all(0 <= r["val_accuracy"] <= 1 for r in results.values())
    assert (tmp_path / "gap.png").exists()


@pytest.mark.slow
@pytest.mark.once  # the bookkeeping; notebook 04 runs compare_rnns on every backend
def test_compare_rnn_races_the_cells_and_resumes_without_rerunning(capsys, tmp_path, monkeypatch):
    import cookbook.experiments.compare_rnn as compare

    argv = [
        "compare-rnn",
        "--lengths",
        "2,3",
        "--cells",
        "simple_rnn,lstm",
        "--units",
        "8",
        "--epochs",
        "2",
        "--train-size",
        "128",
        "--out",
        str(tmp_path),
    ]
    status, out, _ = _run(capsys, *argv)
    assert status == 0 and "T=3" in out and (tmp_path / "solved.png").stat().st_size > 10_000
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert set(results) == {"simple_rnn", "lstm"} and set(results["lstm"]) == {"2", "3"}
    assert all(
        0 <= r["solved"] <= 1 and r["mse"] >= 0 and r["step_ms"] > 0
        for by in results.values()
        for r in by.values()
    )

    raced = []
    real_race = compare.race
    monkeypatch.setattr(
        compare, "race", lambda cell, length, *a: raced.append((cell, length)) or real_race(cell, length, *a)
    )
    status, _, _ = _run(capsys, *argv[:2], "2,3,4", *argv[3:])  # one more length: only its races run
    assert status == 0 and sorted(raced) == [("lstm", 4), ("simple_rnn", 4)]


@pytest.mark.slow
@pytest.mark.once  # it probes every installed backend, whichever runs the test
def test_doctor_reports_keras_backends_and_policy(capsys):
    status, out, _ = _run(capsys, "doctor")
    assert status == 0
    assert f"keras    {keras.__version__}" in out
    for name in installed_backends():
        assert any(line.startswith(name) and "GPUs:" in line for line in out.splitlines()), out
    assert f"backend in use: {keras.backend.backend()}, dtype policy: float32" in out


@pytest.mark.once  # the same split on every backend; the other backends' probes are stand-ins here
def test_the_backend_in_use_is_asked_here_and_each_other_in_a_process_of_its_own(monkeypatch):
    in_use = keras.backend.backend()
    others = [name for name in installed_backends() if name != in_use]
    if not others:
        pytest.skip("only one backend installed")
    # Stand-ins for the other backends' probes (the real ones import TensorFlow or torch): one
    # answers, one fails as a broken install does.
    monkeypatch.setitem(inspection._PROBES, others[0], 'print(\'{"version": "9.9", "gpus": ["GPU 0"]}\')')
    if len(others) > 1:
        monkeypatch.setitem(inspection._PROBES, others[1], "raise SystemExit('libcuda.so.1: cannot open')")
    started, popen = [], subprocess.Popen
    monkeypatch.setattr(
        inspection.subprocess, "Popen", lambda command, **kw: started.append(command) or popen(command, **kw)
    )
    found = inspection.probe_backends()
    assert list(found) == list(BACKENDS)
    assert [command[-1] for command in started] == [inspection._PROBES[name] for name in others]
    assert found[in_use] == {
        "installed": True,
        "version": sys.modules[BACKENDS[in_use][0]].__version__,
        "gpus": [],
    }
    assert found[others[0]] == {"installed": True, "version": "9.9", "gpus": ["GPU 0"]}
    if len(others) > 1:
        assert found[others[1]] == {"installed": True, "error": "libcuda.so.1: cannot open"}
    monkeypatch.setitem(inspection._PROBES, in_use, "raise RuntimeError('no device')")
    assert inspection.probe_backends()[in_use] == {"installed": True, "error": "RuntimeError: no device"}


def test_keras_backend_variable_is_honoured():
    assert keras.backend.backend() == os.environ["KERAS_BACKEND"]


@pytest.mark.slow
@pytest.mark.once  # a fresh process on another backend: the same check whichever backend starts it
def test_backend_flag_overrides_the_environment(tmp_path):
    """A fresh process: KERAS_BACKEND says one backend, --backend another; the flag wins."""
    current = keras.backend.backend()
    other = next((b for b in installed_backends() if b != current), None)
    if other is None:
        pytest.skip("only one backend installed")
    env = {**os.environ, "KERAS_BACKEND": current}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cookbook",
            "train",
            "perceptron",
            "--epochs",
            "1",
            "--backend",
            other,
            "--out",
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((tmp_path / "metrics.json").read_text())["backend"] == other


@pytest.mark.once  # the parser's text
def test_the_cli_reference_is_written_from_the_parser():
    """docs/CLI.md is every command's --help, from the one table the parser is built from."""
    from cookbook.cli import COMMANDS
    from cookbook.cli.reference import REFERENCE, reference

    text = reference()
    assert all(f"## cookbook {name}\n" in text for name in COMMANDS)
    assert "--learning-rates LEARNING_RATES" in text and "--unsafe" in text  # options, and added ones
    assert REFERENCE.read_text() == text, "docs/CLI.md is stale: run `python -m cookbook.cli.reference`"
