"""The prepared GPU check: one command that measures what a lent GPU is for, in at most 8 minutes,
and writes one Markdown report.

A machine with a GPU may be lent for minutes only, so what runs there is decided here, not
there. In order, each step a process of its own with its own time limit, all within one budget:

1. ``cookbook doctor``: the versions, and the GPUs each backend sees;
2. ``cookbook train`` of ``cnn`` and ``transformer_classifier`` on JAX and PyTorch, each in
   ``float32`` and ``mixed_bfloat16`` (5 epochs): test accuracy and seconds per epoch;
3. ``cookbook bench mlp cnn lstm transformer_classifier --native torch,jax``: step times against
   hand-written PyTorch and JAX;
4. ``cookbook bench gpt --set preset=gpt2_small --precision mixed_bfloat16 --batch-size 8``: GPT-2
   small's training step and its model-FLOPs utilisation (MFU).

A step that fails or runs out of time is a row of the report with the end of its output; the
steps after it still run while the budget lasts. ``--dry-run`` runs every kind of step once, at
tiny sizes, and works on a CPU: two trainings of one epoch that between them take each recipe,
backend and precision; the bench of ``mlp`` alone over two batches, in Keras on JAX against
hand-written PyTorch; and the ``gpt`` page's small default instead of GPT-2, on PyTorch. Each
framework's process is started once per kind of step, not once per backend: the test suite runs the
dry run (71 s here, where both backends in both benches took 112 s), so that the check cannot rot
between the sessions that have a GPU.

The GPU machine has Python 3.12 with PyTorch, JAX, scikit-learn, matplotlib, h5py and rich, but no
Keras. Carry these wheels in ``.whl/`` beside the repository (the versions of constraints.txt,
``pip download --no-deps --only-binary=:all: --python-version 3.12 -d .whl NAME==VERSION``):

- ``keras`` (and its needs that image lacks: ``namex``, ``optree``);

the check installs them into a folder of its own (``--target``) when Keras cannot be imported.
On the device tool: ``run(command="python3 benchmarks/gpu_check.py --out $OUT", carry=[".whl"])``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("jax", "torch")
TRAINED = ("cnn", "transformer_classifier")
PRECISIONS = ("float32", "mixed_bfloat16")
BENCHED = ("mlp", "cnn", "lstm", "transformer_classifier")
BUDGET_S = 480  # the whole check, on one GPU


@dataclass
class Step:
    title: str
    argv: list[str]
    timeout_s: float
    out: Path | None = None  # the folder the command writes, read for the report
    rc: int | None = None  # None: not run (the budget was spent)
    seconds: float = 0.0
    output: str = ""
    notes: dict = field(default_factory=dict)


def _cookbook(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "cookbook", *arguments]


def trained(dry_run: bool) -> list[tuple[str, str, str]]:
    """(recipe, backend, precision) of each training step: every combination on a GPU; in a dry
    run two, which between them take each recipe, backend and precision once."""
    if dry_run:
        return [(TRAINED[0], BACKENDS[0], PRECISIONS[0]), (TRAINED[1], BACKENDS[1], PRECISIONS[1])]
    return [(r, b, p) for b in BACKENDS for r in TRAINED for p in PRECISIONS]


def plan(out: Path, dry_run: bool) -> list[Step]:
    """The steps, in the order they run, sized for a GPU or (``dry_run``) for a quick CPU run."""
    epochs, steps, repeats = ("1", "2", "1") if dry_run else ("5", "20", "3")
    planned = [Step("cookbook doctor", _cookbook("doctor"), 120)]
    for recipe, backend, precision in trained(dry_run):
        folder = out / "train" / f"{recipe}-{backend}-{precision}"
        argv = _cookbook(
            "train",
            recipe,
            "--backend",
            backend,
            "--precision",
            precision,
            "--epochs",
            epochs,
            "--out",
            str(folder),
        )
        planned.append(Step(f"train {recipe} {backend} {precision}", argv, 180, folder))
    benched = BENCHED[:1] if dry_run else BENCHED
    # (keras backends, hand-written frameworks) of each bench: in a dry run, each framework once
    keras_on, native = (BACKENDS[:1], BACKENDS[1:]) if dry_run else (BACKENDS, ("torch", "jax"))
    bench = out / "bench"
    planned.append(
        Step(
            "bench " + " ".join(benched),
            _cookbook(
                "bench",
                *benched,
                "--backends",
                ",".join(keras_on),
                "--native",
                ",".join(native),
                "--steps",
                steps,
                "--repeats",
                repeats,
                "--out",
                str(bench),
            ),
            300,
            bench,
        )
    )
    gpt = out / "gpt"
    sizes = ["--batch-size", "2"] if dry_run else ["--set", "preset=gpt2_small", "--batch-size", "8"]
    planned.append(
        Step(
            "bench gpt" if dry_run else "bench gpt (GPT-2 small)",
            _cookbook(
                "bench",
                "gpt",
                "--backends",
                ",".join(BACKENDS[1:] if dry_run else BACKENDS),
                "--precision",
                "mixed_bfloat16",
                *sizes,
                "--steps",
                steps,
                "--repeats",
                repeats,
                "--out",
                str(gpt),
            ),
            300,
            gpt,
        )
    )
    return planned


def carried_keras(wheels: Path) -> str | None:
    """A folder to put on ``PYTHONPATH`` that holds Keras: None when this Python imports Keras
    already, else the carried wheels installed into a folder of their own. Raises SystemExit with
    one line when there is neither."""
    import importlib.util

    if importlib.util.find_spec("keras") is not None:
        return None
    found = sorted(wheels.glob("*.whl"))
    if not found:
        raise SystemExit(f"gpu_check: Keras is not installed and {wheels} holds no wheels; see the docstring")
    site = Path(os.environ.get("TMPDIR", "/tmp")) / "gpu_check_site"
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile"]
    subprocess.run([*command, "--upgrade", "--target", str(site), *map(str, found)], check=True)
    return str(site)


def run_step(step: Step, env: dict, deadline: float) -> None:
    """Run ``step`` within its own limit and what is left of the budget; record how it ended."""
    limit = min(step.timeout_s, deadline - time.monotonic())
    if limit < 5:
        return
    print(f"\n=== {step.title} ({limit:.0f} s at most)", flush=True)
    started = time.monotonic()
    try:
        done = subprocess.run(
            step.argv,
            cwd=ROOT,
            env=env,
            timeout=limit,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        step.rc, step.output = done.returncode, done.stdout
    except subprocess.TimeoutExpired as stopped:
        step.rc = 124
        output = stopped.stdout or ""
        step.output = (
            output.decode() if isinstance(output, bytes) else output
        ) + f"\n(stopped after {limit:.0f} s)"
    step.seconds = time.monotonic() - started
    print(step.output[-3000:], flush=True)
    if step.rc == 0 and step.out and (step.out / "metrics.json").exists():
        metrics = json.loads((step.out / "metrics.json").read_text())
        step.notes = {
            "accuracy": metrics["test"].get("accuracy"),
            "seconds_per_epoch": metrics["train_seconds"] / metrics["epochs"],
            "parameters": metrics["parameters"],
        }


def _gpu_name() -> str:
    if not shutil.which("nvidia-smi"):
        return "no nvidia-smi: no NVIDIA GPU"
    found = subprocess.run(
        ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
        capture_output=True,
        text=True,
    )
    return found.stdout.strip() or found.stderr.strip()


def report(steps: list[Step], dry_run: bool, budget_s: float, seconds: float) -> str:
    """The Markdown report: the device, every step's outcome, the training table, the bench tables."""
    lines = [
        "# GPU check" + (" (dry run: tiny sizes)" if dry_run else ""),
        "",
        f"`python benchmarks/gpu_check.py{' --dry-run' if dry_run else ''}`, {time.strftime('%Y-%m-%d %H:%M')}, "
        f"{seconds:.0f} s of a {budget_s:.0f} s budget. Device: {_gpu_name()}.",
        "",
        "| step | outcome | seconds |",
        "|---|---|---|",
    ]
    for step in steps:
        outcome = {None: "not run: budget spent", 0: "ok", 124: "stopped: out of time"}.get(
            step.rc, f"failed ({step.rc})"
        )
        lines.append(f"| {step.title} | {outcome} | {step.seconds:.0f} |")
    doctor = steps[0]
    if doctor.rc == 0:
        lines += ["", "## cookbook doctor", "", "```", doctor.output.strip(), "```"]
    trained = [step for step in steps if step.notes]
    if trained:
        lines += [
            "",
            "## Training",
            "",
            "| recipe | backend | precision | test accuracy | s / epoch | parameters |",
        ]
        lines.append("|---|---|---|---|---|---|")
        for step in trained:
            _, recipe, backend, precision = step.title.split()
            accuracy = step.notes["accuracy"]
            lines.append(
                f"| {recipe} | {backend} | {precision} | {'-' if accuracy is None else f'{accuracy:.3f}'} "
                f"| {step.notes['seconds_per_epoch']:.2f} | {step.notes['parameters']:,} |"
            )
    for step in steps:
        if step.rc == 0 and step.out and (step.out / "bench.md").exists():
            lines += ["", f"## {step.title}", "", (step.out / "bench.md").read_text().strip()]
    failed = [step for step in steps if step.rc not in (None, 0)]
    for step in failed:
        lines += [
            "",
            f"## {step.title}: the end of its output",
            "",
            "```",
            step.output[-2000:].strip(),
            "```",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="every step at tiny sizes (a CPU will do)")
    parser.add_argument("--out", default="runs/gpu_check", help="gpu_check.md and each step's files")
    parser.add_argument("--wheels", default=".whl", help="the carried wheels, when Keras is not installed")
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds for the whole check")
    args = parser.parse_args(argv)
    if args.budget < 30:
        print(f"gpu_check: --budget must be at least 30 seconds; got {args.budget:g}", file=sys.stderr)
        return 2
    try:
        site = carried_keras(ROOT / args.wheels)
    except SystemExit as error:
        print(error, file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1", MPLBACKEND="Agg")
    env.pop("KERAS_BACKEND", None)  # each step names its backend
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), site, env.get("PYTHONPATH")) if p)
    started = time.monotonic()
    steps = plan(out, args.dry_run)
    for step in steps:
        run_step(step, env, started + args.budget)
    text = report(steps, args.dry_run, args.budget, time.monotonic() - started)
    (out / "gpu_check.md").write_text(text)
    print(text)
    print(f"wrote {out / 'gpu_check.md'}")
    return 0 if all(step.rc == 0 for step in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
