"""A step's result file, written twice: the latest copy and the day's archive.

    metrics/<name>.json              the latest run (what DVC tracks and `dvc metrics show` reads)
    metrics/days/ds=D/<name>.json    the same bytes, kept per day (the on-call report's history)

Both are written atomically; the archive first, so a latest copy never names a
day whose archive is missing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hrlrec import atomic

DAYS = "days"


def write(metrics_dir: Path, name: str, ds: str, body: str | dict[str, Any]) -> Path:
    """Write result `name` of day `ds`; returns the latest copy's path."""
    text = body if isinstance(body, str) else json.dumps(body, indent=2) + "\n"
    atomic.write_text(day_path(metrics_dir, name, ds), text)
    latest = metrics_dir / f"{name}.json"
    atomic.write_text(latest, text)
    return latest


def day_path(metrics_dir: Path, name: str, ds: str) -> Path:
    return metrics_dir / DAYS / f"ds={ds}" / f"{name}.json"


def read(metrics_dir: Path, name: str, ds: str) -> dict[str, Any] | None:
    """The day's result `name`, or None when that step has not run for the day."""
    path = day_path(metrics_dir, name, ds)
    return json.loads(path.read_text()) if path.is_file() else None
