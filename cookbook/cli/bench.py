"""``bench``: training step time per recipe and backend, each in its own process (``benchmarks/``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cookbook.cli.command import Command, settings_option
from cookbook.protocol import PRECISIONS


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipes", nargs="*", help="(default: mlp cnn lstm transformer_classifier)")
    parser.add_argument("--backends", help="comma-separated (default: every installed backend)")
    parser.add_argument("--batch-size", type=int, help="(default: each recipe's own)")
    parser.add_argument("--steps", type=int, default=50, help="batches in the shorter timed pass")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes; the median is reported")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32")
    parser.add_argument(
        "--jit", choices=("auto", "on", "off"), default="auto", help="jit_compile for compile()"
    )
    parser.add_argument(
        "--native",
        nargs="?",
        const="torch,torch-compile,jax",
        metavar="FRAMEWORKS",
        help="also time hand-written networks: torch, torch-compile, jax (default: all three)",
    )
    settings_option(parser, "a recipe setting, e.g. preset=gpt2_small (data of the new shapes is made up)")
    parser.add_argument("--peak-tflops", type=float, help="the device's peak, for MFU (default: known GPUs)")
    parser.add_argument("--out", default="runs/bench", help="bench.md and bench.csv go here")


def _bench(args: argparse.Namespace) -> None:
    from benchmarks.run import DEFAULT_RECIPES, run

    recipes = args.recipes or DEFAULT_RECIPES
    backends = args.backends.split(",") if args.backends else None
    given = [
        f"--{key.replace('_', '-')} {value}"
        for key, value in vars(args).items()
        if key in ("backends", "batch_size", "steps", "repeats", "precision", "jit", "native", "peak_tflops")
        and value is not None
    ] + [f"--set {pair}" for pair in args.settings]
    native = args.native.split(",") if args.native else ()
    run(
        recipes,
        backends,
        args.batch_size,
        args.steps,
        args.repeats,
        args.precision,
        args.jit,
        args.out,
        command=" ".join(["cookbook bench", *recipes, *given]),
        native=native,
        settings=args.settings,
        peak_tflops=args.peak_tflops,
    )
    print(Path(args.out, "bench.md").read_text())
    print(f"wrote {args.out}/bench.md and bench.csv")


COMMANDS = (
    Command(
        "bench",
        "training step time per recipe and backend (a process each)",
        _bench,
        _arguments,
        needs_keras=False,
    ),
)
