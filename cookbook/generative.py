"""Training and judging the generative recipes (gan, conditional_gan, autoencoder, vae): data in
the model's pixel range, a grid of samples after every epoch, a sample quality score from a trained
classifier (for a conditional model also how often it drew the label asked for), and for an
autoencoder its reconstructions and its map of codes (and a VAE's held-out ELBO).

Keras is imported inside the functions: the caller selects the backend first.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from cookbook.errors import CookbookError
from cookbook.judging import shares

if TYPE_CHECKING:
    import keras

    from cookbook.data import Dataset

GRID = 64  # samples in each grid: 8 x 8
DRAWERS = ("generator", "decoder")  # the network that turns noise into images: a GAN's, a VAE's


def pixel_range(recipe: ModuleType) -> tuple[float, float]:
    """The range the recipe's images live in: [-1, 1] for a tanh generator, [0, 1] by default."""
    return tuple(recipe.TASK.get("pixel_range", (0, 1)))


def to_range(images: np.ndarray, bounds: tuple[float, float] = (0, 1)) -> np.ndarray:
    """[0, 1] images -> ``bounds`` (e.g. [-1, 1], the range of a generator's tanh)."""
    low, high = bounds
    return (images * (high - low) + low).astype("float32")


def from_range(images: np.ndarray, bounds: tuple[float, float] = (0, 1)) -> np.ndarray:
    low, high = bounds
    return np.clip((np.asarray(images, "float32") - low) / (high - low), 0, 1)


def fixed_noise(latent_dim: int, n: int = GRID, seed: int = 0) -> np.ndarray:
    """The same noise every epoch, so that the grids show one set of samples changing."""
    return np.random.default_rng(seed).normal(size=(n, latent_dim)).astype("float32")


def drawer(model: keras.Model) -> keras.Model:
    """The network of ``model`` that draws images from noise (or ``model`` itself, a bare generator)."""
    names = {layer.name for layer in getattr(model, "layers", [])}
    return next((model.get_layer(name) for name in DRAWERS if name in names), model)


def classes_of(model: keras.Model) -> int:
    """How many labels a conditional model can be asked for (0: it takes no label)."""
    return int(getattr(model, "num_classes", 0) or 0)


def grid_labels(model: keras.Model, n: int) -> np.ndarray | None:
    """For a conditional model, labels 0, 1, ..., 0, 1, ...: one class per column of a grid of
    ``classes_of(model)`` columns. None for a model that takes no label."""
    classes = classes_of(model)
    return np.arange(n) % classes if classes else None


def asked_labels(
    model: keras.Model, n: int, labels: int | Sequence[int] | np.ndarray | None = None
) -> np.ndarray | None:
    """The ``n`` labels a conditional model is asked for (``labels``: one label or ``n``; default:
    ``grid_labels``), checked; None for a model that takes no label."""
    classes = classes_of(model)
    if not classes:
        if labels is not None:
            raise CookbookError("this model takes no label; a conditional one (conditional_gan) does")
        return None
    labels = grid_labels(model, n) if labels is None else np.broadcast_to(np.asarray(labels, int), (n,))
    if labels.min() < 0 or labels.max() >= classes:
        wrong = labels.max() if labels.max() >= classes else labels.min()
        raise CookbookError(f"unknown label {int(wrong)}; this model draws labels 0 to {classes - 1}")
    return labels


def draw(
    model: keras.Model,
    n: int = GRID,
    seed: int = 0,
    bounds: tuple[float, float] = (0, 1),
    labels: int | Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """``n`` images from a trained generative model whose images live in ``bounds``, in [0, 1].

    A conditional model draws the ``labels`` asked for (see ``asked_labels``)."""
    network, classes, labels = drawer(model), classes_of(model), asked_labels(model, n, labels)
    noise = fixed_noise(network.input_shape[-1] - classes, n, seed)
    if classes:  # the generator takes the noise followed by the label's one-hot code
        noise = np.concatenate([noise, np.eye(classes, dtype="float32")[labels]], axis=-1)
    return from_range(network.predict(noise, batch_size=256, verbose=0), bounds)


def sample_grid_callback(
    folder: str | Path, title: str, bounds: tuple[float, float] = (0, 1)
) -> keras.callbacks.Callback:
    """A Keras callback writing ``folder/epoch-NNN.png`` (64 samples from fixed noise) after each epoch."""
    import keras

    from cookbook.plots import plot_samples

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    class SampleGrid(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            losses = ", ".join(f"{key} {value:.3f}" for key, value in (logs or {}).items())
            columns = classes_of(self.model) or 8  # a conditional model: one class per column
            plot_samples(
                draw(self.model, columns * 8, bounds=bounds),
                folder / f"epoch-{epoch + 1:03d}.png",
                f"{title}, epoch {epoch + 1}: {losses}",
                columns,
            )

    return SampleGrid()


def sample_quality(images: np.ndarray, classifier: keras.Model, labels: np.ndarray | None = None) -> dict:
    """How a trained Keras classifier sees generated images ([0, 1], the classifier's input range):
    ``cookbook.judging.shares`` of its probabilities (confidence, histogram, coverage, ...)."""
    if tuple(classifier.input_shape[1:]) != images.shape[1:]:
        raise CookbookError(
            f"the classifier takes {tuple(classifier.input_shape[1:])} images, the generator draws "
            f"{images.shape[1:]}: train the classifier on the generator's dataset"
        )
    probabilities = classifier.predict(images, batch_size=256, verbose=0)  # (n, classes)
    return shares(probabilities, labels)


def find_classifier(dataset: str, backend: str, runs: str | Path = "runs") -> Path | None:
    """The model `cookbook train cnn` wrote for this dataset and backend, if there is one."""
    import json

    folder = Path(runs) / f"cnn-functional-{backend}"
    if not (folder / "model.keras").exists() or not (folder / "metrics.json").exists():
        return None
    return (
        folder / "model.keras"
        if json.loads((folder / "metrics.json").read_text())["dataset"] == dataset
        else None
    )


def score(
    model: keras.Model,
    dataset: str,
    n: int = 1000,
    seed: int = 1,
    classifier: str | Path | None = None,
    bounds: tuple[float, float] = (0, 1),
    labels: int | Sequence[int] | np.ndarray | None = None,
) -> dict:
    """The quality score of ``n`` samples, when a classifier of ``dataset`` is at hand: ``classifier``,
    or the one `cookbook train cnn` wrote for this dataset and backend. A conditional model is asked
    for ``labels`` (default: every class in turn) and scored on obeying them."""
    import keras

    from cookbook.models import load_model

    classifier = classifier or find_classifier(dataset, keras.backend.backend())
    if classifier is None:
        return {
            "note": f"no classifier: run `cookbook train cnn --dataset {dataset}` first for a quality score"
        }
    if not Path(classifier).is_file():
        raise CookbookError(f"no classifier file {str(classifier)!r}")
    judged = load_model(classifier)  # imports the recipe whose layers it holds (the cnn's RandomShift)
    labels = asked_labels(model, n, labels)
    images = draw(model, n, seed, bounds, labels)
    return {"classifier": str(classifier), **sample_quality(images, judged, labels=labels)}


def independent_score(
    model: keras.Model,
    data: Dataset,
    n: int = 1000,
    seed: int = 1,
    bounds: tuple[float, float] = (0, 1),
    labels: int | Sequence[int] | np.ndarray | None = None,
) -> dict:
    """What models the project did not train make of ``n`` samples: the scikit-learn judge's
    verdict and the Fréchet distance to ``data``'s test images (``cookbook.judging.verdict``)."""
    from cookbook.judging import reference, verdict

    labels = asked_labels(model, n, labels)
    return verdict(draw(model, n, seed, bounds, labels), reference(data), labels)


def interleave(originals: np.ndarray, copies: np.ndarray, columns: int = 8) -> np.ndarray:
    """Rows of originals, each followed by the row of their copies: one grid to compare them in."""
    rows = [
        part[start : start + columns]
        for start in range(0, len(originals), columns)
        for part in (originals, copies)
    ]
    return np.concatenate(rows)


def judge(model: keras.Model, recipe: ModuleType, data: Dataset, out: str | Path, kind: str) -> dict:
    """After training (``kind``: gan, autoencoder or vae, cookbook.kinds.KINDS): ``out/samples.png``
    (64 samples), ``real-and-samples.png`` (test images beside them), the quality score of the
    `cnn` (when one was trained) and the independent judge's with the Fréchet distance; for an
    autoencoder (plain or variational) also ``reconstructions.png`` and ``latent.png`` (the test images' codes), and for a VAE the held-out -ELBO."""
    from cookbook.plots import plot_beside, plot_latent, plot_samples

    out, bounds = Path(out), pixel_range(recipe)
    columns = classes_of(model) or 8  # a conditional model: one class per column
    plot_samples(
        draw(model, columns * 8, bounds=bounds),
        out / "samples.png",
        f"{data.name}: {columns * 8} samples" + (", one class per column" if classes_of(model) else ""),
        columns,
    )
    plot_beside(
        {
            f"{data.name}: test images": data.x_test[:64],
            f"{recipe.__name__.rsplit('.', 1)[-1]}: samples": draw(model, 64, bounds=bounds),
        },
        out / "real-and-samples.png",
    )
    report = {
        "quality": score(model, data.name, bounds=bounds),
        "independent": independent_score(model, data, bounds=bounds),
    }
    if kind == "vae":
        report["elbo"] = recipe.negative_elbo(model, data.x_test)
    if kind in ("autoencoder", "vae"):  # what it rebuilds, and where its codes fall
        originals = data.x_test[:32]
        copies = np.asarray(model.predict(originals, verbose=0))
        plot_samples(
            interleave(originals, copies),
            out / "reconstructions.png",
            f"{data.name} test images (odd rows) and their reconstructions (even rows)",
        )
        codes = recipe.encode(model, data.x_test)  # a VAE's: (mean, log_var); the means are placed
        codes = codes[0] if isinstance(codes, tuple) else codes
        plot_latent(codes, data.y_test, out / "latent.png", f"{data.name}: codes of the test images")
    return report
