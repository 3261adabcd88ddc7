"""cookbook lessons and cookbook/lesson_results.py: a design lesson run on a backend is kept as data
(what it wrote, and how it was run), a second call runs nothing twice, the page is rendered from the
kept folders alone, the project's own page is the rendering of its committed data, and bad input is
one line."""

from __future__ import annotations

import json
import shlex

import keras
import pytest

from cookbook import lesson_results, results
from cookbook.cli import main

# compare-clipping at its smallest: one clipping, one epoch of 320 sequences of 10 steps.
TINY = "--clippings global_clipnorm --epochs 1 --train-size 320 --length 10"


@pytest.mark.once  # the lesson runs in a process of its own, on the backend it names
@pytest.mark.slow
def test_a_lesson_is_kept_as_data_and_the_same_call_again_runs_nothing(tmp_path, capsys):
    backend = keras.backend.backend()
    argv = ["lessons", "compare-clipping", "--backends", backend, "--options", TINY, "--out", str(tmp_path)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "1 of 1 to run, each a process of its own" in printed
    kept = tmp_path / "lessons" / "compare-clipping" / backend
    assert sorted(path.name for path in kept.iterdir()) == [
        "clipping.png",
        "results.json",
        "run.json",
        "table.txt",
    ]
    run = json.loads((kept / "run.json").read_text())
    assert shlex.split(run["command"]) == [
        "cookbook",
        "compare-clipping",
        "--backend",
        backend,
        *shlex.split(TINY),
    ]
    assert (
        run["seconds"] > 0
        and run["keras_version"] == keras.__version__
        and run["machine"] == results.machine()
    )
    (clipped,) = json.loads((kept / "results.json").read_text())["results"].values()
    assert not clipped["diverged"] and clipped["test_mse"] is not None  # it really trained
    table = (kept / "table.txt").read_text()
    lesson_printed = (tmp_path / "runs" / f"compare-clipping-{backend}" / "output.log").read_text()
    assert (
        "global_clipnorm" in table and table.strip().splitlines()[-1] in lesson_printed
    )  # the lesson's own table
    page = (tmp_path / "lessons.md").read_text()
    assert page == lesson_results.lessons_markdown(lesson_results.measured(tmp_path))
    name = results.BACKEND_NAMES[backend]
    assert "## compare-clipping\n\nAn RNN whose gradient explodes" in page and f"### On {name}" in page
    assert f"![compare-clipping on {name}](lessons/compare-clipping/{backend}/clipping.png)" in page
    assert "## Not measured here yet" in page and "`compare-rnn`" in page and "`compare-clipping`" not in page

    assert main(argv) == 0  # measured already: nothing runs, the page is the same
    assert "0 of 1 to run" in capsys.readouterr().out
    assert (tmp_path / "lessons.md").read_text() == page


@pytest.mark.once  # the committed data and its rendering
def test_the_projects_lessons_page_is_rendered_from_its_data():
    page = results.DATA / "lessons.md"
    runs = lesson_results.measured(results.DATA)
    assert page.read_text() == lesson_results.lessons_markdown(runs), (
        "docs/results/lessons.md is not the rendering of docs/results/lessons/: run cookbook lessons --out docs/results"
    )
    assert runs, "no lesson measured in docs/results/lessons"
    for run in runs:
        assert run["pictures"] and run["table"] and run["date"] and run["keras_version"], run["lesson"]
        assert shlex.split(run["command"])[:4] == ["cookbook", run["lesson"], "--backend", run["backend"]]


@pytest.mark.once  # refused before anything runs
@pytest.mark.parametrize(
    "argv, message",
    [
        (["compare-nothing"], "unknown lesson 'compare-nothing'; choose from: compare-activations,"),
        (
            ["compare-rnn", "--backends", "theano"],
            "unknown backend 'theano'; choose from: tensorflow, jax, torch",
        ),
        (
            ["compare-rnn", "--options", "--epochs x"],
            "--options for compare-rnn: argument --epochs: invalid int",
        ),
        (
            ["compare-rnn", "--options", "--no-such 1"],
            "--options for compare-rnn: unrecognized arguments: --no-such",
        ),
        (["compare-rnn", "--options", "--out here"], "--options may not hold --out or --backend"),
    ],
)
def test_bad_input_is_one_line_and_runs_nothing(argv, message, tmp_path, capsys):
    try:
        status = main(["lessons", *argv, "--out", str(tmp_path)])
    except SystemExit as exit_:
        status = exit_.code
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1 and message in err, err
    assert not list(tmp_path.iterdir())
