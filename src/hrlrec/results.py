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
from hrlrec.layout import Layout


def write(layout: Layout, name: str, ds: str, body: str | dict[str, Any]) -> Path:
    """Write result `name` of day `ds`; returns the latest copy's path."""
    text = body if isinstance(body, str) else json.dumps(body, indent=2) + "\n"
    atomic.write_text(layout.result_day(name, ds), text)
    latest = layout.result(name)
    atomic.write_text(latest, text)
    return latest


def read(layout: Layout, name: str, ds: str) -> dict[str, Any] | None:
    """The day's result `name`, or None when that step has not run for the day."""
    path = layout.result_day(name, ds)
    return json.loads(path.read_text()) if path.is_file() else None


def archived_days(layout: Layout) -> list[str]:
    """Days with at least one archived result, oldest first."""
    return sorted(p.name[3:] for p in layout.results_archive.glob("ds=*"))


def write_plots(layout: Layout) -> None:
    """Rebuild the DVC plot data from the per-day archive (so re-running a day never duplicates a point).

    metrics/plots/auc.json       one row per day: candidate, production and LR AUC on that day
    metrics/plots/channels.json  the latest stability record: share per hour bucket and channel,
                                 this week's and (when there is one) the week-ago baseline's
    """
    days = archived_days(layout)
    auc = []
    for day in days:
        found = read(layout, "evaluate", day)
        if found:
            n = found["numbers"]
            auc.append({"ds": day, "candidate_auc": n.get("candidate_auc"),
                        "production_auc": n.get("production_auc"), "lr_auc": n.get("lr_auc")})  # fmt: skip
    atomic.write_text(layout.plots / "auc.json", json.dumps(auc, indent=1) + "\n")
    stability = next((s for d in reversed(days) if (s := read(layout, "stability", d))), None)
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
    atomic.write_text(layout.plots / "channels.json", json.dumps(rows, indent=1) + "\n")
