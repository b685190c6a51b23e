"""Choose the served policy's settings on validation days: alpha and the mix anchor, never on a reported day.

    python bench/tune_policy.py [--workspace DIR] [--days 2026-11-08,2026-11-15]
                                [--setting NAME=KEY=VALUE[,KEY=VALUE]...] [--json OUT]

For every setting (default: alpha 0.3, 1 and 3 with the logged-mix anchor, and
alpha 1 with a free mix) and every validation day, trains HRL-Rec and LR with
those overrides, then runs the AUC gate (AUC and the true value of the lists)
and the stability gate's ranking; the first and last days should be a week
apart, so the candidate's channel proportions can be compared week over week
as the gate would. Prints one row per setting: AUC per day, candidate / logs
clicks per day, the worst channel's mean and max relative change between the
two records, the smallest state-dependence Spearman, and the tracking error per
day (mean over hour buckets and channels of |candidate share / the same day's
logged share - 1|: what the model adds to the world's own mix change). Days must lie before
any day that results are reported for (bench/policy.py starts 2026-11-16).

A setting under another training seed, same world and landed days:

    --setting "alpha 0.3, seed 8=model.policy_temperature=0.3,train.seed=8"

docs/results.md "Choosing alpha" has the rule the default was chosen by.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from hrlrec import config, pipeline, results, stability
from hrlrec.workspace import Workspace

SETTINGS = {
    "alpha 0.3, logged mix": ["model.policy_temperature=0.3"],
    "alpha 1, logged mix": ["model.policy_temperature=1.0"],
    "alpha 3, logged mix": ["model.policy_temperature=3.0"],
    "alpha 1, free mix": ["model.policy_temperature=1.0", "model.channel_mix=free"],
}


def run_setting(root: Path, days: list[str], overrides: list[str]) -> dict[str, Any]:
    ws = Workspace(root, config.load(None, overrides))
    out: dict[str, Any] = {"days": {}}
    records = {}
    for ds in days:
        for step in ("land", "ingest", "validate", "dataset", "train", "evaluate"):
            pipeline.run(step, ws, ds)
        ev = results.read(ws.layout, "evaluate", ds) or {}
        value = ev["numbers"]["policy_value"]
        records[ds] = stability.build_record(ws, ds)
        served, logged = np.array(records[ds]["proportions"]), stability.logged_proportions(ws, ds)
        out["days"][ds] = {
            "proportions": served.tolist(),
            "logged_proportions": logged.tolist(),
            "tracking_error": float(np.mean(np.abs(served / logged - 1))),
            "auc": ev["numbers"]["candidate_auc"],
            "clicks_ratio": value["candidate"]["clicks_ratio_to_logging"],
            "mix": value["candidate"]["channel_mix"],
            "spearman": value["candidate"]["state_dependence"],
        }
    first, last = records[days[0]], records[days[-1]]
    change = stability.relative_changes(
        np.array(last["proportions"]), np.array(first["proportions"]), ws.cfg.gates.stability.min_share
    )
    out["mean_change"] = {c: float(np.nanmean(change[:, i])) for i, c in enumerate(first["channels"])}
    out["max_change"] = {c: float(np.nanmax(change[:, i])) for i, c in enumerate(first["channels"])}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--days", default="2026-11-08,2026-11-15")
    parser.add_argument("--setting", action="append", default=[], help="NAME=key=value[,key=value] (repeatable)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    root = (args.workspace or Path(tempfile.mkdtemp(prefix="hrlrec-tune-"))).resolve()
    days = args.days.split(",")
    settings = dict(SETTINGS)
    if args.setting:
        settings = {}
        for s in args.setting:
            name, _, rest = s.partition("=")
            settings[name] = rest.split(",")
    print(f"# Served policy settings on validation days {', '.join(days)} (workspace {root})\n")
    print("| setting | AUC per day | cand / logs clicks per day | worst mean change | worst max change | min rho "
          "| tracking error per day |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    found = {}
    for name, overrides in settings.items():
        r = run_setting(root, days, overrides)
        found[name] = r
        per_day = r["days"].values()
        worst_mean = max(r["mean_change"].items(), key=lambda kv: kv[1])
        worst_max = max(r["max_change"].items(), key=lambda kv: kv[1])
        rho = min(v for d in per_day for v in d["spearman"].values() if v is not None)
        aucs = " / ".join(format(d["auc"], ".4f") for d in per_day)
        ratios = " / ".join(format(d["clicks_ratio"], ".2f") + "x" for d in per_day)
        tracking = " / ".join(format(d["tracking_error"], ".1%") for d in per_day)
        print(
            f"| {name} | {aucs} | {ratios} | {worst_mean[1]:.1%} ({worst_mean[0]}) | "
            f"{worst_max[1]:.1%} ({worst_max[0]}) | {rho:.2f} | {tracking} |",
            flush=True,
        )
        if args.json:
            args.json.write_text(json.dumps(found, indent=2) + "\n")


if __name__ == "__main__":
    main()
