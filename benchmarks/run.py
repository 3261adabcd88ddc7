"""Measure recipes on each backend, one process per backend, and write the table (Markdown, CSV)."""

from __future__ import annotations

import csv
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from benchmarks.measure import JIT
from benchmarks.native import FRAMEWORKS
from benchmarks.native import RECIPES as NATIVE_RECIPES
from cookbook.backend import check_installed, installed_backends
from cookbook.catalogue import load_recipe, recipe_info
from cookbook.errors import CookbookError
from cookbook.kinds import KINDS
from cookbook.protocol import PRECISIONS

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RECIPES = ("mlp", "cnn", "lstm", "transformer_classifier")
COLUMNS = ("recipe", "backend", "jit", "jit_compile", "precision", "batch_size", "steps", "repeats",
           "first_step_s", "ms_per_step", "ms_min", "ms_max", "fit_overhead_ms", "samples_per_s", "peak_memory_mb",
           "times_fastest", "times_native", "model_tflops", "peak_tflops", "mfu", "parameters", "settings", "threads",
           "error")  # fmt: skip


def _check(
    recipes: list[str],
    backends: list[str],
    batch_size: int | None,
    steps: int,
    repeats: int,
    precision: str,
    jit: str,
    native: list[str],
    settings: Sequence[str],
    peak: float | None,
) -> None:
    from cookbook.training import parse_settings

    for name in recipes:
        if KINDS[recipe_info(name).task.get("kind", "classification")].own_train_step:  # (unknown: raises)
            raise CookbookError(f"{name} trains by its own game; bench times recipes compiled with a loss")
        if settings:
            parse_settings(settings, load_recipe(name).DEFAULTS)  # (a bad one raises, in one line)
    if settings and native:
        raise CookbookError("the hand-written networks (--native) are the recipes' defaults: leave out --set")
    if peak is not None and peak <= 0:
        raise CookbookError(f"--peak-tflops must be above 0; got {peak}")
    check_installed(backends)
    if steps < 1 or repeats < 1 or (batch_size is not None and batch_size < 1):
        raise CookbookError("--steps, --repeats and --batch-size must be at least 1")
    if precision not in PRECISIONS or jit not in JIT:
        raise CookbookError(f"--precision is one of {', '.join(PRECISIONS)}; --jit one of {', '.join(JIT)}")
    for framework in native:
        if framework not in FRAMEWORKS:
            raise CookbookError(
                f"unknown native framework {framework!r}; choose from: {', '.join(FRAMEWORKS)}"
            )
        if FRAMEWORKS[framework][0] not in installed_backends():
            raise CookbookError(
                f"--native {framework} needs {FRAMEWORKS[framework][0]}, which is not installed"
            )
    if native and precision != "float32":
        raise CookbookError("the hand-written networks (--native) train in float32 only")
    if native and not set(recipes) & set(NATIVE_RECIPES):
        raise CookbookError(f"--native: there are hand-written {', '.join(NATIVE_RECIPES)} only")


def _measure_on(label: str, backend: str, command: list[str]) -> list[dict]:
    """One process on ``backend`` runs ``python -m COMMAND``; each JSON row is printed as it arrives."""
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    rows = []
    for line in process.stdout:
        if not line.startswith("{"):
            continue  # a library's own chatter
        row = json.loads(line)
        rows.append(row)
        told = row.get("error") or f"{row['ms_per_step']:.2f} ms/step, first step {row['first_step_s']:.1f} s"
        print(f"{label:<20} {row['recipe']:<24} {told}", flush=True)
    errors = process.stderr.read()
    if process.wait() != 0 and not rows:
        last = (errors.strip().splitlines() or ["no output"])[-1]
        raise CookbookError(f"the {label} process failed: {last}")
    return rows


def run(
    recipes: Iterable[str] = DEFAULT_RECIPES,
    backends: Iterable[str] | None = None,
    batch_size: int | None = None,
    steps: int = 50,
    repeats: int = 5,
    precision: str = "float32",
    jit: str = "auto",
    out: str | Path = "runs/bench",
    command: str | None = None,
    native: Iterable[str] = (),
    settings: Sequence[str] = (),
    peak_tflops: float | None = None,
) -> list[dict]:
    """Measure each recipe on each backend, and the hand-written networks in each ``native`` framework;
    write ``OUT/bench.md`` and ``OUT/bench.csv``; return the rows."""
    recipes, backends, native = list(recipes), list(backends or installed_backends()), list(native)
    _check(recipes, backends, batch_size, steps, repeats, precision, jit, native, settings, peak_tflops)
    options = ["--steps", str(steps), "--repeats", str(repeats)]
    options += ["--batch-size", str(batch_size)] if batch_size else []
    keras_options = [*options, "--precision", precision, "--jit", jit]
    keras_options += [f"--set={pair}" for pair in settings]
    keras_options += ["--peak-tflops", str(peak_tflops)] if peak_tflops else []
    rows = [
        row
        for backend in backends
        for row in _measure_on(backend, backend, ["benchmarks.measure", *recipes, *keras_options])
    ]
    written = [name for name in recipes if name in NATIVE_RECIPES]
    for framework in native:
        command_line = ["benchmarks.native", framework, *written, *options]
        rows += _measure_on(f"{framework} (native)", FRAMEWORKS[framework][0], command_line)
    for name in recipes:  # the ratios to the fastest and to hand-written eager PyTorch, per recipe
        measured = [row for row in rows if row["recipe"] == name and "error" not in row]
        fastest = min((row["ms_per_step"] for row in measured if row["ms_per_step"] > 0), default=None)
        eager = [row["ms_per_step"] for row in measured if row.get("native") and row["jit"] == "eager"]
        for row in measured:  # (a tiny run's difference of passes can come out at or below 0: no ratio)
            row["times_fastest"] = round(row["ms_per_step"] / fastest, 2) if row["ms_per_step"] > 0 else None
            row["times_native"] = (
                round(row["ms_per_step"] / eager[0], 2) if eager and row["ms_per_step"] > 0 else None
            )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "bench.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    (out / "bench.md").write_text(table(rows, command or "cookbook bench " + " ".join(recipes)))
    return rows


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _significant(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}" if value < 1000 else f"{value:,.0f}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def goals(rows: list[dict]) -> list[str]:
    """Where the recipes stand against hand-written eager PyTorch (issue #9's goals), per recipe."""
    lines = [
        "",
        "Against hand-written eager PyTorch (goals: the best Keras backend ≤ 1.0×, Keras on PyTorch ≤ 1.5×):",
        "",
        "| recipe | native PyTorch ms | best Keras backend | its ms | × native | Keras on PyTorch × native |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for name in dict.fromkeys(row["recipe"] for row in rows):
        measured = [row for row in rows if row["recipe"] == name and row.get("times_native") is not None]
        keras_rows = [row for row in measured if not row.get("native")]
        eager = [row for row in measured if row.get("native") and row["jit"] == "eager"]
        if not keras_rows or not eager:
            continue
        best = min(keras_rows, key=lambda row: row["ms_per_step"])
        on_torch = [row["times_native"] for row in keras_rows if row["backend"] == "torch"]
        lines.append(
            f"| {name} | {eager[0]['ms_per_step']:.2f} | {best['backend']} | {best['ms_per_step']:.2f} "
            f"| {best['times_native']:.2f} | {_ratio(on_torch[0] if on_torch else None)} |"
        )
    return lines if len(lines) > 5 else []


def table(rows: list[dict], command: str) -> str:
    """The Markdown report: the command, the machine, each backend's device line, the table, the goals."""
    lines = [
        "# cookbook bench",
        "",
        f"`{command}` — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.",
    ]
    devices = {row["backend"]: (row["device"], row["threads"]) for row in rows if "device" in row}
    lines += [f"- {device}; threads: {threads}" for device, threads in devices.values()]
    flops = any(row.get("model_tflops") for row in rows)
    lines += [
        "",
        "| recipe | backend | jit | precision | batch | first step (s) | ms/step | samples/s "
        "| fit's fixed ms | peak MB | × fastest | × native PyTorch |"
        + (" model TFLOP/s | MFU |" if flops else ""),
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if flops else ""),
    ]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['recipe']} | {row['backend']} | failed: {row['error']} |||||||||| |")
            continue
        jit = row["jit"] if row.get("native") else f"{row['jit']} ({'on' if row['jit_compile'] else 'off'})"
        fixed = "—" if row["fit_overhead_ms"] is None else f"{row['fit_overhead_ms']:.0f}"
        lines.append(
            f"| {row['recipe']} | {row['backend']} | {jit} | {row['precision']} | {row['batch_size']} "
            f"| {row['first_step_s']:.2f} | {row['ms_per_step']:.2f} | {row['samples_per_s']:,.0f} "
            f"| {fixed} | {row['peak_memory_mb']:,.0f} | {_ratio(row['times_fastest'])} | {_ratio(row.get('times_native'))} |"
            + (f" {_significant(row.get('model_tflops'))} | {_percent(row.get('mfu'))} |" if flops else "")
        )
    lines += goals(rows)
    lines += [
        "",
        "ms/step: per repeat, `fit` over `steps` and over `2 x steps` batches; the difference over "
        "`steps`, median of the repeats, after the first step (tracing and compiling) and a warm-up "
        "pass. Fit's fixed ms: what the shorter pass took beyond its steps (starting `fit`, reading "
        "the logs back). The hand-written (native) networks have no `fit`: their ms/step is a pass of "
        "`steps` training steps over `steps`. Peak MB: the GPU's peak allocation where "
        "there is one, else the process's peak resident memory (Keras and the backend included).",
    ]
    if flops:
        lines += [
            "",
            "Model TFLOP/s: PaLM's estimate of a Transformer's training FLOPs per token, 6 N + 12 L T d "
            "(N weights outside the embedding tables, L attention layers, T tokens, d attention width), "
            "times the tokens of a step, over the step time (benchmarks/flops.py). MFU: that over the "
            "device's 16-bit peak (given with --peak-tflops, or known for H100, H200 and A100).",
        ]
    return "\n".join(lines) + "\n"
