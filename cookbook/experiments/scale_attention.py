"""`cookbook scale-attention`: what one training step costs as the sequence grows - the O(T^2) lesson.

Softmax attention forms a (T, T) matrix of weights per head: its time grows as T^2 d and,
unless a fused kernel recomputes it, so does its memory. Linear attention sums over the keys
once (T d^2, nothing T x T); a recurrent layer walks the sequence (T steps of d^2 work, one
after another). Each block here is a cookbook recipe at the same width on the same task -
``linear_attention`` with ``attention="softmax"`` or ``"linear"`` and one block, ``lstm`` on
word ids - so the only thing that changes is how the tokens meet.

Time is the median wall time of a training step after the first (which compiles). Memory:
on a GPU, the allocator's peak; on a CPU, the growth of the process's peak resident memory
over what it held after one warm-up step at T = 8 (imports, thread pools, the compiler's own
memory) - each block runs in its own process with T rising, so that high-water mark belongs
to the largest T so far.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cookbook.errors import CookbookError
from cookbook.experiments import load_results, save_results

if TYPE_CHECKING:
    import keras

BLOCKS = ("softmax", "linear", "lstm")
VOCABULARY = 18  # the digit tokens' ids; the task is random labels, only the cost is measured


def build(block: str, length: int, width: int, heads: int) -> keras.Model:
    """One block of the named kind reading ``length`` token ids, at ``width``, with a 10-way head."""
    from cookbook.catalogue import load_recipe

    common = {"input_shape": (length,), "vocabulary_size": VOCABULARY, "num_classes": 10, "dropout": 0.0}
    if block == "lstm":
        return load_recipe("lstm").build_functional(**common, embedding_dim=width, units=width)
    return load_recipe("linear_attention").build_functional(
        **common, attention=block, blocks=1, width=width, heads=heads, ffn_width=2 * width
    )


def _gpu_peak_mib(reset: bool = False) -> float | None:
    """The backend's GPU allocator peak in MiB, or None without a GPU."""
    import keras

    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        if not torch.cuda.is_available():
            return None
        if reset:
            torch.cuda.reset_peak_memory_stats()
        return torch.cuda.max_memory_allocated() / 2**20
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform != "gpu":
            return None
        return device.memory_stats()["peak_bytes_in_use"] / 2**20  # no reset: T rises, so does the peak
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return None
    if reset:
        tf.config.experimental.reset_memory_stats("GPU:0")
    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20


def _rss_peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def measure(
    block: str,
    length: int,
    width: int,
    heads: int,
    batch_size: int,
    steps: int,
    seed: int = 0,
    baseline_mib: float = 0.0,
) -> dict:
    """Time ``steps`` training steps of one block at one length, after a first (compiling) step."""
    import keras

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.integers(1, VOCABULARY, size=(batch_size, length)).astype("int32")
    y = rng.integers(0, 10, size=(batch_size,)).astype("int32")
    on_gpu = _gpu_peak_mib(reset=True) is not None
    model = build(block, length, width, heads)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    started = time.perf_counter()
    model.train_on_batch(x, y)  # returns the loss as a number: the step has finished
    first = time.perf_counter() - started
    seconds = []
    for _ in range(steps):
        started = time.perf_counter()
        model.train_on_batch(x, y)
        seconds.append(time.perf_counter() - started)
    memory = _gpu_peak_mib() if on_gpu else _rss_peak_mib() - baseline_mib
    return {
        "step_ms": 1000 * float(np.median(seconds)),
        "first_step_s": first,
        "peak_mib": memory,
        "memory": "GPU allocator peak" if on_gpu else "process peak RSS growth",
    }


def _says_out_of_memory(message: str) -> bool:
    return any(
        words in message.lower() for words in ("out of memory", "resource_exhausted", "resource exhausted")
    )


def _run_block(
    block: str,
    lengths: list[int],
    options: dict[str, int],
    emit: Callable[[int, dict], None],
    max_step_seconds: float,
    isolate: bool,
    warm_up: bool = False,
) -> None:
    """Measure one block at each length, rising; ``emit(length, result)`` as each one ends.
    A step slower than ``max_step_seconds``, or running out of memory, ends the block."""
    if not isolate:
        if warm_up:  # a step at a tiny T pays for imports, thread pools and the compiler's own memory,
            measure(
                block, 8, **{**options, "steps": 1}
            )  # so the high-water mark's later growth is the step's
        baseline = _rss_peak_mib()
        for length in lengths:
            try:
                result = measure(block, length, **options, baseline_mib=baseline)
            except Exception as error:  # each backend words it its own way
                if not isinstance(error, MemoryError) and not _says_out_of_memory(str(error)):
                    raise
                result = {"stopped": "out of memory"}
            emit(length, result)
            if "stopped" in result or result["step_ms"] / 1000 > max_step_seconds:
                return
        return
    command = [
        sys.executable,
        "-m",
        "cookbook.experiments.scale_attention",
        block,
        json.dumps(lengths),
        json.dumps(options),
        str(max_step_seconds),
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=os.environ.copy()) as child:
        done = []
        for line in child.stdout:
            if line.startswith("{"):
                found = json.loads(line)
                done.append(found["length"])
                emit(found["length"], found["result"])
        child.wait()
    rest = [length for length in lengths if length not in done]
    if child.returncode != 0 and rest:  # killed (the kernel's out-of-memory killer) or crashed
        emit(rest[0], {"stopped": f"its process ended with status {child.returncode} (out of memory?)"})


def scale_attention(
    lengths: Sequence[int] = (128, 256, 512, 1024, 2048, 4096),
    blocks: Sequence[str] = BLOCKS,
    width: int = 64,
    heads: int = 4,
    batch_size: int = 4,
    steps: int = 3,
    seed: int = 0,
    out: str | Path | None = None,
    max_step_seconds: float = 60.0,
    isolate: bool = True,
    verbose: bool = True,
) -> dict:
    """``{block: {length: {"step_ms", "first_step_s", "peak_mib", "memory"} or {"stopped": why}}}``.

    With ``out``, results.json is rewritten after every measurement and a rerun with the same
    settings measures only what is missing. ``isolate`` runs each block in its own process
    (needed for a per-length CPU memory reading; off, the readings share this process's).
    """
    import keras

    if unknown := [block for block in blocks if block not in BLOCKS]:
        raise CookbookError(f"unknown block {unknown[0]!r}; choose from: {', '.join(BLOCKS)}")
    if not lengths or min(lengths) < 2 or sorted(lengths) != list(lengths):
        raise CookbookError(f"--lengths must rise and start at 2 or more; got {list(lengths)}")
    if width < 1 or heads < 1 or width % heads or batch_size < 1 or steps < 1:
        raise CookbookError("--width must be a multiple of --heads; --batch-size and --steps at least 1")
    options = {"width": width, "heads": heads, "batch_size": batch_size, "steps": steps, "seed": seed}
    settings = {**options, "backend": keras.backend.backend(), "isolate": isolate}
    path, results = load_results(out, settings)
    progress = keras.utils.Progbar(len(blocks) * len(lengths), unit_name="measurement") if verbose else None

    def emit(block: str, length: int, result: dict) -> None:
        results.setdefault(block, {})[str(length)] = result
        save_results(path, settings, results)
        if progress:
            progress.add(1)

    for block in blocks:
        done = results.get(block, {})
        if any("stopped" in r for r in done.values()):
            todo = []  # it already ran out of time or memory: larger T would too
        else:
            todo = [length for length in lengths if str(length) not in done]
        if progress:
            progress.add(len(lengths) - len(todo))
        if todo:
            _run_block(block, todo, options, lambda n, r, b=block: emit(b, n, r), max_step_seconds, isolate)
    return {
        block: {str(n): results[block][str(n)] for n in lengths if str(n) in results.get(block, {})}
        for block in blocks
    }


def growth(by_length: dict, key: str) -> float | None:
    """The exponent p in cost ~ T^p between the two largest lengths measured."""
    measured = [(int(n), r[key]) for n, r in by_length.items() if key in r and r[key] > 0]
    if len(measured) < 2:
        return None
    (t1, c1), (t2, c2) = measured[-2:]
    return math.log(c2 / c1) / math.log(t2 / t1)


def table(results: dict) -> str:
    """ms per step and peak MiB per block (columns) and length (rows), then the growth exponents."""
    lengths = sorted({int(n) for by_length in results.values() for n in by_length})
    lines = [f"{'T':>6}" + "".join(f"{block + ' ms':>14}{'MiB':>9}" for block in results)]
    for length in lengths:
        row = f"{length:>6}"
        for by_length in results.values():
            r = by_length.get(str(length), {})
            row += f"{r['step_ms']:>14.1f}{r['peak_mib']:>9.0f}" if "step_ms" in r else f"{'-':>14}{'-':>9}"
        lines.append(row)
    for block, by_length in results.items():
        stopped = [f"T={n}: {r['stopped']}" for n, r in by_length.items() if "stopped" in r]
        exponents = [growth(by_length, key) for key in ("step_ms", "peak_mib")]
        said = ", ".join(
            f"{what} ~ T^{p:.2f}" for what, p in zip(("time", "memory"), exponents) if p is not None
        )
        lines.append(
            f"{block}: {said or 'too few lengths to tell'}"
            + (f"; stopped at {stopped[0]}" if stopped else "")
        )
    return "\n".join(lines)


def _child(argv: list[str]) -> None:
    """``python -m cookbook.experiments.scale_attention BLOCK LENGTHS OPTIONS MAX_STEP_SECONDS``: one JSON line per length."""
    from cookbook.backend import select_backend

    select_backend(None)
    block, lengths, options, max_step_seconds = (
        argv[0],
        json.loads(argv[1]),
        json.loads(argv[2]),
        float(argv[3]),
    )

    def emit(length: int, result: dict) -> None:
        print(json.dumps({"length": length, "result": result}), flush=True)

    _run_block(block, lengths, options, emit, max_step_seconds, isolate=False, warm_up=True)


if __name__ == "__main__":
    _child(sys.argv[1:])
