"""Reading the catalogue: ``list``, ``show`` and ``copy``."""

from __future__ import annotations

import argparse
from pathlib import Path

from cookbook.catalogue import load_recipe, recipe_info, registry
from cookbook.cli.command import Command, settings_option
from cookbook.diagrams import FORMATS
from cookbook.errors import CookbookError


def _list(args: argparse.Namespace) -> None:
    rows = [("recipe", "family", "default data", "what it is")]
    rows += [(r.name, r.family, r.dataset, r.summary) for r in registry().values()]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3])


def _show_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe")
    parser.add_argument("--dataset", help="shape the input for this dataset")
    settings_option(parser)


def _show(args: argparse.Namespace) -> None:
    from cookbook.data import load_dataset
    from cookbook.inspection import compare_builds, networks, shape_arithmetic
    from cookbook.training import build, data_overrides, parse_settings

    recipe = load_recipe(args.recipe)
    overrides = parse_settings(args.settings, recipe.DEFAULTS)
    if args.dataset:
        data = load_dataset(args.dataset, recipe.TASK["datasets"])
        overrides = {**data_overrides(recipe, data), **overrides}
    try:
        report = compare_builds(recipe, **overrides)
    except CookbookError as refusal:  # a setting only the Functional API can build (tie_embeddings)
        functional = build(recipe, "functional", **overrides)  # a setting bad for both: its one line
        for network in networks(recipe, functional).values():
            network.summary()
        print(f"\nparameters: functional {functional.count_params():,}; no Sequential build: {refusal}")
        return
    for api in ("sequential", "functional"):
        for network in networks(recipe, report[api]).values():
            network.summary()
    arithmetic = shape_arithmetic(report["functional"])
    if arithmetic:
        print("\nOutput size per axis (valid: floor((in - k)/s) + 1, same: ceil(in/s)):")
        print("\n".join("  " + line for line in arithmetic))
    print(
        f"\nparameters: sequential {report['sequential_parameters']:,}, "
        f"functional {report['functional_parameters']:,}"
    )
    verdict = "the same network" if report["agree"] else "DIFFERENT networks"
    if len(report.get("differences", {})) > 1:
        verdict += (
            " (" + ", ".join(f"{name} {value:.1e}" for name, value in report["differences"].items()) + ")"
        )
    print(
        f"outputs after copying the weights across: max |difference| = "
        f"{report['max_difference']:.2e} -> {verdict}"
    )


def _copy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe")
    parser.add_argument("destination", help="a folder or a file path")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")


def _copy(args: argparse.Namespace) -> None:
    from cookbook.training import copy_recipe

    print(f"wrote {copy_recipe(args.recipe, args.destination, force=args.force)}")


def _diagram_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "recipes", nargs="*", metavar="RECIPE", help="recipes to draw (default: every recipe)"
    )
    parser.add_argument("--out", default="diagrams", help="the folder to write them into (default: diagrams)")
    parser.add_argument("--format", choices=FORMATS, default="svg", help="image format (default: svg)")


def _diagram(args: argparse.Namespace) -> None:
    from cookbook.diagrams import check_graphviz, draw_all

    check_graphviz()  # before Keras loads, as is an unknown recipe
    names = [recipe_info(name).name for name in args.recipes] or list(registry())
    drawn = draw_all({name: load_recipe(name) for name in names}, Path(args.out), args.format)
    for name in names:
        files = [item["file"] for api in ("sequential", "functional") for item in drawn[name][api]["files"]]
        counts = " / ".join(f"{drawn[name][api]['parameters']:,}" for api in ("sequential", "functional"))
        print(f"{name:<24} parameters {counts:<22} {', '.join(files)}")
    print(f"wrote the diagrams of {len(names)} recipe{'s' if len(names) > 1 else ''} into {args.out}")


COMMANDS = (
    Command("list", "the recipes: name, family, what it is, default data", _list, needs_keras=False),
    Command(
        "show", "summary of both builds and whether they agree", _show, _show_arguments, takes_recipe=True
    ),
    Command(
        "diagram",
        "draw each build of recipes as a graph of layers with their shapes (Graphviz)",
        _diagram,
        _diagram_arguments,
    ),
    Command(
        "copy",
        "copy a recipe file into your project",
        _copy,
        _copy_arguments,
        needs_keras=False,
        takes_recipe=True,
    ),
)
