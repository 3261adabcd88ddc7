"""Data parallelism with each backend's own engine (cookbook.distribute): the same steps on one
device and on two simulated ones, a distributed run that reloads on one device and predicts the
same, and one line for what cannot be split.

Simulated devices must be set before the backend starts, so the distributed runs are processes
of their own (JAX and TensorFlow split the CPU; PyTorch starts one process per device).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import BACKEND

from cookbook import distribute
from cookbook.cli import main
from cookbook.errors import CookbookError

ROOT = Path(__file__).resolve().parents[2]


def _cookbook(*argv, cwd) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "cookbook", *argv, "--backend", BACKEND],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_two_devices_take_the_same_steps_as_one(tmp_path):
    """8 steps of Adam at global batch 32: one device, then 2 (16 each), from the same seed."""
    _cookbook(
        "data-parallel",
        "mlp",
        "--devices",
        "1,2",
        "--steps",
        "8",
        "--batch-size",
        "32",
        "--out",
        "dp",
        cwd=tmp_path,
    )
    rows = json.loads((tmp_path / "dp" / "results.json").read_text())
    one, two = rows
    assert (one["devices"], two["devices"]) == (1, 2)
    assert two["engine"] == distribute.ENGINES[BACKEND] and len(two["names"]) == 2
    assert two["relative_difference"] < 1e-5, rows
    assert two["step_ms"] > 0


@pytest.fixture(scope="module")
def two_device_run(tmp_path_factory) -> tuple[Path, str]:
    """``cookbook train mlp --devices 2 --epochs 2``: the run's folder and what it printed (one run
    for the tests below: each device a process of PyTorch's, or a device of JAX's or TensorFlow's)."""
    folder = tmp_path_factory.mktemp("two-devices")
    done = _cookbook("train", "mlp", "--devices", "2", "--epochs", "2", "--out", "run", cwd=folder)
    return folder / "run", done.stdout


@pytest.mark.slow
def test_a_run_on_two_devices_reloads_on_one_and_predicts_the_same(two_device_run):
    run, printed = two_device_run
    assert "global batch 32 = 16 per device x 2" in printed
    assert "1 of 1221 training examples left out" in printed  # 1221 is odd
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["devices"] == 2 and metrics["batch_size"] == 32
    assert {"model.keras", "history.csv", "curves.png", "metrics.json"} <= {p.name for p in run.iterdir()}
    _learned_and_reloads(run, epochs=2)


def _learned_and_reloads(run: Path, epochs: int) -> None:
    """The mlp's run: its loss fell, and its model.keras, loaded here on one device, scores the test
    split as the run reported."""
    from cookbook.catalogue import load_recipe
    from cookbook.data import load_dataset

    losses = [float(line.split(",")[2]) for line in (run / "history.csv").read_text().splitlines()[1:]]
    assert len(losses) == epochs and losses[-1] < losses[0] * 0.7, (
        losses
    )  # (columns: epoch, accuracy, loss, ...)
    task = load_recipe("mlp").TASK
    data = load_dataset(task["dataset"], task["datasets"])
    model = keras.saving.load_model(run / "model.keras")  # this process: one device
    accuracy = float(np.mean(np.argmax(model.predict(data.x_test, verbose=0), axis=1) == data.y_test))
    reported = json.loads((run / "metrics.json").read_text())["test"]["accuracy"]
    assert accuracy == pytest.approx(reported, abs=1e-6) and accuracy > 0.8


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cookbook: error:") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    "argv, says",
    [
        (["train", "mlp", "--devices", "0"], "--devices must be at least 1"),
        (["train", "mlp", "--devices", "4", "--batch-size", "30"], "does not split over 4 devices"),
        (["train", "gan", "--devices", "2"], "gan has a step of its own"),
        (["data-parallel", "mlp", "--devices", "1,two"], "comma-separated integers"),
        (
            ["train", "mlp", "--devices", "4", "--model-parallel", "3"],
            "--model-parallel 3 does not divide --devices 4",
        ),
        (
            ["train", "mlp", "--devices", "4", "--batch-size", "5", "--model-parallel", "2"],
            "over 2 data-parallel",
        ),
    ],
)
def test_what_cannot_be_split_is_one_line(argv, says, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XLA_FLAGS", os.environ.get("XLA_FLAGS", ""))  # simulate() may change it
    keras.ops.convert_to_tensor(np.zeros(1))  # TensorFlow started: simulate() cannot split its CPU now
    assert main(argv) == 2
    assert says in _one_line(capsys.readouterr().err)


@pytest.mark.once
def test_a_process_that_dies_ends_the_run_at_once(tmp_path, monkeypatch):
    """Process 1 fails while process 0 would wait for ever (at an all-reduce, here asleep)."""
    (tmp_path / "dies.py").write_text(
        "import os, sys, time\nif os.environ['RANK'] == '1':\n    sys.exit(3)\ntime.sleep(120)\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    started = time.monotonic()
    with pytest.raises(
        CookbookError, match="process 1 of 2 failed \\(exit status 3\\); the others were stopped"
    ):
        distribute.launch([], 2, module="dies")
    assert time.monotonic() - started < 30


@pytest.mark.slow
@pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution.ModelParallel runs on JAX in Keras 3.15")
def test_model_parallel_splits_the_transformer_kernels_and_takes_the_same_steps(tmp_path):
    """gpt on a 2 x 2 mesh (batch x model) against one device: 3 steps at global batch 8."""
    argv = [
        "data-parallel",
        "gpt",
        "--devices",
        "1,4",
        "--model-parallel",
        "2",
        "--steps",
        "3",
        "--batch-size",
        "8",
    ]
    done = _cookbook(*argv, "--out", "mp", cwd=tmp_path)
    one, four = json.loads((tmp_path / "mp" / "results.json").read_text())
    assert four["engine"] == "keras.distribution.ModelParallel (batch 2 x model 2)"
    layouts = four["layouts"]
    assert layouts["block1_attention/query/kernel"] == [None, "model", None]  # the heads split
    assert layouts["block1_attention/attention_output/kernel"] == ["model", None, None]
    assert layouts["block4_expand/kernel"] == [None, "model"] and layouts["block4_contract/kernel"] == [
        "model",
        None,
    ]
    assert (
        len(layouts) == 4 * 10
    )  # per block: q, k, v kernels and biases, output kernel, expand (2), contract
    # Each device holds half of the heads: (width 64, 2 of 4 heads, 16) of the (64, 4, 16) kernel.
    assert (
        "block1_attention/query/kernel (64, 4, 16)" in done.stdout
        and "(64, 2, 16) on each device" in done.stdout
    )
    assert "'batch': 2, 'model': 2" in four["placement"]
    assert four["relative_difference"] < 1e-4, four


@pytest.mark.once
def test_the_layouts_follow_megatron_and_refuse_what_does_not_split():
    from cookbook.catalogue import load_recipe

    gpt = load_recipe("gpt").build_functional(blocks=1)
    layouts = distribute.model_layouts(gpt, 2)
    assert layouts == {
        "block1_attention/query/kernel": (None, "model", None),
        "block1_attention/query/bias": ("model", None),
        "block1_attention/key/kernel": (None, "model", None),
        "block1_attention/key/bias": ("model", None),
        "block1_attention/value/kernel": (None, "model", None),
        "block1_attention/value/bias": ("model", None),
        "block1_attention/attention_output/kernel": ("model", None, None),
        "block1_expand/kernel": (None, "model"),
        "block1_expand/bias": ("model",),
        "block1_contract/kernel": ("model", None),
    }
    sequential = distribute.model_layouts(load_recipe("gpt").build_sequential(blocks=1), 2)
    assert sequential["gpt_sequential/block1/attention/query/kernel"] == (
        None,
        "model",
        None,
    )  # the same split
    with pytest.raises(CookbookError, match=r"\(64, 4, 16\) does not split 3 ways"):
        distribute.model_layouts(gpt, 3)
    with pytest.raises(CookbookError, match="this network has none"):
        distribute.model_layouts(load_recipe("mlp").build_functional(), 2)
    # Linear attention's query is a 2-D Dense: whole on every device; its feed-forward splits.
    linear = distribute.model_layouts(load_recipe("linear_attention").build_functional(blocks=1), 2)
    assert not any("query" in path for path in linear) and any("expand" in path for path in linear)


@pytest.mark.slow
@pytest.mark.skipif(BACKEND != "torch", reason="torchrun starts PyTorch's processes")
def test_torchrun_runs_the_same_training_as_devices(two_device_run, tmp_path):
    """The across-machines set-up on one host: torchrun sets RANK, WORLD_SIZE and the rendezvous
    (with --nnodes and a --rdzv-endpoint the same command spans machines). It trains as
    ``--devices 2`` did (``two_device_run``: the processes cookbook starts itself)."""
    with socket.socket() as probe:  # a free port for the rendezvous
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", port]
    done = subprocess.run(
        [*torchrun, "-m", "cookbook", "train", "mlp", "--backend", "torch", "--devices", "2", "--epochs", "2"]
        + ["--out", "torchrun"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    launched, torchran = (
        json.loads((folder / "metrics.json").read_text())
        for folder in (two_device_run[0], tmp_path / "torchrun")
    )
    assert torchran["devices"] == 2
    assert torchran["test"] == pytest.approx(launched["test"], abs=1e-6)


@pytest.mark.slow
@pytest.mark.skipif(BACKEND != "jax", reason="JAX's processes across machines, here two on one host")
def test_two_jax_processes_train_one_model_over_both(tmp_path, monkeypatch):
    """What two machines would run, each with Keras' KERAS_DISTRIBUTION_* variables: the mesh spans
    both processes' devices, each feeds half of every batch, the first writes the run."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    argv = ["train", "mlp", "--backend", "jax", "--devices", "2", "--epochs", "3", "--out", "run"]
    distribute.launch(argv, 2, backend="jax", timeout_s=300)
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["devices"] == 2
    _learned_and_reloads(tmp_path / "run", epochs=3)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run"]  # nothing left beside it
    assert not any(path.name.startswith("backup") for path in (tmp_path / "run").iterdir())


@pytest.mark.once
def test_ctrl_c_stops_the_processes_in_one_line(tmp_path, monkeypatch):
    """Ctrl-C while the processes train: they are stopped and the run ends with how to resume."""
    import signal
    import threading

    (tmp_path / "sleeps.py").write_text("import time\ntime.sleep(120)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    threading.Timer(2.0, os.kill, (os.getpid(), signal.SIGINT)).start()
    started = time.monotonic()
    with pytest.raises(
        CookbookError, match="interrupted: the 2 processes were stopped; .* run the same command"
    ):
        distribute.launch([], 2, module="sleeps")
    assert time.monotonic() - started < 30
