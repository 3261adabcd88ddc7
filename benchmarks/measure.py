"""Time a recipe's training step in this process, on the backend Keras was imported with.

The method (NOTES.md, "Timing fairly"): fixed shapes (a whole number of full batches), data
already in memory, the first step (tracing and compiling) timed apart, one warm-up pass left
out. A pass is one ``fit`` over some batches: ``fit`` reads its logs back at the end, which waits
for the device, so the clock stops after the work, and no per-batch callback forces a wait on
every step. ``fit`` also has a fixed cost (its data adapter, callbacks, the final read-back) that
would swamp a small model's step, so each repeat times ``steps`` and ``2 * steps`` batches: the
difference over ``steps`` is the time per step, and what is left of the short pass is the fixed
cost. Both are the median over ``repeats``.

    python -m benchmarks.measure mlp cnn --batch-size 64 --steps 50   # one JSON line per recipe
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time

JIT = ("auto", "on", "off")


def peak_memory_mb(backend: str) -> float:
    """The device's peak allocation where the backend reports one (GPU), else the process's peak RSS."""
    try:
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                return torch.cuda.max_memory_allocated() / 2**20
        elif backend == "jax":
            import jax

            stats = jax.devices()[0].memory_stats()
            if stats and "peak_bytes_in_use" in stats:
                return stats["peak_bytes_in_use"] / 2**20
        elif backend == "tensorflow":
            import tensorflow as tf

            if tf.config.list_physical_devices("GPU"):
                return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    except (RuntimeError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10  # KiB on Linux


def threads(backend: str) -> str:
    if backend == "torch":
        import torch

        return f"torch {torch.get_num_threads()} of {os.cpu_count()} cores"
    return f"{os.cpu_count()} cores"


def training_batches(name: str, batch_size: int | None, count: int):
    """The recipe, the settings its data dictates, the batch size and ``count`` full batches (x, y)."""
    import numpy as np

    from recipes import load_recipe
    from recipes._data import load_dataset
    from recipes._train import data_overrides
    from tuning.search import arrays

    recipe = load_recipe(name)
    batch = batch_size or recipe.TASK["batch_size"]
    data = load_dataset(recipe.TASK["dataset"], recipe.TASK["datasets"])
    fed = arrays(recipe, data)
    chosen = np.arange(batch * count) % len(fed["x"])  # a whole number of full batches
    return recipe, data_overrides(recipe, data), batch, fed["x"][chosen], fed["y"][chosen]


def measure(name: str, batch_size: int | None = None, steps: int = 50, repeats: int = 5,
            precision: str = "float32", jit: str = "auto") -> dict:  # fmt: skip
    """One row of the table: first step, median milliseconds per step, samples per second, memory."""
    import keras

    from recipes._backend import describe_backend
    from recipes._train import build, compile_model

    recipe, overrides, batch, x, y = training_batches(name, batch_size, 2 * steps)
    task = recipe.TASK
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        keras.utils.set_random_seed(0)
        model = compile_model(build(recipe, "functional", **overrides), task, recipe=recipe)
        if jit != "auto":
            model.jit_compile = jit == "on"

        def one_pass(count: int) -> float:
            started = time.perf_counter()
            model.fit(
                x[: batch * count], y[: batch * count], batch_size=batch, epochs=1, shuffle=False, verbose=0
            )
            return time.perf_counter() - started

        first = one_pass(1)  # traces and compiles the step (JAX, TensorFlow), then runs it once
        one_pass(steps)  # warm-up, left out
        timed = [(one_pass(steps), one_pass(2 * steps)) for _ in range(repeats)]
    finally:
        keras.config.set_dtype_policy(previous)
    per_step = [(long - short) / steps for short, long in timed]
    step = statistics.median(per_step)
    fixed = statistics.median(short - steps * each for (short, _), each in zip(timed, per_step))
    return {
        "recipe": name, "backend": keras.backend.backend(), "jit": jit, "jit_compile": bool(model.jit_compile),
        "precision": precision, "batch_size": batch, "steps": steps, "repeats": repeats,
        "first_step_s": round(first, 3), "ms_per_step": round(1000 * step, 3),
        "ms_min": round(1000 * min(per_step), 3), "ms_max": round(1000 * max(per_step), 3),
        "fit_overhead_ms": round(1000 * fixed, 1),
        "samples_per_s": round(batch / step, 1) if step > 0 else float("nan"), "peak_memory_mb": round(peak_memory_mb(keras.backend.backend()), 1),
        "parameters": model.count_params(), "threads": threads(keras.backend.backend()), "device": describe_backend(),
        "python": platform.python_version(),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="+")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--jit", choices=JIT, default="auto")
    args = parser.parse_args(argv)
    for name in args.recipes:
        try:
            row = measure(name, args.batch_size, args.steps, args.repeats, args.precision, args.jit)
        except Exception as error:  # one recipe failing on one backend is a row, not the end of the run
            import keras

            row = {
                "recipe": name,
                "backend": keras.backend.backend(),
                "error": f"{type(error).__name__}: {error}",
            }
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
