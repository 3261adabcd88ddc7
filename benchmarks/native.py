"""Time the hand-written PyTorch and JAX networks on the recipes' data, as measure.py times the recipes.

The native loop has no ``fit`` around it, so a pass is simply ``steps`` training steps on batches
already on the device, the clock read after the device has finished (``torch.cuda.synchronize``,
``block_until_ready``). As for the recipes: the first step (compiling, for ``torch.compile`` and
``jax.jit``) is timed apart, a warm-up pass is left out, and the median of the passes is reported.

    python -m benchmarks.native torch mlp cnn --batch-size 64 --steps 50   # one JSON line per recipe
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from benchmarks.measure import peak_memory_mb, threads, training_batches
from cookbook.protocol import default_learning_rate

if TYPE_CHECKING:
    import jax
    import numpy as np
    import torch

FRAMEWORKS = {
    "torch": ("torch", "eager"),
    "torch-compile": ("torch", "torch.compile"),
    "jax": ("jax", "jax.jit"),
}
RECIPES = ("mlp", "cnn", "lstm", "transformer_classifier")


def _torch_step(
    name: str, config: dict, learning_rate: float, compiled: bool
) -> tuple[
    Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    Callable[[np.ndarray], torch.Tensor],
    Callable[[torch.Tensor], torch.Tensor],
    int,
    str,
]:
    import torch

    from benchmarks import native_torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    net = native_torch.NETWORKS[name](config).to(device)
    step = native_torch.training_step(net, learning_rate, compiled)

    def to_device(array: np.ndarray) -> torch.Tensor:
        tensor = torch.as_tensor(array)
        return (tensor if tensor.is_floating_point() else tensor.long()).to(device)

    def wait(loss: torch.Tensor) -> torch.Tensor:
        if device == "cuda":
            torch.cuda.synchronize()
        return loss

    described = f"torch {torch.__version__}, " + (torch.cuda.get_device_name() if device == "cuda" else "CPU")
    return step, to_device, wait, native_torch.trainable_parameters(net), described


def _jax_step(
    name: str, config: dict, learning_rate: float
) -> tuple[
    Callable[[jax.Array, jax.Array], jax.Array],
    Callable[[np.ndarray], jax.Array],
    Callable[[jax.Array], jax.Array],
    int,
    str,
]:
    import jax
    import jax.numpy as jnp

    from benchmarks import native_jax

    step = native_jax.training_step(name, config, learning_rate)
    count = native_jax.parameter_count(native_jax.init(name, config, jax.random.key(0)))
    described = f"jax {jax.__version__}, {jax.devices()[0].device_kind}"
    return step, jnp.asarray, lambda loss: loss.block_until_ready(), count, described


def measure(
    framework: str, name: str, batch_size: int | None = None, steps: int = 50, repeats: int = 5
) -> dict:
    """One row of the table for the hand-written network ``name`` in ``framework``."""
    if name not in RECIPES:
        raise ValueError(f"no hand-written {name}; there are: {', '.join(RECIPES)}")
    recipe, overrides, batch, x, y = training_batches(name, batch_size, steps)
    config, learning_rate = {**recipe.DEFAULTS, **overrides}, default_learning_rate(recipe)
    backend, jit = FRAMEWORKS[framework]
    if backend == "jax":
        step, to_device, wait, parameters, device = _jax_step(name, config, learning_rate)
    else:
        step, to_device, wait, parameters, device = _torch_step(name, config, learning_rate, jit != "eager")
    batches = [(to_device(x[i : i + batch]), to_device(y[i : i + batch])) for i in range(0, len(x), batch)]

    def one_pass(count: int) -> float:
        started = time.perf_counter()
        for i in range(count):
            loss = step(*batches[i % len(batches)])
        wait(loss)
        return time.perf_counter() - started

    first = one_pass(1)  # compiles (torch.compile, jax.jit), then runs once
    one_pass(steps)  # warm-up, left out
    per_step = [one_pass(steps) / steps for _ in range(repeats)]
    ms = statistics.median(per_step)
    return {
        "recipe": name,
        "backend": f"{backend} (native)",
        "native": True,
        "jit": jit,
        "jit_compile": jit != "eager",
        "precision": "float32",
        "batch_size": batch,
        "steps": steps,
        "repeats": repeats,
        "first_step_s": round(first, 3),
        "ms_per_step": round(1000 * ms, 3),
        "ms_min": round(1000 * min(per_step), 3),
        "ms_max": round(1000 * max(per_step), 3),
        "fit_overhead_ms": None,
        "samples_per_s": round(batch / ms, 1),
        "peak_memory_mb": round(peak_memory_mb(backend), 1),
        "parameters": parameters,
        "threads": threads(backend),
        "device": device,
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("framework", choices=FRAMEWORKS)
    parser.add_argument("recipes", nargs="+")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    for name in args.recipes:
        try:
            row = measure(args.framework, name, args.batch_size, args.steps, args.repeats)
        except (
            Exception
        ) as error:  # one network failing (torch.compile, say) is a row, not the end of the run
            backend, jit = FRAMEWORKS[args.framework]
            row = {
                "recipe": name,
                "backend": f"{backend} (native)",
                "native": True,
                "jit": jit,
                "error": f"{type(error).__name__}: {error}".splitlines()[0],
            }
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
