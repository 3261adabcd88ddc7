"""Training a recipe and scoring a trained model: ``train`` and ``evaluate``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from cookbook.catalogue import load_recipe, recipe_info
from cookbook.cli.command import Command, model_folder, settings_option
from cookbook.cli.report import print_report
from cookbook.protocol import APIS, PRECISIONS

WRITTEN = "model.keras, history.csv, curves.png, metrics.json"


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe")
    parser.add_argument("--api", choices=APIS, default="functional")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--dataset")
    parser.add_argument(
        "--data",
        metavar="PATH",
        help="your own data instead of --dataset: a folder of class sub-folders of images or .txt files, "
        "an .npz with x and y, or a .csv with a label column",
    )
    parser.add_argument("--label", default="label", metavar="COLUMN", help="a --data CSV's column of labels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", choices=PRECISIONS, default="float32")
    parser.add_argument("--out", help="output folder (default: runs/RECIPE-API-BACKEND)")
    settings_option(parser)
    parser.add_argument("--learning-rate", type=float, help="(default: the recipe's)")
    parser.add_argument(
        "--devices",
        type=int,
        default=1,
        help="data parallel over N devices with the backend's own engine; --batch-size is the global "
        "batch (on a CPU the devices are simulated)",
    )
    parser.add_argument(
        "--model-parallel",
        type=int,
        default=1,
        metavar="M",
        help="JAX: split a Transformer's kernels M ways, the devices a mesh of (N/M) x M",
    )
    parser.add_argument(
        "--hyperparameters",
        metavar="JSON",
        help="a best_hyperparameters.json from `tune --export`; the options given here win",
    )


def _train(args: argparse.Namespace) -> None:
    from cookbook import distribute
    from cookbook.training import train

    if args.devices > 1 and os.environ["KERAS_BACKEND"] == "torch" and not distribute.in_worker():
        task = recipe_info(args.recipe).task  # refuse here what every process would refuse
        distribute.check(args.devices, args.batch_size or task["batch_size"], args.model_parallel)
        distribute.check_model_parallel("torch", args.model_parallel)
        distribute.check_step(args.recipe, load_recipe(args.recipe))
        distribute.launch(args.argv, args.devices)  # the first process prints the report
        return
    metrics = train(
        args.recipe,
        api=args.api,
        epochs=args.epochs,
        batch_size=args.batch_size,
        dataset=args.dataset,
        data=args.data,
        label=args.label,
        seed=args.seed,
        precision=args.precision,
        out=args.out,
        settings=args.settings,
        learning_rate=args.learning_rate,
        hyperparameters=args.hyperparameters,
        devices=args.devices,
        model_parallel=args.model_parallel,
    )
    if metrics is None:  # a PyTorch process after the first: the first one reports
        return
    out = args.out or f"runs/{args.recipe}-{args.api}-{metrics['backend']}"
    print_report(metrics, out, WRITTEN + (", samples/epoch-*.png" if "quality" in metrics else ""))


def _evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="RUN_OR_MODEL", help="a run folder or a model.keras")
    parser.add_argument("--dataset", help="(default: the one it was trained on)")
    parser.add_argument(
        "--data",
        metavar="PATH",
        help="new files of your own, for a model trained with --data (all of them scored)",
    )
    parser.add_argument("--out", help="evaluation.json and pictures go here (default: the model's folder)")


def _evaluate(args: argparse.Namespace) -> None:
    from cookbook.training import evaluate

    report = evaluate(args.model, dataset=args.dataset, out=args.out, unsafe=args.unsafe, data=args.data)
    print(f"{report['recipe']} on {report['dataset']} ({report['backend']} backend)")
    print_report(report, args.out or Path(report["model"]).parent, "evaluation.json")


COMMANDS = (
    Command(
        "train",
        "train a recipe; writes model, history, curves, metrics",
        _train,
        _train_arguments,
        takes_recipe=True,
    ),
    Command(
        "evaluate",
        "score a saved model on a test split, as train ends",
        _evaluate,
        _evaluate_arguments,
        trained=model_folder,
        loads_models=True,
    ),
)
