"""The measured results as data: one row per trained run, read from the ``metrics.json`` that
``cookbook train`` writes, kept in a CSV, and rendered as leaderboards and a plot.

``cookbook leaderboard`` (``cookbook/cli/results.py``) trains and appends; this module knows what a
row holds, which test score heads it, and how rows become Markdown and a PNG. The project's own
measurements live in ``docs/results/`` (``train.csv`` and what is rendered from it), and the site,
the recipe pages and ``docs/RESULTS.md`` read them from there: one source.
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import statistics
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from cookbook.catalogue import recipe_info

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "docs" / "results"  # the project's measurements: train.csv and its renderings
COLUMNS = ("recipe", "family", "dataset", "backend", "seed", "epochs", "batch_size", "parameters", "metric",
           "score", "train_seconds", "concurrent_runs", "keras_version", "machine", "date", "test")  # fmt: skip
BACKEND_NAMES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}
# The three digits datasets hold the same 1,797 images and the same test split (cookbook/data.py),
# read as images, as 8 rows of 8 pixels, or as 64 pixel tokens: one leaderboard.
DIGITS = {"digits": "images", "digits_sequences": "8 rows of 8", "digit_tokens": "64 tokens"}
FRECHET = "Fréchet distance"
LOWER_IS_BETTER = ("bits per character", FRECHET)
# What a generative run's samples got from the independent judge (cookbook.judging), kept in its row
JUDGED = ("frechet", "frechet_floor", "confidence", "rarest", "label_accuracy")
FIGURES_FROM = ("jax", "torch", "tensorflow")  # a recipe page shows the pictures of its first run here


def headline(metrics: dict) -> tuple[str, float]:
    """The test score a run is ranked by: what its page is for (greedy decoding's exact match, the
    mean IoU of a segmentation, bits per character, a generative model's samples' Fréchet distance
    to the test images), else its test accuracy, else its loss."""
    if "independent" in metrics:
        return FRECHET, metrics["independent"]["frechet"]
    if "greedy_exact_match" in metrics:
        return "greedy exact match", metrics["greedy_exact_match"]
    if "segmentation" in metrics:
        return "mean IoU", metrics["segmentation"]["mean_iou"]
    test = metrics["test"]
    for key in ("exact_match", "bits_per_character", "accuracy"):
        if key in test:
            return key.replace("_", " "), test[key]
    return "loss", test["loss"]


def machine() -> str:
    """Where a run was measured, in a few words."""
    return f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}"


def row_of(metrics: dict, concurrent_runs: int, date: str) -> dict:
    """A CSV row from a run's ``metrics.json``."""
    metric, score = headline(metrics)
    return {
        "recipe": metrics["recipe"],
        "family": recipe_info(metrics["recipe"]).family,
        "dataset": metrics["dataset"],
        "backend": metrics["backend"],
        "seed": metrics["seed"],
        "epochs": metrics["epochs"],
        "batch_size": metrics["batch_size"],
        "parameters": metrics["parameters"],
        "metric": metric,
        "score": round(float(score), 5),
        "train_seconds": metrics["train_seconds"],
        "concurrent_runs": concurrent_runs,
        "keras_version": metrics["keras_version"],
        "machine": machine(),
        "date": date,
        "test": json.dumps({**metrics["test"], **judged(metrics)}, sort_keys=True),
    }


def judged(metrics: dict) -> dict:
    """A generative run's verdict from the independent judge, and a VAE's held-out -ELBO."""
    verdict = metrics.get("independent", {})
    found = {key: verdict[key] for key in JUDGED if key in verdict}
    if "elbo" in metrics:
        found["negative_elbo"] = metrics["elbo"]["negative_elbo"]
    return found


def read_rows(path: Path) -> list[dict]:
    """The rows of a results CSV, numbers as numbers; none when there is no file yet."""
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key in ("seed", "epochs", "batch_size", "parameters", "concurrent_runs"):
            row[key] = int(row[key])
        for key in ("score", "train_seconds"):
            row[key] = float(row[key])
    return rows


def append_row(path: Path, row: dict) -> None:
    """Add one run to the CSV at once, so that an interrupted measurement keeps what it finished."""
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def _scores(rows: Iterable[dict], recipe: str, backend: str) -> list[float]:
    return [row["score"] for row in rows if row["recipe"] == recipe and row["backend"] == backend]


def _shown(score: float, metric: str) -> str:
    return f"{score:.2f}" if metric in LOWER_IS_BETTER or metric == "mean IoU" else f"{100 * score:.1f}"


def _mean_of(rows: list[dict], key: str) -> float | None:
    """The mean of ``key`` in the rows' ``test`` column, over the rows that have it."""
    values = [found[key] for found in (json.loads(row["test"]) for row in rows) if key in found]
    return statistics.fmean(values) if values else None


def score_cell(scores: Sequence[float], metric: str) -> str:
    """A backend's scores over seeds: the mean, and the lowest and highest where there are several."""
    if not scores:
        return "—"
    mean = _shown(statistics.fmean(scores), metric)
    if len(scores) == 1:
        return mean
    return f"{mean} ({_shown(min(scores), metric)}–{_shown(max(scores), metric)}, {len(scores)} seeds)"


def summary(rows: list[dict]) -> list[dict]:
    """One entry per recipe: what its rows share, its score per backend, its mean over every run and
    its training seconds per backend; the best first within each dataset's leaderboard."""
    entries = []
    for recipe in dict.fromkeys(row["recipe"] for row in rows):
        own = [row for row in rows if row["recipe"] == recipe]
        first = own[0]
        backends = [name for name in BACKEND_NAMES if any(row["backend"] == name for row in own)]
        entries.append(
            {
                **{
                    key: first[key]
                    for key in ("recipe", "family", "dataset", "metric", "parameters", "epochs")
                },
                "scores": {backend: _scores(own, recipe, backend) for backend in backends},
                "mean": statistics.fmean(row["score"] for row in own),
                "seconds": {
                    backend: statistics.fmean(
                        row["train_seconds"] for row in own if row["backend"] == backend
                    )
                    for backend in backends
                },
                "judged": {key: _mean_of(own, key) for key in (*JUDGED, "negative_elbo")},
            }
        )
    return sorted(
        entries, key=lambda entry: -entry["mean"] if entry["metric"] not in LOWER_IS_BETTER else entry["mean"]
    )


def _table(
    entries: list[dict],
    first: Sequence[str],
    cells: Callable[[dict], Sequence[str]],
    more: Sequence[str] = (),
    more_cells: Callable[[dict], Sequence[str]] = lambda entry: (),
) -> list[str]:
    """A Markdown table: ``first`` columns, the size, the score per backend, ``more`` columns, and the
    training seconds per backend."""
    backends = [name for name in BACKEND_NAMES if any(name in entry["scores"] for entry in entries)]
    header = [
        *first,
        "parameters",
        "epochs",
        *(BACKEND_NAMES[b] for b in backends),
        *more,
        "training seconds",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for entry in entries:
        seconds = " / ".join(f"{entry['seconds'][b]:.0f}" if b in entry["seconds"] else "—" for b in backends)
        scores = [score_cell(entry["scores"].get(b, []), entry["metric"]) for b in backends]
        size = [f"{entry['parameters']:,}", str(entry["epochs"])]
        lines.append("| " + " | ".join([*cells(entry), *size, *scores, *more_cells(entry), seconds]) + " |")
    return lines


def _judges_cells(entry: dict) -> tuple[str, ...]:
    """The independent judge's verdict over every run of a generative recipe."""
    judged = entry["judged"]

    def share(key: str) -> str:
        return "—" if judged[key] is None else f"{100 * judged[key]:.1f} %"

    confidence = "—" if judged["confidence"] is None else f"{judged['confidence']:.3f}"
    return confidence, share("rarest"), share("label_accuracy")


def listed(words: Iterable[str]) -> str:
    words = list(words)
    return ", ".join(words[:-1]) + f" and {words[-1]}" if len(words) > 1 else "".join(words)


def _introduction(rows: list[dict]) -> list[str]:
    """What was measured, how, where, and where the data is."""
    backends = [BACKEND_NAMES[name] for name in BACKEND_NAMES if any(row["backend"] == name for row in rows)]
    seeds = sorted({row["seed"] for row in rows})
    concurrent = sorted({row["concurrent_runs"] for row in rows})
    return [
        "<!-- Written by `cookbook leaderboard` from train.csv beside it: edit neither by hand. -->",
        "",
        "# Leaderboards",
        "",
        f"Each recipe below trained by `cookbook train` with its defaults on {listed(backends)}; "
        f"seed{'s' if len(seeds) > 1 else ''} {listed(map(str, seeds))}. A cell is the test score (the mean, and the lowest and "
        "highest where there are several seeds); training seconds are each backend's mean, the fit "
        f"alone, measured with {' or '.join(map(str, concurrent))} runs at a time on "
        f"{rows[0]['machine'] if rows else 'this machine'} (Keras {rows[0]['keras_version'] if rows else ''}). "
        "The data, one row per run, is [train.csv](train.csv); `cookbook leaderboard` measures more "
        "and rewrites this page.",
        "",
    ]


def _digits_section(entries: list[dict], figure: str | None) -> list[str]:
    """Every recipe that reads the digits, in one table, then the plot."""
    lines = [
        "## The digits",
        "",
        "Test accuracy (%) on the same 360 held-out handwritten digits (scikit-learn's, 8 x 8 "
        "pixels), read as images, as 8 rows of 8 pixels by the recurrent networks, or as 64 pixel "
        "tokens by the Transformers.",
        "",
        *_table(
            entries,
            ("recipe", "family", "read as"),
            lambda e: (e["recipe"], e["family"], DIGITS[e["dataset"]]),
        ),
        "",
    ]
    return lines + ([f"![Test accuracy against parameters on the digits]({figure})", ""] if figure else [])


def _generative_section(entries: list[dict]) -> list[str]:
    """The generative recipes by their samples' Fréchet distance, with the independent judge's verdict."""
    floors = [entry["judged"]["frechet_floor"] for entry in entries if entry["judged"]["frechet_floor"]]
    floor = f" (the training digits' own: {statistics.fmean(floors):.2f})" if floors else ""
    return [
        "## The generative recipes",
        "",
        "Each judged on 1,000 samples by models the project did not train (`cookbook.judging`): "
        "the Fréchet distance of the samples to the 360 test digits, in the features of a "
        f"scikit-learn perceptron, lower is better{floor}; then, over every run, a scikit-learn "
        "SVC's mean confidence in the samples, the share of the digit it sees least (10 % when "
        "every digit is drawn as often), and for a conditional model the share it reads as the "
        "digit asked for.",
        "",
        *_table(
            entries,
            ("recipe",),
            lambda e: (e["recipe"],),
            ("SVC's confidence", "rarest digit", "the digit asked for"),
            _judges_cells,
        ),
        "",
    ]


def _own_data_section(entries: list[dict]) -> list[str]:
    """One row for each recipe whose default data is its own, scored by what it is for."""
    return [
        "## Recipes with data of their own",
        "",
        "Each on its default data, scored by what it is for (accuracy and exact match in %, mean "
        "IoU from 0 to 1, bits per character: lower is better).",
        "",
        *_table(
            entries,
            ("recipe", "family", "data", "score"),
            lambda e: (e["recipe"], e["family"], e["dataset"], e["metric"]),
        ),
        "",
    ]


def leaderboard_markdown(rows: list[dict], figure: str | None = None) -> str:
    """The leaderboards: the digits (every recipe that reads them, ranked by test accuracy), the
    generative recipes, then one row for each recipe whose default data is its own."""
    entries = summary(rows)
    generative = [entry for entry in entries if entry["metric"] == FRECHET]
    digits = [entry for entry in entries if entry["dataset"] in DIGITS and entry not in generative]
    others = sorted(
        (entry for entry in entries if entry["dataset"] not in DIGITS and entry not in generative),
        key=lambda entry: entry["dataset"],
    )
    lines = _introduction(rows)
    if digits:
        lines += _digits_section(digits, figure)
    if generative:
        lines += _generative_section(generative)
    if others:
        lines += _own_data_section(others)
    return "\n".join(lines)


def plot_accuracy_against_parameters(rows: list[dict], png: Path) -> Path:
    """Each digits recipe as a point: its mean test accuracy over every run against its parameter
    count (log scale), the bar from its lowest to its highest run, coloured by family."""
    from cookbook.plots import pyplot_for_files

    plt = pyplot_for_files()
    entries = [entry for entry in summary(rows) if entry["dataset"] in DIGITS and entry["metric"] != FRECHET]
    families = list(dict.fromkeys(entry["family"] for entry in entries))
    colours = dict(zip(families, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    fig, ax = plt.subplots(figsize=(9.5, 5.5))
    placed: list[tuple[float, float]] = []  # (log10 parameters, accuracy) of the labels written so far
    for entry in sorted(entries, key=lambda entry: entry["parameters"]):
        scores = [100 * score for runs in entry["scores"].values() for score in runs]
        mean = 100 * entry["mean"]
        ax.errorbar(
            entry["parameters"],
            mean,
            yerr=[[mean - min(scores)], [max(scores) - mean]],
            fmt="o",
            color=colours[entry["family"]],
            capsize=3,
        )
        spot = (math.log10(entry["parameters"]), mean)
        crowded = any(abs(spot[0] - x) < 0.35 and abs(spot[1] - y) < 0.2 for x, y in placed)
        placed.append(spot)
        ax.annotate(
            entry["recipe"],
            (entry["parameters"], mean),
            textcoords="offset points",
            xytext=(5, -12) if crowded else (5, 4),  # under its point where a label sits beside it
            fontsize=8,
        )
    for family in families:
        ax.plot([], [], "o", color=colours[family], label=family)
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("test accuracy (%): mean, and lowest to highest run")
    ax.set_title("The digits: accuracy against size")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), title="family")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png
