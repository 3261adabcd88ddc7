"""The cookbook's measured comparisons: RNN cells racing, ResNet depth, attention's cost per length,
and the design lessons (activations and initialisers, gradient clipping, optimizers and schedules,
normalisation, inductive bias).

Each writes ``results.json`` after every run, under the settings it was measured with, and a rerun
with the same settings measures only what is missing: an interrupted comparison loses nothing."""

from __future__ import annotations

import json
from pathlib import Path


def load_results(out: str | Path | None, settings: dict) -> tuple[Path | None, dict]:
    """``out/results.json`` (None without ``out``) and the results it holds if they were measured
    under ``settings``; else no results."""
    path = Path(out) / "results.json" if out else None
    if path and path.exists() and (saved := json.loads(path.read_text())).get("settings") == settings:
        return path, saved["results"]
    return path, {}


def save_results(path: Path | None, settings: dict, results: dict) -> None:
    """Rewrite ``path`` with ``results`` and their ``settings`` (nothing when ``path`` is None)."""
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"settings": settings, "results": results}, indent=2) + "\n")
