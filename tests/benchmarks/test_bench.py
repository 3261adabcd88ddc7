"""cookbook bench: each backend measured in its own process, a well-formed table and CSV, bad input
in one line. No assertion on the times themselves: they depend on the machine."""

from __future__ import annotations

import csv

import keras
import pytest

from benchmarks import run as bench
from cookbook.cli import main


@pytest.mark.slow
def test_bench_measures_in_a_process_of_its_own_and_writes_the_table(tmp_path, capsys):
    backend = keras.backend.backend()
    native = "jax" if backend == "jax" else "torch"  # (a framework this backend's test run has installed)
    command = [
        "bench",
        "perceptron",
        "mlp",
        "--backends",
        backend,
        "--batch-size",
        "16",
        "--steps",
        "3",
        "--repeats",
        "2",
        "--native",
        native,
        "--out",
        str(tmp_path),
    ]
    assert main(command) == 0
    with open(tmp_path / "bench.csv") as file:
        rows = list(csv.DictReader(file))
    assert [(row["recipe"], row["backend"]) for row in rows] == [
        ("perceptron", backend),
        ("mlp", backend),
        ("mlp", f"{native} (native)"),  # only mlp is hand-written
    ]
    assert rows[0]["times_native"] == ""  # (× native: the ratio to hand-written eager PyTorch, when measured)
    if native == "jax" or float(rows[1]["ms_per_step"]) <= 0:
        assert rows[1]["times_native"] == ""
    else:
        assert float(rows[1]["times_native"]) > 0
    assert rows[1]["parameters"] == rows[2]["parameters"] == "17226"
    for row in rows:
        ms = float(row["ms_per_step"])
        assert row["error"] == "" and float(row["ms_min"]) <= ms <= float(row["ms_max"])
        assert int(row["batch_size"]) == 16 and (row["fit_overhead_ms"] == "") == (row is rows[2])
        assert float(row["first_step_s"]) > 0 and float(row["peak_memory_mb"]) > 0
        if ms > 0:  # (a difference of two tiny passes on a busy machine can come out at or below 0)
            rounding = 0.0005 / ms  # (ms_per_step is written to 3 decimals: at 0.009 ms that alone is 5 %)
            assert float(row["samples_per_s"]) == pytest.approx(16_000 / ms, rel=max(0.01, 1.2 * rounding))
            assert float(row["times_fastest"]) >= 1.0
    assert min(float(row["times_fastest"]) for row in rows[1:] if row["times_fastest"]) == 1.0
    report = (tmp_path / "bench.md").read_text()
    assert "`cookbook bench perceptron mlp --backends" in report and f"| mlp | {backend} |" in report
    assert f"| mlp | {native} (native) |" in report
    compared = native == "torch" and float(rows[1]["ms_per_step"]) > 0  # (a row at or below 0 has no ratio)
    assert ("Against hand-written eager PyTorch" in report) == compared
    assert "perceptron" in capsys.readouterr().out


@pytest.mark.once  # faked measurements
def test_each_row_is_compared_with_the_fastest_backend_and_a_failure_is_a_row(tmp_path, monkeypatch):
    measured = {"tensorflow": 2.0, "jax": 1.0, "torch": None}

    def fake_measure_on(backend, recipes, options):
        ms = measured[backend]
        if ms is None:
            return [{"recipe": "mlp", "backend": backend, "error": "RuntimeError: out of memory"}]
        return [
            {
                "recipe": "mlp",
                "backend": backend,
                "jit": "auto",
                "jit_compile": False,
                "precision": "float32",
                "batch_size": 32,
                "first_step_s": 1.0,
                "ms_per_step": ms,
                "samples_per_s": 32_000 / ms,
                "fit_overhead_ms": 5.0,
                "peak_memory_mb": 1.0,
                "device": backend,
                "threads": "2 cores",
            }
        ]

    monkeypatch.setattr(bench, "_measure_on", fake_measure_on)
    monkeypatch.setattr(bench, "installed_backends", lambda: list(measured))
    rows = bench.run(["mlp"], list(measured), out=tmp_path)
    assert [row.get("times_fastest") for row in rows] == [2.0, 1.0, None]
    report = (tmp_path / "bench.md").read_text()
    assert "| mlp | torch | failed: RuntimeError: out of memory |" in report and "| 2.00 |" in report


@pytest.mark.once  # refused before any process starts
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    cases = [
        (["nope"], "unknown recipe 'nope'"),
        (["gan"], "gan trains by its own game"),
        (["mlp", "--steps", "0"], "--steps, --repeats and --batch-size must be at least 1"),
        (["mlp", "--backends", "theano"], "unknown backend 'theano'"),
        (["mlp", "--native", "flax"], "unknown native framework 'flax'"),
        (["mlp", "--native", "--precision", "mixed_bfloat16"], "train in float32 only"),
        (["perceptron", "--native"], "there are hand-written mlp, cnn, lstm, transformer_classifier only"),
        (["mlp", "--set", "depth=3"], "unknown setting 'depth'"),
        (["mlp", "--native", "--set", "hidden_units=8"], "are the recipes' defaults: leave out --set"),
        (["gpt", "--peak-tflops", "0"], "--peak-tflops must be above 0"),
    ]
    for extra, message in cases:
        assert main(["bench", *extra, "--out", str(tmp_path)]) == 2
        assert message in capsys.readouterr().err


@pytest.mark.slow
def test_a_transformers_model_flops_follow_palms_formula_and_give_its_mfu():
    from benchmarks.flops import peak_tflops, transformer_training_flops
    from benchmarks.measure import measure
    from cookbook.catalogue import load_recipe

    small = {
        "input_shape": (16,),
        "vocabulary_size": 30,
        "width": 32,
        "heads": 2,
        "blocks": 3,
        "ffn_width": 64,
    }
    model = load_recipe("transformer_classifier").build_functional(**small)
    tables = 30 * 32 + 16 * 32  # the token and position tables are read, not multiplied
    per_token = 6 * (model.count_params() - tables) + 12 * 3 * 16 * 32  # 6 N + 12 L T d
    assert transformer_training_flops(model, batch_size=4) == per_token * 16 * 4
    assert transformer_training_flops(load_recipe("mlp").build_functional(), 4) is None  # not a Transformer
    gpt = load_recipe("gpt")
    tied, untied = (
        gpt.build_functional(input_shape=(16,), blocks=1, tie_embeddings=t) for t in (True, False)
    )
    assert untied.count_params() - tied.count_params() == 97 * 64  # the readout's own matrix
    # Tied, the token table is the readout's matrix as well: it multiplies there, so the work is the same.
    assert transformer_training_flops(tied, 4) == transformer_training_flops(untied, 4)
    assert peak_tflops("NVIDIA H100 80GB HBM3", "mixed_bfloat16") == 989.4
    assert peak_tflops("NVIDIA H100 PCIe", "mixed_float16") == 756.0
    assert (
        peak_tflops("NVIDIA H100 80GB HBM3", "float32") is None
        and peak_tflops(None, "mixed_bfloat16") is None
    )

    # A window the recipe's data does not have: bench makes up token ids of the model's shapes.
    row = measure(
        "gpt", batch_size=2, steps=3, repeats=1, settings={"input_shape": (16,), "blocks": 1}, peak=2.0
    )
    assert row["settings"] == "input_shape=(16,) blocks=1" and row["peak_tflops"] == 2.0
    if row["ms_per_step"] > 0:  # (a difference of tiny passes can come out at or below 0)
        assert row["mfu"] == pytest.approx(row["model_tflops"] / 2.0, rel=0.01)
