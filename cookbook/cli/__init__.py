"""The ``cookbook`` command: one module per command or family of commands, each declaring its
arguments and its handler together (``COMMANDS``), and the one table built from them here.

The parser, ``--help``, the rules run before a command (an unknown recipe refused before Keras loads,
the backend chosen, ``--unsafe``'s warning) and the docs' checks all read ``COMMANDS``. This package is
the top floor: it dispatches to the harness, to ``tuning/`` and to ``benchmarks/``; nothing imports it
but ``python -m cookbook``. Bad input ends in one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys

from cookbook.backend import select_backend
from cookbook.catalogue import recipe_info
from cookbook.cli import (
    bench,
    browse,
    compress,
    doctor,
    generate,
    images,
    lessons,
    parallel,
    results,
    train,
    tune,
)
from cookbook.cli.command import Command, backend_option, unsafe_option
from cookbook.errors import UNSAFE_RISK, CookbookError

# In the order `cookbook --help` lists them.
COMMANDS: dict[str, Command] = {
    command.name: command
    for module in (browse, train, tune, bench, results, generate, images, doctor, compress, parallel, lessons)
    for command in module.COMMANDS
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse prints usage + message; we want one line
        self.exit(2, f"cookbook: error: {message}\n")  # as a refusal after parsing reads


DESCRIPTION = "Neural-network recipes for Keras 3."


def add_options(command: Command, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """A command's own arguments, then ``--unsafe`` where it loads a model file, then ``--backend``."""
    command.arguments(parser)
    if command.loads_models:
        unsafe_option(parser)
    backend_option(parser)
    return parser


def build_parser(formatter: type[argparse.HelpFormatter] | None = None) -> argparse.ArgumentParser:
    """The parser of every command in ``COMMANDS`` (``formatter``: how ``--help`` is laid out)."""
    layout = {"formatter_class": formatter} if formatter else {}
    parser = _Parser(prog="cookbook", description=DESCRIPTION, **layout)
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    for command in COMMANDS.values():
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help, **layout)
        add_options(command, sub)
    return parser


def _most_devices(args: argparse.Namespace) -> int:
    """The most devices a command will use: what the backend must be shown before it starts."""
    devices = getattr(args, "devices", 1)
    return max(devices) if isinstance(devices, list) else devices


def _prepare(command: Command, args: argparse.Namespace) -> None:
    """What every command needs before it runs: a known recipe, then the backend (and its devices)."""
    if command.takes_recipe:
        recipe_info(args.recipe)  # unknown recipe: fail before the slow Keras import
    if getattr(args, "workers", 0):  # the chief builds small models: let it not hold a GPU's memory
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    if command.needs_keras or getattr(args, "backend", None):
        trained = command.trained(args) if command.trained else []
        backend = select_backend(args.backend, trained=trained, announce=True)
        if (devices := _most_devices(args)) != 1:  # before the backend starts: simulated devices
            from cookbook import distribute

            distribute.simulate(backend, devices)
    if getattr(args, "unsafe", False):
        print(f"cookbook: --unsafe: safe_mode is off; {UNSAFE_RISK}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run ``cookbook ARGV...``: 0 when done, 2 with one line on stderr when the input is wrong."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, or a malformed line (said in one line): a status to return
        return done.code if isinstance(done.code, int) else 2
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for the processes `--devices` starts
    command = COMMANDS[args.command]
    try:
        _prepare(command, args)
        command.run(args)
    except CookbookError as error:
        print(f"cookbook: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `cookbook list | head`: the reader has all it wanted
        sys.stdout = open(os.devnull, "w")  # (Python would report the pipe again at exit)
        return 0
    except OSError as error:  # an unwritable --out, a file that cannot be read, a full disk
        where = f"cannot use {error.filename}: {error.strerror}" if error.filename else str(error)
        print(f"cookbook: error: {where}", file=sys.stderr)
        return 2
    return 0


__all__ = ["COMMANDS", "DESCRIPTION", "Command", "add_options", "build_parser", "main"]
