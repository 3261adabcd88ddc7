"""What a new user meets in the first hour: no --backend needed after the first run, every model
file loaded the same way (its recipe imported first, safe_mode on, one line for every failure),
`cookbook evaluate`, `cookbook copy` into a folder, and one line at the edges (an unwritable
--out, a file that is not an image)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import BACKEND

from cookbook.catalogue import load_recipe
from cookbook.cli import main
from cookbook.models import UNSAFE_RISK, load_model
from cookbook.training import compile_model

ROOT = Path(__file__).resolve().parents[2]

# A machine where only JAX is installed: tensorflow and torch cannot be found or imported.
ONLY_JAX = """
import sys

class _Hidden:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "torch"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _Hidden())
"""

# Each command as a new process would meet it: no KERAS_BACKEND, so the cookbook chooses.
DRIVER = """
import json, os, sys
from cookbook.cli import main
for argv in json.loads(sys.argv[1]):
    os.environ.pop("KERAS_BACKEND", None)
    print("@@", " ".join(argv), file=sys.stderr, flush=True)
    print("@@", main(argv), " ".join(argv), flush=True)
"""


def _run(capsys, *argv) -> tuple[int, str, str]:
    try:
        status = main(list(argv))
    except SystemExit as exit_:
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cookbook: error:") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.slow
@pytest.mark.skipif(BACKEND != "jax", reason="once, in the JAX session: it hides the other backends")
def test_with_only_jax_installed_no_command_needs_the_backend_flag(tmp_path, _digit_classifier):
    home, hider = tmp_path / "home", tmp_path / "hide"
    home.mkdir(), hider.mkdir()
    (hider / "sitecustomize.py").write_text(ONLY_JAX)
    work = tmp_path / "work"
    (work / "runs").mkdir(parents=True)
    shutil.copytree(_digit_classifier, work / "runs/cnn-functional-jax")  # the digits classifier
    gan = load_recipe("gan")
    (work / "runs/gan-functional-jax").mkdir()
    compile_model(gan.build_functional(), gan).save(work / "runs/gan-functional-jax/model.keras")
    commands = [
        ["train", "mlp", "--epochs", "1", "--set", "hidden_units=16"],  # Keras writes keras.json here
        ["show", "cnn"],
        ["tune", "mlp", "--max-trials", "1", "--epochs", "1", "--dir", "runs/tuning"],
        ["tune", "mlp", "--dir", "runs/tuning", "--summary"],
        ["sample", "gan", "--n", "8", "--score", "100"],
        ["filters", "runs/cnn-functional-jax/model.keras"],
        ["evaluate", "runs/mlp-functional-jax"],
    ]
    env = {key: value for key, value in os.environ.items() if key not in ("KERAS_BACKEND", "KERAS_HOME")}
    env.update(HOME=str(home), PYTHONPATH=os.pathsep.join([str(hider), str(ROOT)]))
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(commands)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    statuses = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("@@")]
    assert statuses == ["0"] * len(commands), done.stdout[-3000:] + done.stderr[-3000:]
    # The trap the first run sets: Keras wrote keras.json naming a backend this machine lacks.
    assert json.loads((home / ".keras/keras.json").read_text())["backend"] == "tensorflow"
    chosen = [line for line in done.stderr.splitlines() if line.startswith("cookbook: the ")]
    assert len(chosen) == len(commands) and all(
        line.startswith("cookbook: the jax backend") for line in chosen
    )
    assert "keras.json names tensorflow, which is not" in chosen[1]  # show: nothing trained to go by
    assert "runs/gan-functional-jax was made with it" in chosen[4]
    assert "error" not in done.stderr
    evaluation = json.loads((work / "runs/mlp-functional-jax/evaluation.json").read_text())
    trained = json.loads((work / "runs/mlp-functional-jax/metrics.json").read_text())
    assert evaluation["test"]["accuracy"] == pytest.approx(trained["test"]["accuracy"], abs=1e-6)
    assert (work / "runs/gan-functional-jax/samples-0.png").exists()
    assert (work / "runs/cnn-functional-jax/filters.png").exists()


@pytest.fixture
def model_files(tmp_path, _digit_classifier) -> dict[str, Path]:
    """Files a user may hand a command: missing, not a zip, a zip without a model, a Lambda, a cnn."""
    files = {"missing": tmp_path / "nothing/model.keras", "cnn": _digit_classifier / "model.keras"}
    files["text"] = tmp_path / "notes.keras"
    files["text"].write_text("not a model\n")
    files["empty zip"] = tmp_path / "empty.keras"
    with zipfile.ZipFile(files["empty zip"], "w") as archive:
        archive.writestr("metadata.json", "{}")
    lambda_model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: 2 * x)])
    files["lambda"] = tmp_path / "lambda.keras"
    lambda_model.save(files["lambda"])
    return files


MODEL_COMMANDS = {
    "filters": ["filters", "{}"],
    "evaluate": ["evaluate", "{}"],
    "sample": ["sample", "gan", "--model", "{}", "--score", "0"],
    "generate": ["generate", "gpt", "--model", "{}"],
    "attention": ["attention", "vit", "--model", "{}"],
}
EXPECTED = {
    "missing": "no model file",
    "text": "is not a Keras model file (a .keras zip archive)",
    "empty zip": "is a damaged .keras file",
    "lambda": "holds a Lambda layer; loading it runs Python code stored in the file: only for a file "
    "you trust: pass --unsafe to load it",
    "cnn": "holds a cnn model, not a",
}


@pytest.mark.parametrize("command", list(MODEL_COMMANDS))
@pytest.mark.parametrize("case", list(EXPECTED))
def test_every_command_that_loads_a_model_fails_in_one_line(command, case, model_files, capsys):
    if case == "cnn" and command in ("filters", "evaluate"):
        pytest.skip("these take any recipe's model")
    argv = [part.format(model_files[case]) for part in MODEL_COMMANDS[command]]
    status, _, err = _run(capsys, *argv)
    assert status == 2
    assert EXPECTED[case] in _one_line(err)


def test_unsafe_opts_in_to_a_lambda_layer_and_the_model_still_computes(model_files):
    model = load_model(model_files["lambda"], unsafe=True)
    x = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x)), 2 * x)


def test_a_model_with_a_recipe_layer_loads_in_a_fresh_process(_digit_classifier):
    """The cnn holds RandomShift, a layer of its recipe: the loader imports the recipe first."""
    code = (
        "import numpy as np, sys; from cookbook.models import load_model; "
        "m = load_model(sys.argv[1]); print(m.predict(np.zeros((1, 8, 8, 1)), verbose=0).shape)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(_digit_classifier / "model.keras")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and "(1, 10)" in done.stdout, done.stderr[-2000:]


def test_evaluate_reports_what_train_reported(_digit_classifier, capsys, tmp_path):
    status, out, _ = _run(capsys, "evaluate", str(_digit_classifier), "--out", str(tmp_path))
    assert status == 0
    trained = json.loads((_digit_classifier / "metrics.json").read_text())
    evaluation = json.loads((tmp_path / "evaluation.json").read_text())
    assert evaluation["recipe"] == "cnn" and evaluation["dataset"] == "digits"
    assert evaluation["test"] == pytest.approx(trained["test"], abs=1e-6)
    assert f"test: accuracy {trained['test']['accuracy']:.4f}" in out


def test_evaluate_refuses_data_of_another_shape_in_one_line(_digit_classifier, capsys):
    status, _, err = _run(capsys, "evaluate", str(_digit_classifier), "--dataset", "wine")
    assert status == 2 and "unknown dataset 'wine'" in _one_line(err)


@pytest.mark.once  # copies files
def test_copy_into_a_folder_as_the_readme_shows_it(capsys, tmp_path, monkeypatch):
    assert "cookbook copy cnn my_project/" in (ROOT / "README.md").read_text()
    monkeypatch.chdir(tmp_path)
    status, out, _ = _run(capsys, "copy", "cnn", "my_project/")
    assert status == 0 and (tmp_path / "my_project/cnn.py").is_file()
    (tmp_path / "vendor").mkdir()
    assert _run(capsys, "copy", "mlp", "vendor")[0] == 0 and (tmp_path / "vendor/mlp.py").is_file()
    assert _run(capsys, "copy", "gru", "my_gru.py")[0] == 0 and (tmp_path / "my_gru.py").is_file()


@pytest.mark.once  # fails on --out and PIL first
def test_an_unwritable_out_and_a_file_that_is_not_an_image_are_one_line(capsys, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    status, _, err = _run(capsys, "train", "perceptron", "--epochs", "1", "--out", str(blocker / "run"))
    assert status == 2 and f"cannot use {blocker / 'run'}" in _one_line(err)
    (tmp_path / "photo.jpg").write_text("not a photo")
    status, _, err = _run(capsys, "edges", "--image", str(tmp_path / "photo.jpg"), "--out", str(tmp_path))
    assert status == 2 and "photo.jpg is not an image" in _one_line(err)


@pytest.mark.once  # refused before any model
def test_an_impossible_label_is_refused_before_any_model_is_looked_for(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no runs/ here: a model would be missing too
    status, _, err = _run(capsys, "sample", "conditional_gan", "--label", "11")
    assert status == 2 and "unknown label 11; this model draws labels 0 to 9" in _one_line(err)
    status, _, err = _run(capsys, "sample", "gan", "--label", "3")
    assert status == 2 and "this model takes no label" in _one_line(err)


def test_the_unsafe_flag_says_what_it_risks_and_loads_the_file(model_files, capsys):
    status, _, err = _run(capsys, "filters", str(model_files["lambda"]), "--unsafe")
    assert status == 2  # loaded this time: it is the missing Conv2D that ends it
    said = err.strip().splitlines()
    assert said[0] == "cookbook: --unsafe: safe_mode is off; " + UNSAFE_RISK
    assert said[1].endswith("has no Conv2D layer to plot")


@pytest.mark.once  # refused before any model
def test_generate_checks_its_numbers_before_it_looks_for_a_model(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, _, err = _run(capsys, "generate", "gpt", "--length", "-1")
    assert status == 2 and "--length and --temperature must be >= 0" in _one_line(err)
