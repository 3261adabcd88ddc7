"""How `train` and `evaluate` end: the test scores, what the task's kind adds, what was written."""

from __future__ import annotations

from pathlib import Path


def print_report(report: dict, out: str | Path, written: str) -> None:
    """The test scores of a trained model, the lines its kind of task adds (``cookbook.kinds``) and
    the files written, as `train` and `evaluate` end."""
    from cookbook.kinds import describe

    scores = report["test"] or report.get("final", {})
    line = ", ".join(f"{key} {value:.4f}" for key, value in scores.items())
    seconds = f"  ({report['train_seconds']:.1f} s training)" if "train_seconds" in report else ""
    if line:
        print(f"{'test' if report['test'] else 'last epoch'}: {line}{seconds}")
    lines, files = describe(report, out)
    for line in lines:
        print(line)
    print(f"wrote {out}/{', '.join([written, *files])}")
