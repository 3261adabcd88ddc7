"""What a trained model makes: ``generate`` (text), ``sample`` (images) and ``attention`` (where it looks)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cookbook.catalogue import load_recipe, registry
from cookbook.cli.command import Command, model_or_runs
from cookbook.errors import CookbookError

MODEL_HELP = "a model.keras (default: runs/RECIPE-functional-BACKEND/model.keras)"


def _trained_model(args: argparse.Namespace) -> tuple[Path, Any]:
    """The model file ``--model`` names, or the one `cookbook train RECIPE` writes, loaded."""
    import keras

    from cookbook.models import load_model, model_file

    path = model_file(args.model or f"runs/{args.recipe}-functional-{keras.backend.backend()}")
    return path, load_model(path, recipe=args.recipe, unsafe=args.unsafe)


def _generate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="a text-generating recipe (gpt)")
    parser.add_argument("--prompt", default="Return the ")
    parser.add_argument("--length", type=int, default=300, help="characters to sample")
    parser.add_argument(
        "--temperature",
        type=float,
        default=0.8,
        help="1 samples the model as it is; lower is safer, 0 always picks the likeliest",
    )
    parser.add_argument("--seed", type=int, help="for the same text again")
    parser.add_argument("--model", help=MODEL_HELP)


def _generate(args: argparse.Namespace) -> None:
    recipe = load_recipe(args.recipe)
    if not hasattr(recipe, "sample"):
        raise CookbookError(f"{args.recipe} does not write text (it has no sample()); gpt does")
    if args.length < 0 or args.temperature < 0:  # before loading anything
        raise CookbookError(
            f"--length and --temperature must be >= 0; got {args.length} and {args.temperature}"
        )
    _, model = _trained_model(args)
    try:
        characters = recipe.sample(model, args.prompt, args.length, args.temperature, args.seed)
        for i, character in enumerate(characters):  # as they come: each costs one forward pass
            print((args.prompt if i == 0 else "") + character, end="", flush=True)
    except ValueError as error:
        raise CookbookError(f"{args.recipe}: {error}") from None
    print()


def _sample_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="a generative recipe: gan, conditional_gan, vae")
    parser.add_argument(
        "--label",
        type=int,
        help="the class to draw, for a conditional model (default: each class in a column)",
    )
    parser.add_argument("--n", type=int, help="images in the grid (default: 8 rows)")
    parser.add_argument("--seed", type=int, default=0, help="another seed, other images")
    parser.add_argument("--score", type=int, default=1000, help="samples the classifier judges (0: no score)")
    parser.add_argument(
        "--classifier",
        help="a classifier's model.keras (default: the one `cookbook train cnn` wrote, "
        "if it was trained on the model's dataset)",
    )
    parser.add_argument("--model", help=MODEL_HELP)
    parser.add_argument("--out", help="PNG path (default: samples-SEED.png next to the model)")


def _sample(args: argparse.Namespace) -> None:
    from cookbook.data import load_dataset
    from cookbook.generative import asked_labels, classes_of, draw, independent_score, pixel_range, score
    from cookbook.kinds import verdicts
    from cookbook.plots import plot_samples

    recipe = load_recipe(args.recipe)
    if recipe.TASK["family"] != "generative":
        drawers = ", ".join(name for name, info in registry().items() if info.family == "generative")
        raise CookbookError(f"{args.recipe} draws no images; the generative recipes do: {drawers}")
    if (args.n is not None and args.n < 1) or args.score < 0:
        raise CookbookError("--n must be at least 1 and --score at least 0")
    if args.label is not None:  # an impossible label: say so before loading anything
        if not recipe.TASK.get("conditional"):
            raise CookbookError(f"this model takes no label: {args.recipe} draws from noise alone")
        classes = recipe.DEFAULTS.get("num_classes", 10)
        if not 0 <= args.label < classes:
            raise CookbookError(f"unknown label {args.label}; this model draws labels 0 to {classes - 1}")
    path, model = _trained_model(args)
    run = path.parent / "metrics.json"  # the data it was trained on picks the classifier
    dataset = json.loads(run.read_text())["dataset"] if run.is_file() else recipe.TASK["dataset"]
    classes = classes_of(model)
    asked_labels(model, 1, args.label)  # a label the model cannot draw: say so before drawing anything
    asked = "" if args.label is None else f"-label-{args.label}"
    png = Path(args.out or path.parent / f"samples-{args.seed}{asked}.png")
    bounds, columns = pixel_range(recipe), (classes if classes and args.label is None else 8)
    title = f"{args.recipe} ({dataset}): seed {args.seed}" + (f", label {args.label}" if asked else "")
    plot_samples(draw(model, args.n or 8 * columns, args.seed, bounds, args.label), png, title, columns)
    print(f"wrote {png}")
    if args.score:
        quality = score(model, dataset, args.score, args.seed + 1, args.classifier, bounds, args.label)
        data = load_dataset(dataset)  # the independent judge learns from it
        independent = independent_score(model, data, args.score, args.seed + 1, bounds, args.label)
        print(verdicts({"quality": quality, "independent": independent}))


def _attention_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="an attention recipe: transformer_classifier, gpt, vit, ...")
    parser.add_argument(
        "--layer",
        type=int,
        default=-1,
        help="which attention layer, counted from 0 in weight order (default: the last)",
    )
    parser.add_argument("--example", type=int, default=0, help="which test example to look at")
    parser.add_argument("--text", help="your own input: any text for gpt, a date for transformer_seq2seq")
    parser.add_argument("--dataset", help="the data the model was trained on (default: the recipe's)")
    parser.add_argument("--model", help=MODEL_HELP)
    parser.add_argument("--out", help="PNG path (default: attention-LAYER.png next to the model)")


def _attention(args: argparse.Namespace) -> None:
    from cookbook.attention import attention_layers, attention_maps, describe, model_input, plot_layer
    from cookbook.data import load_dataset

    recipe = load_recipe(args.recipe)
    path, model = _trained_model(args)
    if not attention_layers(model):
        raise CookbookError(f"{path} has no attention layer to draw")
    data = load_dataset(args.dataset or recipe.TASK["dataset"], recipe.TASK["datasets"])
    try:
        x, labels = model_input(recipe, model, data, args.example, args.text)
        maps = attention_maps(model, x)
        print("attention layers (heads x queries x keys):\n" + "\n".join(describe(maps)))
        png = Path(args.out or path.with_name(f"attention-{args.layer % len(maps)}.png"))
        png.parent.mkdir(parents=True, exist_ok=True)
        what = f"{args.text!r}" if args.text is not None else f"{data.name} test example {args.example}"
        plot_layer(maps, args.layer, x, labels, png, title=f"{args.recipe} on {what}\n")
    except ValueError as error:
        raise CookbookError(f"{args.recipe}: {error}") from None
    print(f"wrote {png}")


COMMANDS = (
    Command(
        "generate",
        "continue a prompt with a trained language model",
        _generate,
        _generate_arguments,
        takes_recipe=True,
        trained=model_or_runs,
        loads_models=True,
    ),
    Command(
        "sample",
        "draw images from a trained generative model (PNG) and score them",
        _sample,
        _sample_arguments,
        takes_recipe=True,
        trained=model_or_runs,
        loads_models=True,
    ),
    Command(
        "attention",
        "plot where a trained model's attention looks (PNG)",
        _attention,
        _attention_arguments,
        takes_recipe=True,
        trained=model_or_runs,
        loads_models=True,
    ),
)
