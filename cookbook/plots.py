"""PNG pictures: training curves, edge maps, learned filters, regularisation gaps, RNN races,
ResNet depth curves, segmentation masks, attention maps, the design lessons."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np


def pyplot_for_files() -> ModuleType:
    """pyplot, drawing to files: Agg where nothing chose a backend yet (a command, a test). In a
    notebook, pyplot is already imported with the inline backend, which is left alone: switching it
    to Agg would stop every later ``plt.show()`` from drawing (each figure here is closed once saved)."""
    import sys

    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(history_csv: str | Path, png: str | Path, title: str = "") -> Path:
    """Loss and each metric per epoch, training and validation side by side."""
    from cookbook.history import read_history

    history = read_history(history_csv)
    names = [key for key in history if key != "epoch" and not key.startswith("val_")]
    plt = pyplot_for_files()
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.6), squeeze=False)
    epochs = np.asarray(history["epoch"]) + 1
    for ax, name in zip(axes[0], names):
        ax.plot(epochs, history[name], label="train")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], label="validation")
        ax.set(xlabel="epoch", ylabel=name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return Path(png)


def plot_edge_maps(image: np.ndarray, maps: np.ndarray, operators: Sequence[str], png: str | Path) -> Path:
    """The photo, then per operator: d/dx, d/dy and the magnitude sqrt(dx^2 + dy^2)."""
    plt = pyplot_for_files()
    fig, axes = plt.subplots(len(operators), 4, figsize=(16, 3.2 * len(operators)), squeeze=False)
    for row, name in enumerate(operators):
        gx, gy = maps[..., 2 * row], maps[..., 2 * row + 1]
        panels = [
            (image, "photo"),
            (gx, f"{name} d/dx"),
            (gy, f"{name} d/dy"),
            (np.hypot(gx, gy), f"{name} magnitude"),
        ]
        for ax, (picture, label) in zip(axes[row], panels):
            ax.imshow(
                picture, cmap=None if picture.ndim == 3 else ("magma" if "magnitude" in label else "gray")
            )
            ax.set_title(label)
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(png, dpi=80)
    plt.close(fig)
    return Path(png)


def plot_filters(kernel: np.ndarray, png: str | Path, title: str = "") -> Path:
    """Each filter of a Conv2D kernel (kh, kw, in, out), channels averaged, as a tile."""
    tiles = kernel.mean(axis=2)  # (kh, kw, out)
    count = tiles.shape[-1]
    columns = min(8, count)
    rows = -(-count // columns)
    plt = pyplot_for_files()
    fig, axes = plt.subplots(rows, columns, figsize=(1.4 * columns, 1.4 * rows + 0.5), squeeze=False)
    limit = np.abs(tiles).max() or 1.0
    for index, ax in enumerate(axes.flat):
        if index < count:
            ax.imshow(tiles[..., index], cmap="coolwarm", vmin=-limit, vmax=limit)
        ax.axis("off")
    fig.suptitle(title or f"{count} learned {tiles.shape[0]}x{tiles.shape[1]} filters")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return Path(png)


def plot_regularization(results: dict, png: str | Path) -> Path:
    """Training and validation accuracy per regulariser; the gap is the overfitting."""
    plt = pyplot_for_files()
    names = list(results)
    positions = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(positions - 0.2, [results[n]["train_accuracy"] for n in names], 0.4, label="train")
    ax.bar(positions + 0.2, [results[n]["val_accuracy"] for n in names], 0.4, label="validation")
    for x, name in zip(positions, names):
        ax.annotate(f"gap {results[name]['gap']:.3f}", (x, 1.01), ha="center", fontsize=8)
    ax.set(xticks=positions, xticklabels=names, ylabel="accuracy", ylim=(0, 1.08))
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return Path(png)


def plot_rnn_comparison(results: dict, png: str | Path, guess: float | None = None) -> Path:
    """Fraction solved (left) and time per training step (right) against sequence length."""
    plt = pyplot_for_files()
    fig, (solved, speed) = plt.subplots(1, 2, figsize=(11, 4))
    for cell, by_length in results.items():
        lengths = [int(n) for n in by_length]
        solved.plot(lengths, [r["solved"] for r in by_length.values()], marker="o", label=cell)
        speed.plot(lengths, [r["step_ms"] for r in by_length.values()], marker="o", label=cell)
    if guess is not None:
        solved.axhline(guess, color="grey", linestyle=":", label="always 1.0")
    solved.set(
        xscale="log", xlabel="sequence length (steps to remember)", ylabel="test sums solved", ylim=(0, 1.05)
    )
    speed.set(xscale="log", xlabel="sequence length", ylabel="ms per training step")
    for ax in (solved, speed):  # label the lengths raced, not powers of ten
        ax.set_xticks(lengths, [str(n) for n in lengths])
        ax.minorticks_off()
    solved.legend(fontsize=8)
    fig.suptitle("The adding problem: who still remembers?")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return Path(png)


def plot_depth_comparison(results: dict, png: str | Path) -> Path:
    """Training loss per epoch: residual nets solid, plain nets dashed, one colour per depth."""
    plt = pyplot_for_files()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    depths = sorted({r["depth"] for r in results.values()})
    colours = {depth: f"C{i}" for i, depth in enumerate(depths)}
    for name, r in results.items():
        epochs = range(1, len(r["loss"]) + 1)
        style = "-" if r["residual"] else "--"
        ax.plot(epochs, r["loss"], style, color=colours[r["depth"]], label=name)
    ax.set(yscale="log", xlabel="epoch", ylabel="training loss")
    ax.legend(fontsize=8)
    ax.set_title("Training loss: with shortcuts (solid), without (dashed)", fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return Path(png)


def plot_masks(
    images: np.ndarray,
    true_masks: np.ndarray,
    predicted_masks: np.ndarray,
    class_names: list[str],
    png: str | Path,
) -> Path:
    """Images over their true and predicted masks, one column per image."""
    plt = pyplot_for_files()
    n = len(images)
    fig, axes = plt.subplots(3, n, figsize=(1.6 * n, 5.2), squeeze=False)
    colours = plt.get_cmap("tab10", len(class_names))
    for column in range(n):
        image = images[column]
        axes[0, column].imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray")
        for row, mask in ((1, true_masks[column]), (2, predicted_masks[column])):
            axes[row, column].imshow(mask, cmap=colours, vmin=-0.5, vmax=len(class_names) - 0.5)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for row, label in enumerate(("image", "true mask", "predicted")):
        axes[row, 0].set_ylabel(label)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours(i)) for i in range(len(class_names))]
    fig.legend(handles, class_names, loc="lower center", ncol=len(class_names), fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return Path(png)


def _panels(count: int, columns: int) -> tuple[int, int]:
    return min(count, columns), -(-count // columns)


def plot_attention(
    weights: np.ndarray,
    png: str | Path,
    query_labels: Sequence[str] | None = None,
    key_labels: Sequence[str] | None = None,
    title: str = "",
) -> Path:
    """One heat map per head and their mean: ``weights`` (heads, queries, keys), a row per query."""
    heads, queries, keys = weights.shape
    panels = [(weights[h], f"head {h}") for h in range(heads)] + [(weights.mean(axis=0), "mean of the heads")]
    columns, rows = _panels(len(panels), 3)
    side = 3.2 if max(queries, keys) <= 20 else 4.4
    plt = pyplot_for_files()
    fig, axes = plt.subplots(
        rows, columns, figsize=(side * columns, side * rows * max(queries / keys, 0.45) + 0.8), squeeze=False
    )
    for ax, (picture, label) in zip(axes.flat, panels):
        ax.imshow(picture, cmap="magma", vmin=0, aspect="auto")
        ax.set_title(label)
        for labels, set_ticks, set_names in (
            (query_labels, ax.set_yticks, ax.set_yticklabels),
            (key_labels, ax.set_xticks, ax.set_xticklabels),
        ):
            if labels is not None and len(labels) <= 64:
                set_ticks(range(len(labels)))
                set_names(
                    [repr(c)[1:-1] if c.strip() else "\u2423" for c in labels], fontsize=7, family="monospace"
                )
            else:
                set_ticks([])
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    fig.suptitle(title + "\nrows: queries, columns: the keys they look at")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return Path(png)


def plot_patch_attention(image: np.ndarray, looks: np.ndarray, png: str | Path, title: str = "") -> Path:
    """The image, then per head (and their mean) how much attention each patch gets: ``looks``
    (heads, rows, columns) of patches."""
    panels = [(looks[h], f"head {h}") for h in range(len(looks))] + [
        (looks.mean(axis=0), "mean of the heads")
    ]
    columns, rows = _panels(len(panels) + 1, 6)
    plt = pyplot_for_files()
    fig, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.6 * rows + 0.6), squeeze=False)
    axes.flat[0].imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray_r")
    axes.flat[0].set_title("input")
    for ax, (picture, label) in zip(axes.flat[1:], panels):
        ax.imshow(picture, cmap="magma", vmin=0)
        ax.set_title(label)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return Path(png)


def plot_attention_scaling(results: dict, png: str | Path) -> Path:
    """ms per training step and peak memory against T, log-log, with T and T^2 drawn for reference."""
    plt = pyplot_for_files()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, label in zip(axes, ("step_ms", "peak_mib"), ("ms per training step", "peak memory (MiB)")):
        for block, by_length in results.items():
            points = [(int(n), r[key]) for n, r in by_length.items() if r.get(key, 0) > 0]
            if points:
                ax.plot(*zip(*points), marker="o", label=block)
        lengths = sorted({int(n) for by_length in results.values() for n in by_length})
        anchor = [r[key] for by_length in results.values() for r in by_length.values() if r.get(key, 0) > 0]
        if len(lengths) > 1 and anchor:
            t = np.array(lengths, float)
            for power, style in ((1, ":"), (2, "--")):
                ax.plot(t, min(anchor) * (t / t[0]) ** power, "k" + style, alpha=0.4, label=f"~ T^{power}")
        ax.set(xscale="log", yscale="log", xlabel="sequence length T", ylabel=label)
        ax.set_xticks(lengths, [str(n) for n in lengths], minor=False)
        ax.set_xticks([], minor=True)  # the log axis' own minor labels would overlap these
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    memory = next(
        (r["memory"] for by_length in results.values() for r in by_length.values() if "memory" in r), ""
    )
    fig.suptitle(f"one training step as T grows ({memory})")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return Path(png)


def _mosaic(images: np.ndarray, columns: int) -> np.ndarray:
    """(n, height, width, channels) images in [0, 1] -> one picture of them in rows of ``columns``, with
    white gaps (grey images are inverted: dark strokes on white, as digits are written)."""
    n, height, width, channels = images.shape
    rows = -(-n // columns)
    mosaic = np.ones((rows * (height + 1) + 1, columns * (width + 1) + 1, channels), "float32")
    for index, image in enumerate(images):
        top, left = 1 + (index // columns) * (height + 1), 1 + (index % columns) * (width + 1)
        mosaic[top : top + height, left : left + width] = image if channels > 1 else 1 - image
    return mosaic[..., 0] if channels == 1 else mosaic


def plot_samples(images: np.ndarray, png: str | Path, title: str = "", columns: int = 8) -> Path:
    """A grid of generated images with values in [0, 1]: (n, height, width, channels).

    One mosaic, one ``imshow`` (64 subplots cost ten times as much, after every epoch)."""
    plt = pyplot_for_files()
    rows = -(-len(images) // columns)
    fig, ax = plt.subplots(figsize=(0.75 * columns, 0.75 * rows + 0.4))
    ax.imshow(_mosaic(images, columns), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return Path(png)


def plot_beside(grids: dict[str, np.ndarray], png: str | Path, title: str = "", columns: int = 8) -> Path:
    """Grids of images side by side, one per name (e.g. real digits beside each model's samples), so
    that the eye compares them at one size."""
    plt = pyplot_for_files()
    rows = max(-(-len(images) // columns) for images in grids.values())
    fig, axes = plt.subplots(
        1, len(grids), figsize=(0.4 * columns * len(grids), 0.4 * rows + 0.7), squeeze=False
    )
    for ax, (name, images) in zip(axes[0], grids.items()):
        ax.imshow(_mosaic(images, columns), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.axis("off")
        ax.set_title(name, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return Path(png)


def plot_latent(codes: np.ndarray, labels: np.ndarray, png: str | Path, title: str = "") -> Path:
    """Each image's code as a dot coloured by its class; codes of more than two numbers are
    shown along their first two principal components."""
    plt = pyplot_for_files()
    axes = ("code 1", "code 2")
    if codes.shape[1] > 2:
        centred = codes - codes.mean(axis=0)
        _, spread, directions = np.linalg.svd(centred, full_matrices=False)
        codes = centred @ directions[:2].T
        share = spread[:2] ** 2 / np.sum(spread**2)
        axes = tuple(f"principal component {i + 1} ({s:.0%} of the variance)" for i, s in enumerate(share))
    elif codes.shape[1] == 1:
        codes = np.concatenate([codes, np.zeros_like(codes)], axis=1)
    fig, ax = plt.subplots(figsize=(6, 5))
    points = ax.scatter(codes[:, 0], codes[:, 1], c=labels, cmap="tab10", s=8, vmin=-0.5, vmax=9.5)
    fig.colorbar(points, ax=ax, ticks=range(10), label="class")
    ax.set(xlabel=axes[0], ylabel=axes[1], title=title)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return Path(png)


def plot_gradient_norms(results: dict, png: str | Path) -> Path:
    """One panel per initializer: each activation's gradient norm per layer (input side left) at
    the start (solid) and after training (dashed), on a log scale; the legend gives the final
    validation accuracy. Zero gradients leave a gap."""
    import numpy as np

    plt = pyplot_for_files()
    initializers = list(dict.fromkeys(r["initializer"] for r in results.values()))
    activations = list(dict.fromkeys(r["activation"] for r in results.values()))
    colours = {name: f"C{i}" for i, name in enumerate(activations)}
    fig, axes = plt.subplots(
        1, len(initializers), figsize=(4.2 * len(initializers), 4), sharey=True, squeeze=False
    )
    for ax, initializer in zip(axes[0], initializers):
        for r in results.values():
            if r["initializer"] != initializer:
                continue
            layers = np.arange(1, len(r["gradients_at_start"]) + 1)
            colour = colours[r["activation"]]
            for key, style in (("gradients_at_start", "-"), ("gradients_after", "--")):
                norms = np.asarray(r[key], dtype="float64")
                ax.plot(layers, np.where(norms > 0, norms, np.nan), style, color=colour)
            ax.plot([], [], "-", color=colour, label=f"{r['activation']}: {r['val_accuracy'][-1]:.2f}")
        ax.set(yscale="log", xlabel="layer (1 = next to the input)", title=initializer)
        ax.legend(fontsize=7, title="val. accuracy", title_fontsize=7)
    axes[0, 0].set_ylabel("gradient norm of the layer's kernel")
    fig.suptitle("Gradient per layer: at the start (solid), after training (dashed)", fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return Path(png)


def plot_clipping(results: dict, png: str | Path) -> Path:
    """Left: the gradient's global norm on one batch as training goes, per clipping (log scale; a
    cross where a run ended in NaN). Right: the training loss per epoch."""
    plt = pyplot_for_files()
    fig, (trace, curve) = plt.subplots(1, 2, figsize=(10, 4))
    for index, (name, r) in enumerate(results.items()):
        colour = f"C{index}"
        steps = [step for step, norm in r["gradient_norms"] if norm is not None]
        norms = [norm for _, norm in r["gradient_norms"] if norm is not None]
        trace.plot(steps, norms, "-o" if len(steps) == 1 else "-", color=colour, markersize=4, label=name)
        losses = [np.nan if v is None else v for v in r["loss"]]
        label = f"{name}: NaN in epoch {len(losses)}" if r["diverged"] else name
        curve.plot(range(1, len(losses) + 1), losses, "-o", color=colour, markersize=3, label=label)
        if r["diverged"]:
            trace.plot(steps[-1:], norms[-1:], "x", color=colour, markersize=10)
    trace.set(yscale="log", xlabel="training step", ylabel="gradient norm (one fixed batch)")
    trace.set_title("x: the loss became NaN, and TerminateOnNaN stopped the run", fontsize=9)
    curve.set(yscale="log", xlabel="epoch", ylabel="training loss (mean squared error)")
    trace.legend(fontsize=8)
    curve.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return Path(png)


def plot_optimizers(results: dict, best: dict, png: str | Path) -> Path:
    """One panel per schedule: each optimizer's validation loss per epoch at its best learning
    rate (``best``: ``{"adam/cosine": run}``). The last panel: the final validation loss against
    the rate, under the first schedule (a point missing where the run diverged)."""
    schedules = list(dict.fromkeys(run["schedule"] for run in results.values()))
    optimizers = list(dict.fromkeys(run["optimizer"] for run in results.values()))
    plt = pyplot_for_files()
    fig, axes = plt.subplots(1, len(schedules) + 1, figsize=(4.2 * (len(schedules) + 1), 3.8), squeeze=False)
    for ax, schedule in zip(axes[0], schedules):
        for index, optimizer in enumerate(optimizers):
            run = best[f"{optimizer}/{schedule}"]
            losses = [np.nan if v is None else v for v in run["val_loss"]]
            label = f"{optimizer} {run['learning_rate']:g}"
            ax.plot(range(1, len(losses) + 1), losses, "-o", color=f"C{index}", markersize=3, label=label)
        ax.set(
            yscale="log", xlabel="epoch", ylabel="validation loss", title=f"{schedule}, each at its best rate"
        )
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    sensitivity = axes[0][-1]
    for index, optimizer in enumerate(optimizers):
        tried = [r for r in results.values() if r["optimizer"] == optimizer and r["schedule"] == schedules[0]]
        sensitivity.plot(
            [r["learning_rate"] for r in tried],
            [np.nan if r["diverged"] or r["val_loss"][-1] is None else r["val_loss"][-1] for r in tried],
            "-o",
            color=f"C{index}",
            markersize=3,
            label=optimizer,
        )
    sensitivity.set(
        xscale="log",
        yscale="log",
        xlabel="learning rate",
        ylabel="final validation loss",
        title=f"the rate matters most ({schedules[0]})",
    )
    sensitivity.legend(fontsize=7)
    sensitivity.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return Path(png)


def plot_normalization(results: dict, png: str | Path) -> Path:
    """A panel per network (rows) and learning rate (columns): the training loss per epoch without
    normalisation, with batch norm and with layer norm, each labelled with its final validation
    accuracy."""
    networks = list(dict.fromkeys(r["network"] for r in results.values()))
    rates = list(dict.fromkeys(r["learning_rate"] for r in results.values()))
    plt = pyplot_for_files()
    fig, axes = plt.subplots(
        len(networks), len(rates), figsize=(5 * len(rates), 3.6 * len(networks)), squeeze=False
    )
    for row, network in enumerate(networks):
        for column, rate in enumerate(rates):
            ax = axes[row][column]
            runs = [r for r in results.values() if r["network"] == network and r["learning_rate"] == rate]
            for index, r in enumerate(runs):
                losses = [np.nan if v is None else v for v in r["loss"]]
                accuracy = f"val {r['val_accuracy'][-1]:.2f}" if r["val_accuracy"] else "no val"
                ax.plot(
                    range(1, len(losses) + 1),
                    losses,
                    "-o",
                    color=f"C{index}",
                    markersize=3,
                    label=f"{r['normalization']} ({accuracy})",
                )
            ax.set(yscale="log", xlabel="epoch", ylabel="training loss", title=f"{network}, Adam {rate:g}")
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return Path(png)


def plot_inductive_bias(results: dict, png: str | Path) -> Path:
    """Test accuracy against the number of training digits (log scale), a line per network; one
    panel per pixel layout (plain, permuted)."""
    layouts = list(dict.fromkeys(r["pixels"] for r in results.values()))
    networks = list(dict.fromkeys(r["network"] for r in results.values()))
    plt = pyplot_for_files()
    fig, axes = plt.subplots(1, len(layouts), figsize=(5.5 * len(layouts), 4), squeeze=False, sharey=True)
    for ax, layout in zip(axes[0], layouts):
        for index, network in enumerate(networks):
            runs = sorted(
                (r for r in results.values() if r["network"] == network and r["pixels"] == layout),
                key=lambda r: r["train_size"],
            )
            ax.plot(
                [r["train_size"] for r in runs],
                [r["test_accuracy"] for r in runs],
                "-o",
                color=f"C{index}",
                markersize=4,
                label=network,
            )
        ax.set(xscale="log", xlabel="training digits", ylabel="test accuracy", title=f"{layout} pixels")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return Path(png)


def plot_pruning(results: dict, metric: str, png: str | Path, title: str = "") -> Path:
    """Left: the test metric against the share of zeros in the kernels, the model as trained dashed.
    Right: the model file gzipped against the same, its unzipped size dashed."""
    rows = [row for key, row in results.items() if key != "as trained"]
    trained = results.get("as trained")
    zeros = [100 * row["sparsity"] for row in rows]
    plt = pyplot_for_files()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(zeros, [row["test"][metric] for row in rows], "-o", label="pruned, fine-tuned, stripped")
    right.plot(zeros, [row["zipped_bytes"] / 1024 for row in rows], "-o", label="gzipped")
    right.plot(zeros, [row["bytes"] / 1024 for row in rows], "--", color="gray", label="as saved (.keras)")
    if trained:
        left.axhline(trained["test"][metric], color="gray", linestyle="--", label="as trained")
    left.set(xlabel="kernel weights at zero (%)", ylabel=f"test {metric}")
    right.set(xlabel="kernel weights at zero (%)", ylabel="model file (KB)", ylim=(0, None))
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return Path(png)
