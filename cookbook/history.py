"""A run's ``history.csv``, read back (the training loop writes it, the curves and reports read it)."""

from __future__ import annotations

import csv
from pathlib import Path


def read_history(path: str | Path) -> dict[str, list[float]]:
    """history.csv (written by CSVLogger) as columns of floats."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    # CSVLogger writes val_ columns of NA for a fit without validation (a GAN's): leave them out
    keys = [key for key in (rows[0] if rows else {}) if any(row[key] != "NA" for row in rows)]
    return {key: [float(row[key]) for row in rows] for key in keys}
