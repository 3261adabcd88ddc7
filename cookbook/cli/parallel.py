"""``data-parallel``: the same training steps on 1, 2, 4 devices, with the backend's own engine."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from cookbook.catalogue import load_recipe
from cookbook.cli.command import Command, integers
from cookbook.protocol import APIS


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", nargs="?", default="mlp")
    parser.add_argument(
        "--devices", type=integers, default="1,2,4", help="device counts (simulated on a CPU)"
    )
    parser.add_argument("--steps", type=int, default=16, help="training steps, the same on every count")
    parser.add_argument("--batch-size", type=int, default=64, help="the global batch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--api", choices=APIS, default="functional")
    parser.add_argument(
        "--model-parallel",
        type=int,
        default=1,
        metavar="M",
        help="JAX: on every count above 1, kernels split M ways",
    )
    parser.add_argument("--out", default="runs/data-parallel", help="results.md goes here")


def _data_parallel(args: argparse.Namespace) -> None:
    from cookbook.experiments.data_parallel import data_parallel, random_settings, table

    counts = args.devices
    print(
        f"{args.recipe}: {args.steps} steps at global batch {args.batch_size} on {', '.join(map(str, counts))} "
        f"devices ({os.environ['KERAS_BACKEND']})"
    )
    defaults = load_recipe(args.recipe).DEFAULTS
    if off := random_settings(defaults):  # each device would draw its own masks
        changed = ", ".join(f"{key} {defaults[key]} -> 0" for key in off)
        print(f"switched off for the comparison (each device draws its own random numbers): {changed}")
    rows = data_parallel(
        args.recipe,
        counts,
        args.steps,
        args.batch_size,
        args.seed,
        args.api,
        model_parallel=args.model_parallel,
    )
    text = table(rows, args.batch_size)
    print("\n" + text)
    for row in rows[1:]:
        print(f"{row['devices']} devices, {row['placement']}")
    if "cpu" in " ".join(str(name) for row in rows for name in row["names"]).lower():
        print(
            "(simulated devices share this machine's cores: the times show the engines' overhead, not a speed-up)"
        )
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "results.md").write_text(text + "\n")
    (Path(args.out) / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {Path(args.out) / 'results.md'} and results.json")


COMMANDS = (
    Command(
        "data-parallel",
        "the same steps on 1, 2, 4 devices: equal weights? time per step",
        _data_parallel,
        _arguments,
        takes_recipe=True,
    ),
)
