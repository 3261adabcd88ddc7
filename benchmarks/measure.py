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
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras
    import numpy as np

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


def training_batches(
    name: str, batch_size: int | None, count: int
) -> tuple[ModuleType, dict, int, np.ndarray, np.ndarray]:
    """The recipe, the settings its data dictates, the batch size and ``count`` full batches (x, y)."""
    import numpy as np

    from cookbook.catalogue import load_recipe
    from cookbook.data import load_dataset
    from cookbook.training import arrays, data_overrides

    recipe = load_recipe(name)
    batch = batch_size or recipe.TASK["batch_size"]
    data = load_dataset(recipe.TASK["dataset"], recipe.TASK["datasets"])
    fed = arrays(recipe, data)
    chosen = np.arange(batch * count) % len(fed["x"])  # a whole number of full batches
    return recipe, data_overrides(recipe, data), batch, fed["x"][chosen], fed["y"][chosen]


def device_kind(backend: str) -> str | None:
    """The GPU's name (``NVIDIA H100 80GB HBM3``), or None on a CPU."""
    try:
        if backend == "torch":
            import torch

            return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
        if backend == "jax":
            import jax

            device = jax.devices()[0]
            return device.device_kind if device.platform == "gpu" else None
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return tf.config.experimental.get_device_details(gpus[0]).get("device_name") if gpus else None
    except (RuntimeError, ValueError, ImportError):
        return None


def made_up_batches(model: keras.Model, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Random ids (or values) and class targets of the model's own shapes, for settings (a preset,
    another window) that the recipe's data no longer fits. Token models and classifiers only."""
    import keras
    import numpy as np

    from cookbook.compat import all_sublayers

    random = np.random.default_rng(0)
    shape = (count, *model.input_shape[1:])
    if "int" in str(model.inputs[0].dtype):
        layers = all_sublayers(model)
        vocabulary = next(layer.input_dim for layer in layers if isinstance(layer, keras.layers.Embedding))
        x = random.integers(1, vocabulary, shape).astype("int32")  # (0 is padding)
    else:
        x = random.standard_normal(shape).astype("float32")
    return x, random.integers(0, model.output_shape[-1], (count, *model.output_shape[1:-1]))


def measure(
    name: str,
    batch_size: int | None = None,
    steps: int = 50,
    repeats: int = 5,
    precision: str = "float32",
    jit: str = "auto",
    settings: dict | None = None,
    peak: float | None = None,
) -> dict:
    """One row of the table: first step, median milliseconds per step, samples per second, memory,
    and for a Transformer its model TFLOP/s and MFU against ``peak`` (or the device's known peak)."""
    import keras

    from benchmarks.flops import peak_tflops, transformer_training_flops
    from cookbook.backend import describe_backend
    from cookbook.errors import CookbookError
    from cookbook.training import build, compile_model

    settings = settings or {}
    recipe, overrides, batch, x, y = training_batches(name, batch_size, 2 * steps)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        keras.utils.set_random_seed(0)
        built = settings if "preset" in settings else {**overrides, **settings}  # a preset sets the shapes
        model = compile_model(build(recipe, "functional", **built), recipe)
        if tuple(model.input_shape[1:]) != x.shape[1:] or "preset" in settings:
            if not isinstance(model.loss, keras.losses.SparseCategoricalCrossentropy):
                raise CookbookError(
                    f"{name}: these settings change the data's shapes, and bench makes up "
                    "data for classifiers and token models only"
                )
            x, y = made_up_batches(model, len(x))
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
    backend, flops = keras.backend.backend(), transformer_training_flops(model, batch)
    tflops = flops / step / 1e12 if flops and step > 0 else None
    peak = peak or peak_tflops(device_kind(backend), precision)
    return {
        "recipe": name,
        "backend": keras.backend.backend(),
        "jit": jit,
        "jit_compile": bool(model.jit_compile),
        "precision": precision,
        "batch_size": batch,
        "steps": steps,
        "repeats": repeats,
        "first_step_s": round(first, 3),
        "ms_per_step": round(1000 * step, 3),
        "ms_min": round(1000 * min(per_step), 3),
        "ms_max": round(1000 * max(per_step), 3),
        "fit_overhead_ms": round(1000 * fixed, 1),
        "samples_per_s": round(batch / step, 1) if step > 0 else float("nan"),
        "peak_memory_mb": round(peak_memory_mb(keras.backend.backend()), 1),
        "parameters": model.count_params(),
        "threads": threads(keras.backend.backend()),
        "device": describe_backend(),
        "python": platform.python_version(),
        "settings": " ".join(f"{k}={v}" for k, v in settings.items()),
        "model_tflops": tflops and float(f"{tflops:.6g}"),
        "peak_tflops": peak,
        "mfu": float(f"{tflops / peak:.6g}") if tflops and peak else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="+")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--jit", choices=JIT, default="auto")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--peak-tflops", type=float)
    args = parser.parse_args(argv)
    from cookbook.catalogue import load_recipe
    from cookbook.training import parse_settings

    for name in args.recipes:
        try:
            settings = parse_settings(args.settings, load_recipe(name).DEFAULTS)
            row = measure(
                name,
                args.batch_size,
                args.steps,
                args.repeats,
                args.precision,
                args.jit,
                settings,
                args.peak_tflops,
            )
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
