"""``leaderboard``: train recipes on every backend and seed, each run a process of its own, and keep
the results as data (``cookbook/results.py``). ``lessons``: run the design lessons the same way and
keep what each wrote (``cookbook/lesson_results.py``)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
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


def _lessons_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("lessons", nargs="*", help="(default: every lesson)")
    parser.add_argument("--backends", type=names, help="comma-separated (default: every installed backend)")
    parser.add_argument(
        "--options",
        default="",
        help='given to each lesson, as on its command line (default: none, its own defaults): "--epochs 2"',
    )
    parser.add_argument(
        "--out",
        default="runs/lessons",
        help="lessons.md goes here, what each lesson wrote in OUT/lessons/LESSON/BACKEND (its working "
        "folder in OUT/runs); a lesson measured there already is not run again",
    )


class _Refusing(argparse.ArgumentParser):
    """A lesson's own parser, reading ``--options`` before anything runs: a bad one is one line."""

    def error(self, message: str) -> None:
        from cookbook.errors import CookbookError

        raise CookbookError(f"--options for {self.prog.split()[-1]}: {message}")


def _check_lessons(args: argparse.Namespace) -> tuple[list[str], list[str], list[str]]:
    """The lessons, the backends and the options; a one-line error for anything else, before any run."""
    from cookbook.backend import check_installed, installed_backends
    from cookbook.cli import lessons
    from cookbook.errors import CookbookError
    from cookbook.lesson_results import LESSONS

    for name in args.lessons:
        if name not in LESSONS:
            raise CookbookError(f"unknown lesson {name!r}; choose from: {', '.join(LESSONS)}")
    backends = args.backends or installed_backends()
    check_installed(backends)
    options = shlex.split(args.options)
    if {"--out", "--backend"} & {option.split("=")[0] for option in options}:
        raise CookbookError("--options may not hold --out or --backend: cookbook lessons sets them")
    chosen = args.lessons or list(LESSONS)
    commands = {command.name: command for command in lessons.COMMANDS}
    for name in chosen:
        parser = _Refusing(prog=f"cookbook {name}")
        commands[name].arguments(parser)
        parser.parse_args(options)
    return chosen, backends, options


def _lessons(args: argparse.Namespace) -> None:
    from cookbook import lesson_results

    chosen, backends, options = _check_lessons(args)
    out = Path(args.out)
    planned = [
        (lesson, backend)
        for lesson in chosen
        for backend in backends
        if not (lesson_results.folder(out, lesson, backend) / "run.json").exists()
    ]
    print(f"{len(planned)} of {len(chosen) * len(backends)} to run, each a process of its own", flush=True)
    failed = 0
    for number, (lesson, backend) in enumerate(planned, 1):
        failed += not _run_lesson(
            lesson, backend, options, out, f"[{number}/{len(planned)}] {lesson} on {backend}"
        )
    page = out / "lessons.md"
    page.write_text(lesson_results.lessons_markdown(lesson_results.measured(out)))
    print(f"wrote {page}")
    if failed:
        raise SystemExit(1)


def _run_lesson(lesson: str, backend: str, options: list[str], out: Path, title: str) -> bool:
    """One lesson on one backend, in a process of its own; what it wrote kept as data. Its working
    folder is kept when it is interrupted, so that the lesson resumes from it with the same options."""
    from importlib.metadata import version

    from cookbook import lesson_results
    from cookbook.cli import lessons
    from cookbook.results import machine

    command = ["cookbook", lesson, "--backend", backend, *options]
    work = out / "runs" / f"{lesson}-{backend}"
    if (work / "command.txt").exists() and (work / "command.txt").read_text() != shlex.join(command):
        shutil.rmtree(work)  # begun with other options: begin again
    work.mkdir(parents=True, exist_ok=True)
    (work / "command.txt").write_text(shlex.join(command))
    print(f"{title}: {shlex.join(command)}", flush=True)
    began = time.perf_counter()
    with open(work / "output.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", *command, "--out", str(work)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_environment(1),
        )
        try:
            process.wait()
        except KeyboardInterrupt:
            process.kill()
            print(
                f"\ninterrupted: {out / 'lessons'} keeps each lesson that finished; the same command goes on"
            )
            raise SystemExit(130) from None
    seconds = time.perf_counter() - began
    if process.returncode != 0 or not (work / "table.txt").exists():
        last = (work / "output.log").read_text().strip().splitlines()[-1:] or ["no output"]
        print(f"{title}: failed (exit {process.returncode}): {last[0]} (see {work / 'output.log'})")
        return False
    kept = lesson_results.folder(out, lesson, backend)
    shutil.rmtree(kept, ignore_errors=True)
    kept.mkdir(parents=True)
    for pattern in lesson_results.KEPT:
        for path in work.glob(pattern):
            shutil.copy(path, kept / path.name)
    record = {
        "lesson": lesson,
        "backend": backend,
        "about": next(command.help for command in lessons.COMMANDS if command.name == lesson),
        "command": shlex.join(command),
        "seconds": round(seconds, 1),
        "date": time.strftime("%Y-%m-%d"),
        "keras_version": version("keras"),
        "machine": machine(),
        "python": platform.python_version(),
    }
    (kept / "run.json").write_text(json.dumps(record, indent=2) + "\n")  # last: the lesson is measured
    print(f"{(kept / 'table.txt').read_text().rstrip()}\n{title}: done in {seconds:.0f} s", flush=True)
    return True


COMMANDS = (
    Command(
        "leaderboard",
        "train recipes on every backend and seed (a process each); rank them by test score, as data",
        _leaderboard,
        _arguments,
        needs_keras=False,
    ),
    Command(
        "lessons",
        "run the design lessons (compare-*, scale-attention) on each backend, a process each; keep their tables as data",
        _lessons,
        _lessons_arguments,
        needs_keras=False,
    ),
)
