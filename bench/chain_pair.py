"""Two 14-day chains of bench/policy.py, paired day by day: what a setting changed in the served lists.

    python bench/chain_pair.py NEW.json OLD.json

Why: a setting that changes training (for example `model.encoder_sharing`) is adopted only after
its 14-day chain is compared with the default's on the same simulated world and days
(docs/results.md). Both chains see the same logs each day, so the day-by-day difference removes
the days' own swings; one chain's figures alone cannot say whether the setting moved them.

Prints each chain's second week against the policy issue's targets (bench/policy.py's summary),
then, as mean and 95 % t-interval of the per-day differences (NEW - OLD):

- week 2 (the days both chains have a stability baseline for): the worst channel's mean and max
  relative change, in points;
- all days: true clicks per list of the candidate's lists, relative (NEW / OLD - 1), and the
  candidate's test-day AUC.

An interval that holds 0 is "no difference". The days are not independent draws (each day's model
is retrained on a window that overlaps the last), so the interval is a guide, not a test.
Nothing is trained: it reads the two chains' JSON (`bench/policy.py --json`).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
from pathlib import Path
from typing import Any

from hrlrec.evaluation.intervals import t_interval

_spec = importlib.util.spec_from_file_location("policy", Path(__file__).with_name("policy.py"))
policy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(policy)

WEEK = 7  # bench/policy.py's first week: no stability baseline a week back yet


def load_rows(path: Path) -> list[dict[str, Any]]:
    """The day rows of one chain's JSON, with a clear error when it is not one."""
    try:
        body = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"{path}: not a readable chain JSON ({exc})") from exc
    rows = body.get("rows") if isinstance(body, dict) else None
    if not rows:
        raise SystemExit(f"{path}: no 'rows' (write it with `bench/policy.py --json`)")
    return rows


def clicks(row: dict[str, Any]) -> float | None:
    """True clicks per list of the candidate's lists (older JSONs kept a bare number)."""
    value = row.get("clicks_candidate")
    return value.get("mean") if isinstance(value, dict) else value


def paired(new: list[dict[str, Any]], old: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per-day differences NEW - OLD and their t-intervals; the chains must cover the same days."""
    days_new, days_old = [r["ds"] for r in new], [r["ds"] for r in old]
    if days_new != days_old:
        raise ValueError(f"the chains cover different days: {days_new[0]}..{days_new[-1]} ({len(days_new)}) "
                         f"and {days_old[0]}..{days_old[-1]} ({len(days_old)})")  # fmt: skip
    week2 = [(a, b) for a, b in zip(new[WEEK:], old[WEEK:], strict=True)
             if a["mean_change"] is not None and b["mean_change"] is not None]  # fmt: skip
    both = [(a, b) for a, b in zip(new, old, strict=True) if clicks(a) is not None and clicks(b) is not None]
    scored = [(a, b) for a, b in zip(new, old, strict=True) if a["auc"] is not None and b["auc"] is not None]
    diffs = {
        "week2_worst_mean_change_points": [100 * (a["mean_change"] - b["mean_change"]) for a, b in week2],
        "week2_worst_max_change_points": [100 * (a["max_change"] - b["max_change"]) for a, b in week2],
        "clicks_per_list_percent": [100 * (clicks(a) / clicks(b) - 1) for a, b in both],
        "auc": [a["auc"] - b["auc"] for a, b in scored],
    }
    out = {}
    for key, values in diffs.items():
        if not values:
            out[key] = {"days": 0, "mean": None, "low": None, "high": None, "new_below": 0}
            continue
        mean, low, high = t_interval(values)
        out[key] = {"days": len(values), "mean": mean, "low": low, "high": high,
                    "new_below": sum(v < 0 for v in values)}  # fmt: skip
    return out


def describe(key: str, entry: dict[str, Any]) -> str:
    """One line: mean [low, high], and whether the interval holds 0."""
    if not entry["days"]:
        return f"{key}: no paired days"
    digits = 4 if key == "auc" else 2
    lo, hi = entry["low"], entry["high"]
    span = "no interval (one day)" if math.isnan(lo) else f"[{lo:+.{digits}f}, {hi:+.{digits}f}]"
    verdict = "no difference" if math.isnan(lo) or lo <= 0 <= hi else ("higher" if lo > 0 else "lower")
    return (f"{key}: {entry['mean']:+.{digits}f} {span} over {entry['days']} days, NEW below on "
            f"{entry['new_below']}: {verdict}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("new", type=Path)
    parser.add_argument("old", type=Path)
    args = parser.parse_args()
    new, old = load_rows(args.new), load_rows(args.old)
    for name, rows, path in (("NEW", new, args.new), ("OLD", old, args.old)):
        week = policy.summary(rows)  # the week-2 figures bench/policy.py judges against the targets
        aucs = [r["auc"] for r in rows if r["auc"] is not None]
        worst_mean, worst_max = week["week2_worst_mean_change"], week["week2_worst_max_change"]
        print(f"{name} {path.name}: week 2 PASS on {week['week2_pass']} of {week['week2_days']}, worst mean change "
              f"{math.nan if worst_mean is None else worst_mean:.1%}, "
              f"worst max {math.nan if worst_max is None else worst_max:.1%}, "
              f"mean AUC {sum(aucs) / max(len(aucs), 1):.4f}")  # fmt: skip
    try:
        result = paired(new, old)
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    for key, entry in result.items():
        print(describe(key, entry))


if __name__ == "__main__":
    main()
