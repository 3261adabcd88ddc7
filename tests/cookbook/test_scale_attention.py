"""`cookbook scale-attention`: measures each block at each length, resumes, stops, plots, refuses bad input.

(How the costs grow is asserted by counting operations in test_linear_attention.py; wall times
are measured here but never asserted.)"""

from __future__ import annotations

import json

import pytest

from cookbook.cli import main
from cookbook.experiments import scale_attention as _scale_attention
from cookbook.experiments.scale_attention import build, scale_attention, table

TINY = {"width": 16, "heads": 2, "batch_size": 2, "steps": 1, "isolate": False, "verbose": False}


def test_the_blocks_are_the_recipes_at_one_width():
    softmax, linear, lstm = (build(block, 32, 16, 2) for block in ("softmax", "linear", "lstm"))
    assert softmax.count_params() == linear.count_params()  # the same weights, other attention
    assert [m.input_shape for m in (softmax, linear, lstm)] == [(None, 32)] * 3
    assert lstm.get_layer(index=2).units == 16  # embedding, then the LSTM at the same width


@pytest.mark.slow
@pytest.mark.once  # the bookkeeping; notebook 05 measures every block on every backend
def test_every_block_is_measured_and_a_rerun_measures_only_what_is_new(tmp_path, monkeypatch):
    results = scale_attention((16, 32), out=tmp_path, **TINY)
    for block in ("softmax", "linear", "lstm"):
        for length in ("16", "32"):
            found = results[block][length]
            assert found["step_ms"] > 0 and found["first_step_s"] > 0 and found["peak_mib"] >= 0
    assert json.loads((tmp_path / "results.json").read_text())["results"] == results
    lines = table(results).splitlines()
    assert lines[0].split()[:3] == ["T", "softmax", "ms"] and len(lines) == 1 + 2 + 3

    measured = []
    original = _scale_attention.measure
    monkeypatch.setattr(
        _scale_attention,
        "measure",
        lambda block, n, **o: measured.append((block, n)) or original(block, n, **o),
    )
    again = scale_attention((16, 32, 48), blocks=("linear",), out=tmp_path, **TINY)
    assert measured == [("linear", 48)]
    assert again["linear"]["16"] == results["linear"]["16"]


def test_a_block_slower_than_the_limit_stops_growing(tmp_path):
    results = scale_attention((16, 32), blocks=("softmax",), max_step_seconds=0, out=tmp_path, **TINY)
    assert list(results["softmax"]) == ["16"]


@pytest.mark.slow
@pytest.mark.once  # the processes and files; the steps measured are notebook 05's on every backend
def test_cookbook_scale_attention_runs_each_block_in_its_own_process(tmp_path, capsys):
    argv = [
        "scale-attention",
        "--lengths",
        "16,32",
        "--blocks",
        "linear",
        "--width",
        "16",
        "--heads",
        "2",
        "--steps",
        "1",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "linear: time ~ T^" in printed and f"wrote {tmp_path / 'results.json'}" in printed
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["settings"]["isolate"] and set(saved["results"]["linear"]) == {"16", "32"}
    assert (tmp_path / "scaling.png").stat().st_size > 10_000


@pytest.mark.once  # refused before any block is built
@pytest.mark.parametrize(
    "extra, message",
    [
        (["--blocks", "gru"], "unknown block 'gru'"),
        (["--lengths", "64,32"], "--lengths must rise"),
        (["--lengths", "a,b"], "argument --lengths: expects comma-separated integers"),
        (["--width", "10", "--heads", "4"], "--width must be a multiple of --heads"),
    ],
)
def test_bad_input_is_one_line(extra, message, tmp_path, capsys):
    assert main(["scale-attention", "--out", str(tmp_path), *extra]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
