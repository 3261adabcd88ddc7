"""``leaderboard``: train recipes on every backend and seed, each run a process of its own, and keep
the results as data (``cookbook/results.py``)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from cookbook.cli.command import Command, integers, names

THREADS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipes", nargs="*", help="(default: every recipe)")
    parser.add_argument("--backends", type=names, help="comma-separated (default: every installed backend)")
    parser.add_argument("--seeds", type=integers, default=[0], help="comma-separated (default: 0)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="runs at a time, the cores shared between them (default: 1, timings undisturbed)",
    )
    parser.add_argument(
        "--out",
        default="runs/leaderboard",
        help="train.csv, leaderboard.md and its plot go here, each run's folder in OUT/runs; "
        "a run already in train.csv is not trained again",
    )


def _check(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """The recipes and backends to measure; a one-line error for anything else, before any run."""
    from cookbook.backend import check_installed, installed_backends
    from cookbook.catalogue import recipe_info, registry
    from cookbook.errors import CookbookError

    recipes = args.recipes or list(registry())
    for name in recipes:
        recipe_info(name)  # (an unknown name raises, in one line)
    backends = args.backends or installed_backends()
    check_installed(backends)
    if not args.seeds or any(seed < 0 for seed in args.seeds):
        raise CookbookError(f"--seeds must be integers of 0 or more; got {args.seeds}")
    if args.jobs < 1:
        raise CookbookError(f"--jobs must be at least 1; got {args.jobs}")
    return recipes, backends


def _environment(jobs: int) -> dict[str, str]:
    """Each run's environment: with several at a time, the cores shared out between them."""
    env = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    if jobs > 1:
        threads = str(max(1, (os.cpu_count() or 1) // jobs))
        env.update({key: threads for key in THREADS})
    return env


def _leaderboard(args: argparse.Namespace) -> None:
    from cookbook import results

    recipes, backends = _check(args)
    out = Path(args.out)
    data = out / "train.csv"
    done = {(row["recipe"], row["backend"], row["seed"]) for row in results.read_rows(data)}
    planned = [
        (recipe, backend, seed)
        for recipe in recipes
        for seed in args.seeds
        for backend in backends
        if (recipe, backend, seed) not in done
    ]
    runs = f"{len(planned)} run{'' if len(planned) == 1 else 's'}"
    print(f"{runs} to train, each a process of its own; {len(done)} already in {data}", flush=True)
    env, failed, running = _environment(args.jobs), [], []
    date = time.strftime("%Y-%m-%d")
    try:
        for number, (recipe, backend, seed) in enumerate(planned, 1):
            while len(running) >= args.jobs:
                failed += _finish(running, len(planned), data, args.jobs, date)
            folder = out / "runs" / f"{recipe}-{backend}-seed{seed}"
            shutil.rmtree(folder, ignore_errors=True)  # an interrupted run is trained again from the start
            folder.mkdir(parents=True)
            argv = [
                sys.executable,
                "-m",
                "cookbook",
                "train",
                recipe,
                "--backend",
                backend,
                "--seed",
                str(seed),
            ]
            with open(folder / "train.log", "w") as log:
                process = subprocess.Popen(
                    [*argv, "--out", str(folder)], stdout=log, stderr=subprocess.STDOUT, env=env
                )
            running.append((number, recipe, backend, seed, folder, process, time.perf_counter()))
        while running:
            failed += _finish(running, len(planned), data, args.jobs, date)
    except KeyboardInterrupt:
        for *_, process, _ in running:
            process.kill()
        print(f"\ninterrupted: the finished runs are in {data}; the same command goes on from there")
        raise SystemExit(130) from None
    _render(out, results.read_rows(data))
    if failed:
        raise SystemExit(1)


def _finish(running: list, total: int, data: Path, jobs: int, date: str) -> list[str]:
    """Wait for one of the running trainings; append its row, or report its failure."""
    from cookbook import results

    while True:
        for entry in running:
            number, recipe, backend, seed, folder, process, began = entry
            if process.poll() is None:
                continue
            running.remove(entry)
            title = f"[{number}/{total}] {recipe} on {backend}, seed {seed}"
            metrics = folder / "metrics.json"
            if process.returncode != 0 or not metrics.exists():
                last = (folder / "train.log").read_text().strip().splitlines()[-1:] or ["no output"]
                print(f"{title}: failed (exit {process.returncode}): {last[0]} (see {folder / 'train.log'})")
                return [title]
            row = results.row_of(json.loads(metrics.read_text()), jobs, date)
            results.append_row(data, row)
            print(
                f"{title}: {row['metric']} {row['score']:.4g} "
                f"({row['train_seconds']:.0f} s of training, {time.perf_counter() - began:.0f} s in all)",
                flush=True,
            )
            return []
        time.sleep(0.2)


def _render(out: Path, rows: list[dict]) -> None:
    from cookbook import results

    if not rows:
        print(f"no run is in {out / 'train.csv'} yet: nothing to rank")
        return
    _keep_figures(out, rows)
    figure = None
    if any(row["dataset"] in results.DIGITS for row in rows):
        figure = results.plot_accuracy_against_parameters(rows, out / "accuracy-vs-parameters.png").name
    (out / "leaderboard.md").write_text(results.leaderboard_markdown(rows, figure))
    print(f"wrote {out / 'leaderboard.md'}" + (f" and {out / figure}" if figure else ""))


def _keep_figures(out: Path, rows: list[dict]) -> None:
    """Each recipe's pictures (its curves, and its kind's: masks, ...) from one of its runs, kept in
    ``OUT/figures/RECIPE/BACKEND-seedS/`` for its page on the site: the first run, in the order
    JAX, PyTorch, TensorFlow and then by seed, whose pictures are here, either in its run folder
    (copied afresh) or kept already. So a measurement that adds seeds, or one made where the earlier
    run folders are not, leaves the figures of the run already shown."""
    from cookbook.results import FIGURES_FROM

    for recipe in dict.fromkeys(row["recipe"] for row in rows):
        own = sorted(
            (row for row in rows if row["recipe"] == recipe),
            key=lambda row: (FIGURES_FROM.index(row["backend"]), row["seed"]),
        )
        for row in own:
            run = f"{row['backend']}-seed{row['seed']}"
            pictures = sorted((out / "runs" / f"{recipe}-{run}").glob("*.png"))
            if not pictures and (out / "figures" / recipe / run).is_dir():
                break  # this run's pictures are kept already
            if pictures:
                shutil.rmtree(out / "figures" / recipe, ignore_errors=True)
                (out / "figures" / recipe / run).mkdir(parents=True)
                for picture in pictures:
                    shutil.copy(picture, out / "figures" / recipe / run / picture.name)
                break


COMMANDS = (
    Command(
        "leaderboard",
        "train recipes on every backend and seed (a process each); rank them by test score, as data",
        _leaderboard,
        _arguments,
        needs_keras=False,
    ),
)
