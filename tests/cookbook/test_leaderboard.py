"""cookbook leaderboard and cookbook/results.py: a trained run becomes a row of data, a second call
trains nothing twice, the rows become leaderboards and a plot, the project's own leaderboard is
rendered from its committed data, and bad input is one line."""

from __future__ import annotations

import json

import keras
import pytest

from cookbook import results
from cookbook.catalogue import registry
from cookbook.cli import main


@pytest.mark.once  # it trains in a process of its own, on the backend it names
@pytest.mark.slow
def test_a_trained_run_is_a_row_and_the_same_call_again_trains_nothing(tmp_path, capsys):
    backend = keras.backend.backend()
    argv = ["leaderboard", "perceptron", "--backends", backend, "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "1 run to train, each a process of its own; 0 already in" in out
    (row,) = results.read_rows(tmp_path / "train.csv")
    metrics = json.loads((tmp_path / "runs" / f"perceptron-{backend}-seed0" / "metrics.json").read_text())
    assert (row["recipe"], row["backend"], row["seed"], row["dataset"]) == (
        "perceptron",
        backend,
        0,
        "breast_cancer",
    )
    assert row["metric"] == "accuracy" and row["score"] == round(metrics["test"]["accuracy"], 5)
    assert row["score"] > 0.9  # trained: 63 % of the test tumours are benign
    assert row["parameters"] == metrics["parameters"] and row["epochs"] == 30
    assert f"[1/1] perceptron on {backend}, seed 0: accuracy" in out
    board = (tmp_path / "leaderboard.md").read_text()
    assert board == results.leaderboard_markdown([row])
    assert "| perceptron | feedforward | breast_cancer | accuracy |" in board and "## The digits" not in board

    assert main(argv) == 0  # resumed: the row is there, nothing is trained again
    assert "0 runs to train, each a process of its own; 1 already in" in capsys.readouterr().out
    assert results.read_rows(tmp_path / "train.csv") == [row]


def _row(recipe, dataset, backend, seed, score, parameters, family="convolutional", metric="accuracy"):
    return {
        "recipe": recipe,
        "family": family,
        "dataset": dataset,
        "backend": backend,
        "seed": seed,
        "epochs": 10,
        "batch_size": 32,
        "parameters": parameters,
        "metric": metric,
        "score": score,
        "train_seconds": 10.0 + seed,
        "concurrent_runs": 2,
        "keras_version": "3.15.1",
        "machine": "x86_64, 2 cores, Linux",
        "date": "2026-12-07",
        "test": "{}",
    }


@pytest.mark.once  # rows made up here: no Keras involved
def test_the_leaderboard_ranks_by_the_mean_shows_the_spread_and_draws_the_digits(tmp_path):
    rows = [
        _row("mlp", "digits", "jax", 0, 0.95, 5_000, family="feedforward"),
        _row("cnn", "digits", "jax", 0, 0.99, 99_000),
        _row("cnn", "digits", "jax", 1, 0.97, 99_000),
        _row("cnn", "digits", "torch", 0, 0.98, 99_000),
        _row("lstm", "digits_sequences", "torch", 0, 0.96, 20_000, family="recurrent"),
        _row("gpt", "docstrings", "jax", 0, 3.3, 200_000, "attention", "bits per character"),
        _row("big_gpt", "docstrings", "jax", 0, 3.1, 900_000, "attention", "bits per character"),
        _row("gan", "digits", "jax", 0, 0.9, 1_000, "generative", results.FRECHET),
        _row("gan", "digits", "torch", 0, 1.1, 1_000, "generative", results.FRECHET),
    ]
    for row, confidence in zip(rows[-2:], (0.88, 0.92)):
        row["test"] = json.dumps({"confidence": confidence, "rarest": 0.064, "frechet_floor": 0.41})
    board = results.leaderboard_markdown(rows, "plot.png")
    digits = board.split("## The digits")[1].split("## The generative recipes")[0]
    ranked = [
        line.split(" | ")[0][2:]
        for line in digits.splitlines()
        if line.startswith("| ") and "---" not in line
    ]
    assert ranked == ["recipe", "cnn", "lstm", "mlp"]  # by the mean over every run: 98.0, 96.0, 95.0
    assert (
        "| cnn | convolutional | images | 99,000 | 10 | 98.0 (97.0–99.0, 2 seeds) | 98.0 | 10 / 10 |"
        in digits
    )
    assert "| lstm | recurrent | 8 rows of 8 | 20,000 | 10 | — | 96.0 | — / 10 |" in digits
    assert "![Test accuracy against parameters on the digits](plot.png)" in digits
    generative = board.split("## The generative recipes")[1].split("## Recipes")[0]
    assert "lower is better (the training digits' own: 0.41)" in generative
    assert "| gan | 1,000 | 10 | 0.90 | 1.10 | 0.900 | 6.4 % | — | 10 / 10 |" in generative
    others = board.split("## Recipes with data of their own")[1]
    assert others.index("| big_gpt |") < others.index("| gpt |")  # fewer bits per character first
    png = results.plot_accuracy_against_parameters(rows, tmp_path / "plot.png")
    assert png.stat().st_size > 10_000


@pytest.mark.once  # the committed data and its rendering
def test_the_projects_leaderboard_is_rendered_from_its_data_and_ranks_every_recipe_on_every_backend():
    rows = results.read_rows(results.DATA / "train.csv")
    board = (results.DATA / "leaderboard.md").read_text()
    assert board == results.leaderboard_markdown(rows, "accuracy-vs-parameters.png"), (
        "docs/results/leaderboard.md is not the rendering of train.csv: run cookbook leaderboard --out docs/results"
    )
    assert (results.DATA / "accuracy-vs-parameters.png").exists()
    measured = {(row["recipe"], row["backend"]) for row in rows}
    missing = sorted(
        (name, b) for name in registry() for b in results.BACKEND_NAMES if (name, b) not in measured
    )
    assert not missing, f"not measured: {missing}"
    ranked = {row["recipe"] for row in rows}
    assert all(
        (name, b) in measured for name in ranked for b in results.BACKEND_NAMES
    )  # each on every backend
    assert all(row["machine"] and row["date"] and row["keras_version"] for row in rows)


@pytest.mark.once  # refused before anything trains
@pytest.mark.parametrize(
    "argv, message",
    [
        (["no_such_recipe"], "unknown recipe 'no_such_recipe'"),
        (["mlp", "--backends", "theano"], "unknown backend 'theano'; choose from: tensorflow, jax, torch"),
        (["mlp", "--jobs", "0"], "--jobs must be at least 1; got 0"),
        (["mlp", "--seeds", "-1"], "--seeds must be integers of 0 or more; got [-1]"),
        (["mlp", "--seeds", "one"], "expects comma-separated integers, got 'one'"),
    ],
)
def test_bad_input_is_one_line_and_trains_nothing(argv, message, tmp_path, capsys):
    try:
        status = main(["leaderboard", *argv, "--out", str(tmp_path)])
    except SystemExit as exit_:
        status = exit_.code
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "train.csv").exists()


@pytest.mark.once  # files only
def test_a_recipe_keeps_the_figures_of_the_run_it_shows_until_that_run_is_trained_again(tmp_path):
    from cookbook.cli.results import _keep_figures

    def picture(folder, text):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "curves.png").write_text(text)

    rows = [{"recipe": "mlp", "backend": "jax", "seed": seed} for seed in (0, 1)]
    rows.append({"recipe": "mlp", "backend": "torch", "seed": 0})
    picture(tmp_path / "figures" / "mlp" / "jax-seed0", "kept")  # its run folder is elsewhere
    picture(tmp_path / "runs" / "mlp-jax-seed1", "seed 1")
    picture(tmp_path / "runs" / "mlp-torch-seed0", "torch")
    _keep_figures(tmp_path, rows)
    assert [path.name for path in (tmp_path / "figures" / "mlp").iterdir()] == ["jax-seed0"]
    assert (tmp_path / "figures" / "mlp" / "jax-seed0" / "curves.png").read_text() == "kept"
    picture(tmp_path / "runs" / "mlp-jax-seed0", "trained again")
    _keep_figures(tmp_path, rows)
    assert (tmp_path / "figures" / "mlp" / "jax-seed0" / "curves.png").read_text() == "trained again"
    picture(tmp_path / "runs" / "gan-torch-seed0", "first")  # nothing kept yet: JAX's first, else the next
    _keep_figures(tmp_path, [{"recipe": "gan", "backend": "torch", "seed": 0}])
    assert [path.name for path in (tmp_path / "figures" / "gan").iterdir()] == ["torch-seed0"]
