"""Pictures of what a convolution does: ``edges`` (fixed filters on a photo) and ``filters`` (learned ones)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cookbook.catalogue import load_recipe
from cookbook.cli.command import Command, model_folder
from cookbook.errors import CookbookError


def _edges_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--image",
        default="china.jpg",
        help="china.jpg or flower.jpg (scikit-learn's sample photos) or a path",
    )
    parser.add_argument("--out", default="runs/edges")


def _edges(args: argparse.Namespace) -> None:
    import numpy as np

    from cookbook.plots import plot_edge_maps

    if Path(args.image).exists():
        from PIL import Image, UnidentifiedImageError

        try:
            photo = np.asarray(Image.open(args.image).convert("RGB"))
        except (UnidentifiedImageError, IsADirectoryError):
            raise CookbookError(
                f"{args.image} is not an image (JPEG, PNG, ... a file Pillow reads)"
            ) from None
    else:
        from sklearn.datasets import load_sample_image

        try:
            photo = load_sample_image(args.image)
        except (AttributeError, FileNotFoundError, ValueError):
            raise CookbookError(f"no image {args.image!r}: give a path, china.jpg or flower.jpg") from None
    image = photo.astype("float32") / 255.0
    edge_filters = load_recipe("edge_filters")
    operators = ("sobel", "scharr")
    maps = edge_filters.apply_edge_filters(image[None], operators)[0]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    png = plot_edge_maps(image, maps, operators, out / f"edges-{Path(args.image).stem}.png")
    print(f"wrote {png}")


def _filters_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="a model.keras written by `cookbook train cnn`")
    parser.add_argument("--out", help="PNG path (default: next to the model)")


def _filters(args: argparse.Namespace) -> None:
    import keras

    from cookbook.models import load_model, model_file
    from cookbook.plots import plot_filters

    model = load_model(args.model, unsafe=args.unsafe)
    args.model = model_file(args.model)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    if not convs:
        raise CookbookError(f"{args.model} has no Conv2D layer to plot")
    kernel = keras.ops.convert_to_numpy(convs[0].kernel)
    png = Path(args.out or Path(args.model).with_name("filters.png"))
    plot_filters(kernel, png, title=f"{model.name}: first-layer filters {kernel.shape[:2]}")
    print(f"wrote {png}")


COMMANDS = (
    Command("edges", "Sobel and Scharr edge maps of a photo (PNG)", _edges, _edges_arguments),
    Command(
        "filters",
        "plot the first-layer filters of a trained model",
        _filters,
        _filters_arguments,
        trained=model_folder,
        loads_models=True,
    ),
)
