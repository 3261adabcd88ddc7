"""`cookbook data-parallel`: the same steps on 1, 2, 4 devices - equal weights, and what a step costs.

Data parallelism promises that N devices at a global batch B take the *same* steps as one device
at batch B: each device computes the gradient of its B / N examples, the engine averages them,
and every replica applies the one update. This checks the promise on a recipe: from the same
seed, ``steps`` steps of ``fit`` (no shuffling) over the first ``steps x B`` training examples, on
one device and on N, and the largest difference between the weights that come out.

Each device draws its own random numbers, so a dropout mask or a random shift drawn for half a
batch is not the half of one drawn for the whole: the settings that draw them in training
(`random_settings`: dropout rates, the cnn's shift, the autoencoder's noise) are set to 0 for the
comparison, and the output says which. A BatchNormalization layer also differs: each device
normalises by its own slice's statistics (Keras has no synchronised batch norm on every backend).

It also times the steps (the median after the first two, which compile). On a CPU the devices
are simulated and share the same cores, so the time measures the engine's overhead (splitting
the batch, the all-reduce, for PyTorch the processes), not a speed-up.

JAX and TensorFlow run every device count in this process, which must see the largest count
(`cookbook.distribute.simulate` before Keras is imported: the command does that). PyTorch runs
each count above one as that many processes, each a call of this module's ``worker``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cookbook import distribute
from cookbook.errors import CookbookError

if TYPE_CHECKING:
    import keras


def random_settings(defaults: dict) -> dict:
    """The page's settings that draw random numbers in training, each with 0 (which turns it off)."""
    return {
        key: 0
        for key, value in defaults.items()
        if ("dropout" in key or key in ("shift", "noise")) and isinstance(value, (int, float)) and value
    }


def first_steps(
    name: str,
    devices: int,
    steps: int = 16,
    batch_size: int = 64,
    seed: int = 0,
    api: str = "functional",
    model_parallel: int = 1,
) -> dict | None:
    """Train ``name`` for ``steps`` steps on ``devices`` replicas (its Transformer kernels split
    ``model_parallel`` ways: JAX); its weights and step time.

    ``{"weights": [arrays], "step_ms": median, "engine": ..., "names": [devices]}``, or None in a
    PyTorch process after the first.
    """
    import keras

    from cookbook.catalogue import load_recipe
    from cookbook.data import load_dataset
    from cookbook.training import arrays, build, compile_model, data_overrides

    recipe = load_recipe(name)
    task = recipe.TASK
    distribute.check(devices, batch_size, model_parallel)
    distribute.check_step(name, recipe)
    data = load_dataset(task["dataset"], task["datasets"])
    replicas = distribute.replicas(devices, model_parallel)
    times = _step_times()
    overrides = {**data_overrides(recipe, data), **random_settings(recipe.DEFAULTS)}
    if model_parallel > 1:
        replicas.split_model(build(recipe, api, **overrides))
    with replicas.scope():
        keras.utils.set_random_seed(seed)
        model = build(recipe, api, **overrides)
        compile_model(model, recipe)
        replicas.wrap(model)
        fit = arrays(recipe, data, model)
        head = keras.tree.map_structure(
            lambda array: array[: steps * batch_size], {"x": fit["x"], "y": fit["y"]}
        )
        if len(keras.tree.flatten(head["x"])[0]) < steps * batch_size:
            raise CookbookError(
                f"{name}'s training split has fewer than {steps} x {batch_size} examples; "
                "give fewer --steps or a smaller --batch-size"
            )
        head, _ = replicas.split(head)
        model.fit(
            **head,
            batch_size=replicas.batch_size(batch_size),
            epochs=1,
            shuffle=False,
            verbose=0,
            callbacks=[times],
        )
    replicas.close()
    if not replicas.leader:
        return None
    return {
        "weights": [np.asarray(weight) for weight in model.get_weights()],
        "step_ms": times.median_ms(),
        "engine": replicas.engine
        + (f" (batch {replicas.shards} x model {model_parallel})" if model_parallel > 1 else ""),
        "names": replicas.names,
        "placement": placement(_shown_variable(model, replicas), replicas),
        "layouts": replicas.layouts,
    }


def _shown_variable(model: keras.Model, replicas: distribute.Replicas) -> keras.Variable:
    """The variable whose placement is shown: the first split one, else the first weight."""
    split = [variable for variable in model.weights if variable.path in (replicas.layouts or {})]
    return (split or model.trainable_weights)[0]


def placement(variable: keras.Variable, replicas: distribute.Replicas) -> str:
    """Where a variable lives: the mesh and layout (JAX), the mirrored copies (TensorFlow)."""
    import keras

    backend = keras.backend.backend()
    if replicas.devices == 1:
        where = "on one device"
    elif backend == "jax":
        where = str(variable.value.sharding)  # the mesh, and the layout P(...) of each axis
        shard = tuple(variable.value.addressable_shards[0].data.shape)
        where += f"; {shard} on each device" if shard != tuple(variable.shape) else "; whole on each device"
    elif backend == "tensorflow":
        value = variable.value
        copies = [copy.device.split("device:")[-1] for copy in getattr(value, "values", [value])]
        where = f"{type(value).__name__}, a copy on each of {', '.join(copies)}"
    else:
        where = f"a whole copy in each of the {replicas.devices} processes; DDP averages the gradients"
    return f"{variable.path} {tuple(variable.shape)}: {where}"


def _step_times() -> keras.callbacks.Callback:
    """A callback that keeps each training batch's seconds; ``median_ms()`` after the first two."""
    import keras

    class StepTimes(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []
            self._started = 0.0

        def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
            self._started = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self.seconds.append(time.perf_counter() - self._started)

        def median_ms(self) -> float:
            kept = self.seconds[2:] or self.seconds  # the first two compile
            return 1000 * float(np.median(kept))

    return StepTimes()


def _elsewhere(name: str, devices: int, steps: int, batch_size: int, seed: int, api: str) -> dict:
    """`first_steps` in processes of its own: PyTorch's ``devices`` processes, or one TensorFlow
    process (a second MirroredStrategy over other devices cannot share a process with the
    first: their collective groups collide). The first process's result."""
    import keras

    module = "cookbook.experiments.data_parallel"
    with tempfile.TemporaryDirectory() as folder:
        argv = [name, str(devices), str(steps), str(batch_size), str(seed), api, folder]
        if keras.backend.backend() == "torch":
            distribute.launch(argv, devices, module=module)
        elif subprocess.run([sys.executable, "-m", module, *argv]).returncode:
            raise CookbookError(f"the run on {devices} devices failed; its output is above")
        saved = np.load(Path(folder) / "weights.npz")
        found = json.loads((Path(folder) / "result.json").read_text())
        return {**found, "weights": [saved[f"w{index}"] for index in range(len(saved.files))]}


def data_parallel(
    name: str = "mlp",
    device_counts: Iterable[int] = (1, 2, 4),
    steps: int = 16,
    batch_size: int = 64,
    seed: int = 0,
    api: str = "functional",
    verbose: bool = True,
    model_parallel: int = 1,
) -> list[dict]:
    """One row per device count: step time, samples/s, and the weights' largest difference
    from one device's after the same steps. ``model_parallel`` applies to every count above one."""
    import keras

    counts = sorted(set(device_counts) | {1})
    for count in counts:
        distribute.check(count, batch_size, model_parallel if count > 1 else 1)
    backend = keras.backend.backend()
    distribute.check_model_parallel(backend, model_parallel)
    rows, reference = [], None
    progress = keras.utils.Progbar(len(counts), unit_name="device count") if verbose else None
    for count in counts:
        if backend in ("torch", "tensorflow") and count > 1:
            result = _elsewhere(name, count, steps, batch_size, seed, api)
        else:
            result = first_steps(
                name, count, steps, batch_size, seed, api, model_parallel if count > 1 else 1
            )
        weights = result.pop("weights")
        reference = reference or weights
        difference = max(float(np.max(np.abs(a - b))) for a, b in zip(reference, weights))
        scale = max(float(np.max(np.abs(a))) for a in reference)
        rows.append(
            {
                "devices": count,
                **result,
                "samples_per_s": batch_size / (result["step_ms"] / 1000),
                "max_weight_difference": difference,
                "relative_difference": difference / scale,
            }
        )
        if progress:
            progress.add(1)
    return rows


def table(rows: list[dict], batch_size: int) -> str:
    """The rows as a Markdown table."""
    lines = [
        f"| devices | engine | step (ms) | samples/s | max abs weight difference from 1 device (batch {batch_size}) |",
        "|---:|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['devices']} | {row['engine']} | {row['step_ms']:.2f} | {row['samples_per_s']:.0f} "
            f"| {row['max_weight_difference']:.1e} |"
        )
    return "\n".join(lines)


def _worker(argv: list[str]) -> None:
    """A process of `_elsewhere`: the first (or only) one writes the weights and the timing."""
    parser = argparse.ArgumentParser()
    for key in ("name", "devices", "steps", "batch_size", "seed", "api", "folder"):
        parser.add_argument(key)
    args = parser.parse_args(argv)
    distribute.simulate(os.environ["KERAS_BACKEND"], int(args.devices))  # (TensorFlow: before it starts)
    result = first_steps(
        args.name, int(args.devices), int(args.steps), int(args.batch_size), int(args.seed), args.api
    )
    if result is not None:
        weights = result.pop("weights")
        np.savez(
            Path(args.folder) / "weights.npz", **{f"w{index}": weight for index, weight in enumerate(weights)}
        )
        (Path(args.folder) / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        _worker(sys.argv[1:])
    except CookbookError as error:
        print(f"cookbook: error: {error}", file=sys.stderr)
        sys.exit(2)
