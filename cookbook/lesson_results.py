"""The design lessons' measurements as data: what each ``compare-*`` command (and ``scale-attention``)
wrote when ``cookbook lessons`` ran it on a backend, and the page that shows them.

A measured lesson is a folder ``OUT/lessons/LESSON/BACKEND/`` holding what the command wrote — its
``results.json``, its ``table.txt`` and its pictures — and ``run.json``, written last by
``cookbook lessons`` (the command line, the seconds it took, the date, Keras' version and the
machine): a folder without ``run.json`` is not measured. ``lessons.md`` beside ``lessons/`` is
rendered from those folders alone.
"""

from __future__ import annotations

import json
from pathlib import Path

from cookbook.results import BACKEND_NAMES, listed

# The lessons in the order the page tells them: what a network is made of first (activations and
# initialisation, optimizers, normalisation, regularisation), then what an architecture assumes,
# then the recurrent lessons (exploding gradients, depth, long dependencies), then attention's cost.
LESSONS = (
    "compare-activations",
    "compare-optimizers",
    "compare-normalization",
    "compare-regularization",
    "compare-inductive-bias",
    "compare-clipping",
    "compare-depth",
    "compare-rnn",
    "scale-attention",
)
KEPT = ("results.json", "table.txt", "*.png")  # what a lesson wrote that its page shows


def folder(out: Path, lesson: str, backend: str) -> Path:
    return out / "lessons" / lesson / backend


def measured(out: Path) -> list[dict]:
    """Every measured (lesson, backend), in the page's order: its ``run.json``, its table and its
    pictures (paths relative to ``out``)."""
    found = []
    for lesson in LESSONS:
        for backend in BACKEND_NAMES:
            place = folder(out, lesson, backend)
            if not (place / "run.json").exists():
                continue
            found.append(
                {
                    **json.loads((place / "run.json").read_text()),
                    "table": (place / "table.txt").read_text().rstrip(),
                    "pictures": [png.relative_to(out).as_posix() for png in sorted(place.glob("*.png"))],
                    "data": (place / "results.json").relative_to(out).as_posix(),
                }
            )
    return found


def _introduction(runs: list[dict]) -> list[str]:
    machines = sorted({run["machine"] for run in runs})
    versions = sorted({run["keras_version"] for run in runs})
    return [
        "<!-- Written by `cookbook lessons` from the folders in lessons/ beside it: edit neither by hand. -->",
        "",
        "# The design lessons, measured",
        "",
        "Each lesson is a `cookbook` command that trains or times a family of small networks to show "
        "one design choice at work. Below, each table and picture is what the command itself printed "
        f"and drew when `cookbook lessons` ran it, on {listed(machines)} (Keras {listed(versions)}), "
        "with the data it wrote beside them. Timings depend on the machine; scores move with the seed "
        "(one seed here). What the numbers teach is told in [the measured results](../RESULTS.md).",
        "",
    ]


def _lesson_section(lesson: str, runs: list[dict]) -> list[str]:
    lines = [f"## {lesson}", "", f"{runs[0]['about'][0].upper()}{runs[0]['about'][1:]}.", ""]
    for run in runs:
        name = BACKEND_NAMES[run["backend"]]
        lines += [
            f"### On {name}",
            "",
            f"`{run['command']}` took {run['seconds']:,.0f} s on {run['date']} "
            f"(its data: [results.json]({run['data']})).",
            "",
            "```text",
            run["table"],
            "```",
            "",
            *(f"![{lesson} on {name}]({picture})" for picture in run["pictures"]),
            "",
        ]
    return lines


def lessons_markdown(runs: list[dict]) -> str:
    """The page of measured lessons: each lesson's table and pictures on every backend it ran on,
    then the lessons not measured yet, with the command that measures one."""
    lines = _introduction(runs) if runs else ["# The design lessons, measured", ""]
    for lesson in LESSONS:
        own = [run for run in runs if run["lesson"] == lesson]
        if own:
            lines += _lesson_section(lesson, own)
    waiting = [lesson for lesson in LESSONS if not any(run["lesson"] == lesson for run in runs)]
    if waiting:
        lines += [
            "## Not measured here yet",
            "",
            f"{listed(f'`{lesson}`' for lesson in waiting)}: `cookbook lessons LESSON --out docs/results` "
            "measures one and rewrites this page.",
            "",
        ]
    return "\n".join(lines)
