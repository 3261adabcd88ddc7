"""`cookbook compare-depth`: the experiment that motivated ResNets, on this machine.

For each depth, the ``resnet`` recipe is trained twice with one budget: once as it
is, once with every shortcut removed (``residual=False``, the paper's "plain" net).
Depth counts weighted layers as the CIFAR ResNets do: 6n + 2 for three stages of n
basic blocks (two convolutions each), the first convolution and the classifier.
He et al. saw the plain net's *training* loss get worse as it got deeper, while the
residual net's got better; the plot of training loss per epoch shows whether that
happens here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path

from cookbook.catalogue import load_recipe
from cookbook.data import load_dataset
from cookbook.errors import CookbookError
from cookbook.experiments import load_results, save_results
from cookbook.training import compile_model, data_overrides


def blocks_per_stage(depth: int) -> int:
    if depth < 8 or (depth - 2) % 6:
        raise CookbookError(f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110); got {depth}")
    return (depth - 2) // 6


def compare_depth(
    depths: Sequence[int] = (20, 56),
    epochs: int = 20,
    dataset: str = "digits",
    seed: int = 0,
    out: str | Path | None = None,
    verbose: bool = True,
) -> dict:
    """``{"resnet-20": {"loss": [...], "val_accuracy": [...], "seconds": s}, "plain-20": ...}``.

    With ``out``, results.json is rewritten after every run and a rerun with the same
    settings skips the runs already finished.
    """
    import keras

    for depth in depths:
        blocks_per_stage(depth)
    if epochs < 1:
        raise CookbookError("--epochs must be at least 1")
    resnet = load_recipe("resnet")
    data = load_dataset(dataset, resnet.TASK["datasets"])
    batch_size = resnet.TASK["batch_size"]
    settings = {
        "depths": list(depths),
        "epochs": epochs,
        "dataset": data.name,
        "seed": seed,
        "backend": keras.backend.backend(),
    }
    path, results = load_results(out, settings)
    runs = [(depth, residual) for depth in depths for residual in (True, False)]
    progress = keras.utils.Progbar(len(runs), unit_name="run") if verbose else None
    for depth, residual in runs:
        name = f"{'resnet' if residual else 'plain'}-{depth}"
        if name not in results:
            keras.utils.set_random_seed(seed)
            stages = (blocks_per_stage(depth),) * 3
            model = resnet.build_functional(
                stage_blocks=stages, residual=residual, **data_overrides(resnet, data)
            )
            steps = epochs * math.ceil(len(data.x_train) / batch_size)
            compile_model(model, resnet, total_steps=steps, example=(data.x_train, data.y_train))
            started = time.perf_counter()
            history = model.fit(
                data.x_train,
                data.y_train,
                validation_data=(data.x_val, data.y_val),
                epochs=epochs,
                batch_size=batch_size,
                verbose=0,
            )
            results[name] = {
                "depth": depth,
                "residual": residual,
                "parameters": model.count_params(),
                "loss": [float(v) for v in history.history["loss"]],
                "val_accuracy": [float(v) for v in history.history["val_accuracy"]],
                "seconds": round(time.perf_counter() - started, 1),
            }
            save_results(path, settings, results)
        if progress:
            progress.add(1)
    return {f"{kind}-{depth}": results[f"{kind}-{depth}"] for depth in depths for kind in ("resnet", "plain")}


def table(results: dict) -> str:
    lines = [
        f"{'network':<12} {'parameters':>10} {'first loss':>10} {'last loss':>10} {'val acc':>8} {'time':>7}"
    ]
    for name, r in results.items():
        lines.append(
            f"{name:<12} {r['parameters']:>10,} {r['loss'][0]:>10.4f} {r['loss'][-1]:>10.4f} "
            f"{r['val_accuracy'][-1]:>8.3f} {r['seconds']:>6.0f}s"
        )
    return "\n".join(lines)
