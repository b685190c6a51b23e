"""The served policy over a simulated fortnight: AUC, true clicks, channel mix and stability, day by day.

    python bench/policy.py [--workspace DIR] [--start 2026-11-16] [--days 14] [--json OUT] [-S key=value ...]

Runs the pipeline's own steps for each day (land, ingest, validate, dataset,
train, evaluate, stability, export, then publish when the gates allow it, approving
WARNs as an on-call engineer would), retraining every day on the default
small profile and thresholds, and prints one row per day:

- the candidate's test-day AUC;
- the true expected clicks per list (simulator ground truth) of the
  candidate's, production's and the logging policy's lists for the day's
  ranked sample, and the candidate / logging ratio;
- the candidate's channel mix and its worst state-dependence Spearman;
- the stability verdict against production's record a week back, with the
  worst channel's mean and max relative change.

Then the second week's summary against the targets of the policy issue.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from hrlrec import config, pipeline, publish, results
from hrlrec.errors import Rejected
from hrlrec.layout import days_from
from hrlrec.workspace import Workspace

TARGETS = {"pass_days": 6, "mean_change": 0.10, "max_change": 0.25, "clicks_ratio": 1.05, "spearman": 0.3}


def day_row(ws: Workspace, ds: str, published: bool, seconds: float) -> dict[str, Any]:
    """What one day's results files say, flattened for the table and the JSON."""
    ev = results.read(ws.layout, "evaluate", ds) or {}
    st = results.read(ws.layout, "stability", ds) or {}
    value = ev.get("numbers", {}).get("policy_value", {})
    row: dict[str, Any] = {
        "ds": ds,
        "auc": ev.get("numbers", {}).get("candidate_auc"),
        "auc_verdict": ev.get("verdict"),
        "stability_verdict": st.get("verdict"),
        "stability_reason": st.get("reason"),
        "baseline_ds": st.get("numbers", {}).get("baseline_ds"),
        "published": published,
        "seconds": seconds,
    }
    for name in ("candidate", "production", "logging_policy"):
        entry = value.get(name)
        row[f"clicks_{name}"] = entry["clicks_per_list"] if entry else None
        row[f"reward_{name}"] = entry["reward_per_list"]["mean"] if entry else None
    cand = value.get("candidate") or {}
    row["clicks_ratio"] = cand.get("clicks_ratio_to_logging")
    row["mix"] = cand.get("channel_mix")
    row["logging_mix"] = (value.get("logging_policy") or {}).get("channel_mix")
    row["spearman"] = cand.get("state_dependence")
    changes = st.get("numbers", {}).get("relative_change") or {}
    means = {c: v["mean"] for c, v in changes.items() if v.get("mean") is not None}
    maxes = {c: v["max"] for c, v in changes.items() if v.get("max") is not None}
    row["mean_change"] = max(means.values()) if means else None
    row["mean_change_channel"] = max(means, key=means.get) if means else None
    row["max_change"] = max(maxes.values()) if maxes else None
    row["max_change_channel"] = max(maxes, key=maxes.get) if maxes else None
    # the noise floor of those two worst changes (None: records without standard errors)
    row["mean_change_floor"] = changes[row["mean_change_channel"]].get("floor_mean") if means else None
    row["max_change_floor"] = changes[row["max_change_channel"]].get("floor_max") if maxes else None
    return row


def _fmt(x: float | None, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def print_row(r: dict[str, Any]) -> None:
    clicks = {n: (r[f"clicks_{n}"] or {}).get("mean") for n in ("candidate", "production", "logging_policy")}
    mix = " / ".join(f"{v:.0%}" for v in (r["mix"] or {}).values())
    rho = min((v for v in (r["spearman"] or {}).values() if v is not None), default=None)
    change = (
        f"{_fmt(r['mean_change'], '.1%')} ({r['mean_change_channel']}, floor {_fmt(r['mean_change_floor'], '.1%')})"
        f" / {_fmt(r['max_change'], '.1%')} ({r['max_change_channel']}, floor {_fmt(r['max_change_floor'], '.1%')})"
        if r["mean_change"] is not None
        else "no baseline"
    )
    print(
        f"| {r['ds']} | {_fmt(r['auc'], '.4f')} | {_fmt(clicks['candidate'], '.3f')} | "
        f"{_fmt(clicks['production'], '.3f')} | {_fmt(clicks['logging_policy'], '.3f')} | "
        f"{_fmt(r['clicks_ratio'], '.2f')}x | {mix} | {_fmt(rho, '.2f')} | {r['stability_verdict']} | {change} | "
        f"{'yes' if r['published'] else 'no'} | {r['seconds']:.0f} |",
        flush=True,
    )


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The second week against the targets."""
    week2 = rows[7:14]
    compared = [r for r in week2 if r["mean_change"] is not None]
    rhos = [v for r in rows for v in (r["spearman"] or {}).values() if v is not None]
    ratios = [r["clicks_ratio"] for r in rows if r["clicks_ratio"] is not None]
    return {
        "week2_days": len(week2),
        "week2_compared": len(compared),
        "week2_pass": sum(r["stability_verdict"] == "PASS" for r in week2),
        "week2_pass_or_warn": sum(r["stability_verdict"] in ("PASS", "WARN") for r in week2),
        "week2_worst_mean_change": max((r["mean_change"] for r in compared), default=None),
        "week2_worst_max_change": max((r["max_change"] for r in compared), default=None),
        "min_clicks_ratio": min(ratios, default=None),
        "min_spearman": min(rhos, default=None),
        "targets": TARGETS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--start", default="2026-11-16")
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--json", type=Path, default=None, help="write every row and the summary here")
    parser.add_argument("-S", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    root = (args.workspace or Path(tempfile.mkdtemp(prefix="hrlrec-policy-"))).resolve()
    ws = Workspace(root, config.load(None, args.overrides))
    steps = ["land", "ingest", "validate", "dataset", "train", "evaluate", "stability", "export"]
    print(f"# Served policy over {args.days} days from {args.start} (workspace {root})\n")
    print(
        "| day | AUC | clicks/list cand | prod | logs | cand/logs | mix news/article/long/short | min rho | "
        "stability | mean / max change (worst, noise floor) | published | s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for ds in days_from(args.start, args.days):
        t0 = time.perf_counter()
        for step in steps:
            pipeline.run(step, ws, ds)
        try:
            publish.run(ws, ds, approve_warn=True, reason="bench/policy.py", approved_by="bench")
            published = True
        except Rejected:
            published = False
        row = day_row(ws, ds, published, time.perf_counter() - t0)
        rows.append(row)
        print_row(row)
        if args.json:
            args.json.write_text(json.dumps({"rows": rows, "summary": summary(rows)}, indent=2) + "\n")
    print("\n" + json.dumps(summary(rows), indent=2))


if __name__ == "__main__":
    main()
