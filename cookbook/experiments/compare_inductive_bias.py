"""`cookbook compare-inductive-bias`: what an architecture assumes about its data, and what that is
worth when data is scarce.

The ``mlp``, the ``cnn`` and the ``vit`` are trained on 5, 10, 25, 50 and 100 % of the digits'
training set, each with the same number of steps (``epochs`` at the full set, proportionally
more on a part of it), and scored on the whole test set. A convolution assumes that what matters
is local and the same everywhere: its kernel sees a 3x3 neighbourhood and is shared by every
position, so it needs fewer examples. The ViT compares every patch with every other and learns
from data where each patch is; it assumes less and needs more. The MLP gives every pixel its own
weight and assumes nothing about the grid.

Then the same on digits whose 64 pixels are shuffled by one fixed permutation, the same for every
image (train, validation and test). Nothing is lost (a permutation can be undone), but
neighbouring pixels are no longer neighbours. The MLP cannot tell the difference: permuting its
inputs only permutes its first layer's rows. The CNN's assumption is now wrong. The ViT's
patches are now four unrelated pixels, but its learnt positions never assumed a layout.

Each recipe trains with its own page's optimizer, rate and schedule. The cnn's random shift is
turned off: shifting a permuted image is not a shift of the digit, and without it both cases see
the same images.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cookbook.catalogue import load_recipe
from cookbook.data import load_dataset
from cookbook.errors import CookbookError
from cookbook.experiments import load_results, save_results
from cookbook.training import compile_model, data_overrides

NETWORKS = {"mlp": {}, "cnn": {"shift": 0}, "vit": {}}
PIXELS = ("plain", "permuted")
FRACTIONS = (0.05, 0.1, 0.25, 0.5, 1.0)


def stratified_part(labels: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """Indices of ``fraction`` of the examples, the same share of every class (at least one each),
    in a random order fixed by ``seed``."""
    rng = np.random.default_rng(seed)
    picked = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        picked.append(members[: max(1, round(fraction * len(members)))])
    return rng.permutation(np.concatenate(picked))


def permute_pixels(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """Every image's pixels moved by one fixed permutation of the grid (channels stay together)."""
    batch, height, width, channels = images.shape
    order = np.random.default_rng(seed).permutation(height * width)
    return images.reshape(batch, height * width, channels)[:, order].reshape(images.shape)


def compare_inductive_bias(
    networks: Sequence[str] = tuple(NETWORKS),
    pixels: Sequence[str] = PIXELS,
    fractions: Sequence[float] = FRACTIONS,
    epochs: int = 8,
    seed: int = 0,
    out: str | Path | None = None,
    verbose: bool = True,
) -> dict:
    """``{"cnn/plain/0.05": {"train_size": 61, "epochs": 200, "steps": 400, "test_accuracy": 0.9,
    "loss": [...], "seconds": 6.1, ...}, ...}``; every run takes the steps ``epochs`` take on the
    whole training set.

    With ``out``, results.json is rewritten after every run and a rerun with the same settings
    measures only the runs not yet finished."""
    import keras

    for name in networks:
        if name not in NETWORKS:
            raise CookbookError(f"unknown network {name!r}; valid: {', '.join(NETWORKS)}")
    for name in pixels:
        if name not in PIXELS:
            raise CookbookError(f"unknown pixels {name!r}; valid: {', '.join(PIXELS)}")
    if not fractions or not all(0 < f <= 1 for f in fractions):
        raise CookbookError(f"--fractions must lie in (0, 1]; got {', '.join(f'{f:g}' for f in fractions)}")
    if epochs < 1:
        raise CookbookError("--epochs must be at least 1")
    data = load_dataset("digits")
    settings = {"epochs": epochs, "seed": seed, "backend": keras.backend.backend()}
    path, results = load_results(out, settings)
    runs = [(n, p, f) for n in networks for p in pixels for f in fractions]
    progress = keras.utils.Progbar(len(runs), unit_name="run") if verbose else None
    for network, layout, fraction in runs:
        name = f"{network}/{layout}/{fraction:g}"
        if name not in results:
            recipe = load_recipe(network)
            batch_size = recipe.TASK["batch_size"]
            x_train, x_test = data.x_train, data.x_test
            if layout == "permuted":
                x_train, x_test = permute_pixels(x_train, seed), permute_pixels(x_test, seed)
            part = stratified_part(data.y_train, fraction, seed)
            budget = epochs * math.ceil(len(data.x_train) / batch_size)  # steps, whatever the part
            part_epochs = max(1, round(budget / math.ceil(len(part) / batch_size)))
            keras.utils.set_random_seed(seed)
            model = recipe.build_functional(**NETWORKS[network], **data_overrides(recipe, data))
            steps = part_epochs * math.ceil(len(part) / batch_size)
            compile_model(model, recipe, total_steps=steps)
            started = time.perf_counter()
            history = model.fit(
                x_train[part], data.y_train[part], epochs=part_epochs, batch_size=batch_size, verbose=0
            ).history
            seconds = time.perf_counter() - started
            predicted = model.predict(x_test, batch_size=256, verbose=0).argmax(-1)
            results[name] = {
                "network": network,
                "pixels": layout,
                "fraction": fraction,
                "train_size": len(part),
                "epochs": part_epochs,
                "steps": steps,
                "loss": [float(v) for v in history["loss"]],
                "test_accuracy": float(np.mean(predicted == data.y_test)),
                "parameters": model.count_params(),
                "seconds": round(seconds, 1),
            }
            save_results(path, settings, results)
        if progress:
            progress.add(1)
    return {f"{n}/{p}/{f:g}": results[f"{n}/{p}/{f:g}"] for n, p, f in runs}


def table(results: dict) -> str:
    """Test accuracy per network and pixel layout (rows) and training-set size (columns)."""
    sizes = list(dict.fromkeys(r["train_size"] for r in results.values()))
    rows = list(dict.fromkeys(f"{r['network']}/{r['pixels']}" for r in results.values()))
    lines = [
        f"{'network/pixels':<16} " + " ".join(f"{f'{size} digits':>11}" for size in sizes) + f" {'time':>6}"
    ]
    for row in rows:
        runs = {r["train_size"]: r for r in results.values() if f"{r['network']}/{r['pixels']}" == row}
        scores = " ".join(
            f"{runs[size]['test_accuracy']:>11.3f}" if size in runs else f"{'':>11}" for size in sizes
        )
        lines.append(f"{row:<16} {scores} {sum(r['seconds'] for r in runs.values()):>5.0f}s")
    return "\n".join(lines)
