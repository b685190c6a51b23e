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


PLOTS = "plots"


def write_plots(metrics_dir: Path) -> None:
    """Rebuild the DVC plot data from the per-day archive (so re-running a day never duplicates a point).

    metrics/plots/auc.json       one row per day: candidate, production and LR AUC on that day
    metrics/plots/channels.json  the latest stability record: share per hour bucket and channel,
                                 this week's and (when there is one) the week-ago baseline's
    """
    days = sorted((metrics_dir / DAYS).glob("ds=*"))
    auc = []
    for day in days:
        found = read(metrics_dir, "evaluate", day.name[3:])
        if found:
            n = found["numbers"]
            auc.append({"ds": day.name[3:], "candidate_auc": n.get("candidate_auc"),
                        "production_auc": n.get("production_auc"), "lr_auc": n.get("lr_auc")})  # fmt: skip
    atomic.write_text(metrics_dir / PLOTS / "auc.json", json.dumps(auc, indent=1) + "\n")
    stability = next((s for d in reversed(days) if (s := read(metrics_dir, "stability", d.name[3:]))), None)
    rows = []
    if stability:
        n = stability["numbers"]
        bucket = n.get("hour_bucket") or stability.get("thresholds", {}).get("hour_bucket", 4)
        channels = n.get("channels") or [f"channel {i + 1}" for i in range(len(n["record"][0]))]
        for week, table in (("this week", n["record"]), ("week ago", n.get("baseline"))):
            for b, shares in enumerate(table or []):
                for channel, share in zip(channels, shares, strict=False):
                    hours = f"{b * bucket:02d}-{(b + 1) * bucket:02d}h"
                    rows.append({"hours": hours, "channel": channel, "series": f"{channel}, {week}", "share": share})
    atomic.write_text(metrics_dir / PLOTS / "channels.json", json.dumps(rows, indent=1) + "\n")
