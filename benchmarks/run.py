"""Measure recipes on each backend, one process per backend, and write the table (Markdown, CSV)."""

from __future__ import annotations

import csv
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.measure import JIT
from recipes import recipe_info
from recipes._backend import BACKENDS, installed_backends
from recipes._errors import CookbookError
from recipes._train import PRECISIONS

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RECIPES = ("mlp", "cnn", "lstm", "transformer_classifier")
COLUMNS = ("recipe", "backend", "jit", "jit_compile", "precision", "batch_size", "steps", "repeats",
           "first_step_s", "ms_per_step", "ms_min", "ms_max", "fit_overhead_ms", "samples_per_s", "peak_memory_mb",
           "times_fastest", "parameters", "threads", "error")  # fmt: skip


def _check(recipes, backends, batch_size, steps, repeats, precision, jit) -> None:
    for name in recipes:
        if recipe_info(name).task["loss"] is None:  # (unknown names raise in recipe_info)
            raise CookbookError(f"{name} trains by its own game; bench times recipes compiled with a loss")
    for backend in backends:
        if backend not in BACKENDS:
            raise CookbookError(f"unknown backend {backend!r}; choose from: {', '.join(BACKENDS)}")
        if backend not in installed_backends():
            raise CookbookError(f"the {backend} backend is not installed")
    if steps < 1 or repeats < 1 or (batch_size is not None and batch_size < 1):
        raise CookbookError("--steps, --repeats and --batch-size must be at least 1")
    if precision not in PRECISIONS or jit not in JIT:
        raise CookbookError(f"--precision is one of {', '.join(PRECISIONS)}; --jit one of {', '.join(JIT)}")


def _measure_on(backend: str, recipes, options: list[str]) -> list[dict]:
    """One process on ``backend`` measures every recipe; each row is printed as it arrives."""
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "-m", "benchmarks.measure", *recipes, *options]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    rows = []
    for line in process.stdout:
        if not line.startswith("{"):
            continue  # a library's own chatter
        row = json.loads(line)
        rows.append(row)
        told = row.get("error") or f"{row['ms_per_step']:.2f} ms/step, first step {row['first_step_s']:.1f} s"
        print(f"{backend:<10} {row['recipe']:<24} {told}", flush=True)
    errors = process.stderr.read()
    if process.wait() != 0 and not rows:
        last = (errors.strip().splitlines() or ["no output"])[-1]
        raise CookbookError(f"the {backend} process failed: {last}")
    return rows


def run(recipes=DEFAULT_RECIPES, backends=None, batch_size=None, steps=50, repeats=5, precision="float32",
        jit="auto", out="runs/bench", command: str | None = None) -> list[dict]:  # fmt: skip
    """Measure each recipe on each backend; write ``OUT/bench.md`` and ``OUT/bench.csv``; return the rows."""
    recipes, backends = list(recipes), list(backends or installed_backends())
    _check(recipes, backends, batch_size, steps, repeats, precision, jit)
    options = ["--steps", str(steps), "--repeats", str(repeats), "--precision", precision, "--jit", jit]
    options += ["--batch-size", str(batch_size)] if batch_size else []
    rows = [row for backend in backends for row in _measure_on(backend, recipes, options)]
    for name in recipes:  # the ratio to the fastest backend, per recipe
        measured = [row for row in rows if row["recipe"] == name and "error" not in row]
        fastest = min((row["ms_per_step"] for row in measured), default=None)
        for row in measured:
            row["times_fastest"] = round(row["ms_per_step"] / fastest, 2)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "bench.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    (out / "bench.md").write_text(table(rows, command or "cookbook bench " + " ".join(recipes)))
    return rows


def table(rows: list[dict], command: str) -> str:
    """The Markdown report: the command, the machine, each backend's device line, then the table."""
    lines = [
        "# cookbook bench", "",
        f"`{command}` — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
        f"Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.",
    ]  # fmt: skip
    devices = {row["backend"]: (row["device"], row["threads"]) for row in rows if "device" in row}
    lines += [f"- {device}; threads: {threads}" for device, threads in devices.values()]
    lines += ["", "| recipe | backend | jit | precision | batch | first step (s) | ms/step | samples/s "
              "| fit's fixed ms | peak MB | × fastest |", "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['recipe']} | {row['backend']} | failed: {row['error']} ||||||||| |")
            continue
        jit = f"{row['jit']} ({'on' if row['jit_compile'] else 'off'})"
        lines.append(
            f"| {row['recipe']} | {row['backend']} | {jit} | {row['precision']} | {row['batch_size']} "
            f"| {row['first_step_s']:.2f} | {row['ms_per_step']:.2f} | {row['samples_per_s']:,.0f} "
            f"| {row['fit_overhead_ms']:.0f} | {row['peak_memory_mb']:,.0f} | {row['times_fastest']:.2f} |"
        )
    lines += ["", "ms/step: per repeat, `fit` over `steps` and over `2 x steps` batches; the difference over "
              "`steps`, median of the repeats, after the first step (tracing and compiling) and a warm-up "
              "pass. Fit's fixed ms: what the shorter pass took beyond its steps (starting `fit`, reading "
              "the logs back). Peak MB: the GPU's peak allocation where "
              "there is one, else the process's peak resident memory (Keras and the backend included)."]  # fmt: skip
    return "\n".join(lines) + "\n"
