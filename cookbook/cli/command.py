"""What a command is, and the pieces its arguments share.

A command module declares ``COMMANDS``: one :class:`Command` each, holding its name, its help line,
the function that adds its arguments and the one that runs it. ``cookbook.cli`` builds the parser,
``--help``, the rules run before a command (an unknown recipe refused before Keras loads, the
backend chosen) and the docs' checks from those rows alone.

Nothing here imports Keras: a command imports the harness inside its ``run``, once the backend is
chosen (Keras reads the backend when it is first imported).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cookbook.backend import BACKENDS
from cookbook.errors import CookbookError

Arguments = Callable[[argparse.ArgumentParser], None]
Handler = Callable[[argparse.Namespace], None]
Trained = Callable[[argparse.Namespace], list[Path]]


def no_arguments(parser: argparse.ArgumentParser) -> None:
    """A command that takes none (besides ``--backend``)."""


@dataclass(frozen=True)
class Command:
    """One command: its arguments and its handler, and what ``main`` does before running it."""

    name: str
    help: str
    run: Handler
    arguments: Arguments = no_arguments
    needs_keras: bool = True  # False: nothing Keras here (bench starts a process per backend)
    takes_recipe: bool = False  # its first argument names a recipe: an unknown one fails before Keras loads
    trained: Trained | None = None  # folders whose backend it picks, when none is named
    loads_models: bool = False  # it loads a model file: --unsafe lets a file with Python code load


def backend_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        choices=list(BACKENDS),
        help="Keras backend (default: $KERAS_BACKEND, else the one the model or run was made with, "
        "else keras.json's, else the first installed)",
    )


def unsafe_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--unsafe",
        action="store_true",
        help="load a model whose file holds Python code (a Lambda layer): it runs as the file loads",
    )


def settings_option(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    parser.add_argument("--set", dest="settings", action="append", metavar="KEY=VALUE", default=[], help=help)


def _comma_list(convert: Callable[[str], object], kind: str) -> Callable[[str], list]:
    def parse(text: str) -> list:
        try:
            return [convert(item.strip()) for item in text.split(",") if item.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expects comma-separated {kind}, got {text!r}") from None

    parse.__name__ = f"comma-separated {kind}"
    return parse


# argparse `type=`s: a malformed list is refused as the command line is read, before Keras loads.
integers = _comma_list(int, "integers")
numbers = _comma_list(float, "numbers")
names = _comma_list(str, "names")


def model_folder(args: argparse.Namespace) -> list[Path]:
    """The run folder of the model a command's ``model`` argument names."""
    return [Path(args.model) if Path(args.model).is_dir() else Path(args.model).parent]


def model_or_runs(args: argparse.Namespace) -> list[Path]:
    """``--model``'s folder, else the runs `cookbook train RECIPE` writes."""
    return model_folder(args) if args.model else sorted(Path("runs").glob(f"{args.recipe}-functional-*"))


def existing_model(given: str) -> Path:
    """The model file a RUN_OR_MODEL argument names, or the error `load_model` would give, before a
    command prints what it is about to do."""
    from cookbook.models import model_file

    path = model_file(given)
    if not path.is_file():
        raise CookbookError(f"no model file {given!r}")
    return path
