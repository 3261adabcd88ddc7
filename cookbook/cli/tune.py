"""``tune``: a keras-tuner search over a recipe (``tuning/``), resumable, with workers if asked."""

from __future__ import annotations

import argparse
from pathlib import Path

from cookbook.cli.command import Command
from cookbook.protocol import APIS
from tuning import ALGORITHMS


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe")
    parser.add_argument("--algo", choices=ALGORITHMS, help="(default: random)")
    parser.add_argument("--max-trials", type=int, help="(default: 10; hyperband sets its own from --epochs)")
    parser.add_argument("--epochs", type=int, help="per trial (default: the recipe's)")
    parser.add_argument("--dir", default="runs/tuning", help="searches live in DIR/RECIPE-API-BACKEND")
    parser.add_argument("--api", choices=APIS, default="functional")
    parser.add_argument("--dataset")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted search")
    parser.add_argument("--summary", action="store_true", help="print the trials, best first; runs nothing")
    parser.add_argument("--export", metavar="FOLDER", help="best hyperparameters, trials, retrained model")
    parser.add_argument("--max-failures", type=int, default=3, help="consecutive failed trials that stop it")
    parser.add_argument("--seed", type=int)
    parser.add_argument(
        "--objective",
        metavar="NAME",
        help="what a trial is scored by: val_loss or val_METRIC (default: the recipe's headline, "
        "val_exact_match for seq2seq, else val_accuracy, else val_loss)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="run the trials in N worker processes, this one their chief (GPUs round-robin)",
    )
    parser.add_argument(
        "--time-limit", type=float, metavar="SECONDS", help="with --workers: stop them after it"
    )
    parser.add_argument(
        "--oracle",
        metavar="HOST:PORT",
        help="with --workers: where the chief listens (default: 127.0.0.1, a free port)",
    )
    parser.add_argument("--join", metavar="HOST:PORT", help="be a worker of the chief at HOST:PORT")
    parser.add_argument("--worker-id", default="worker", help="with --join: a name unique among the workers")


def _searches(args: argparse.Namespace) -> list[Path]:
    return [] if args.join else sorted(Path(args.dir).glob(f"{args.recipe}-{args.api}-*"))


def _tune(args: argparse.Namespace) -> None:
    from tuning import search

    if args.join:  # a worker: trains the trials the chief hands out, then leaves the table to it
        from tuning import distributed

        distributed.join(args.recipe, args.dir, args.api, args.join, args.worker_id, verbose=2)
        return
    folder = search.project(args.dir, args.recipe, args.api)
    if args.export:
        result = search.export(folder, args.export)
        test = ", ".join(f"{key} {value:.4f}" for key, value in result["test"].items())
        print(
            f"best trial {result['trial']} ({result['objective']} {result['score']:.4f} at epoch "
            f"{result['epochs']}) retrained for {result['epochs']} epochs: test {test}"
        )
        print(
            f"wrote {args.export}/best_hyperparameters.json, best.json, trials.csv, scores.png, "
            f"model.keras, history.csv, curves.png, metrics.json"
        )
        print(f"the same model again: {result['command']}")
    elif not args.summary:
        given = (
            args.recipe,
            args.algo,
            args.max_trials,
            args.epochs,
            args.dir,
            args.api,
            args.dataset,
            args.resume,
            args.max_failures,
            args.seed,
        )
        if args.workers or args.time_limit is not None or args.oracle:  # the chief's options (checked there)
            from tuning import distributed

            distributed.tune(
                *given,
                workers=args.workers,
                time_limit=args.time_limit,
                oracle=args.oracle,
                objective=args.objective,
            )
        else:
            search.tune(*given, objective=args.objective)
    if args.summary or not args.export:
        print(search.summary(folder))


COMMANDS = (
    Command(
        "tune",
        "hyperparameter search with keras-tuner; resumable",
        _tune,
        _arguments,
        takes_recipe=True,
        trained=_searches,
    ),
)
