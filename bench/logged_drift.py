"""How much of a stability FAIL is the world's drift: the logged mix's week-over-week change beside the candidate's.

    python bench/logged_drift.py --workspace DIR 2026-11-24 2026-11-27 [-S key=value ...]

For each day D of a workspace the stability gate ran in (e.g. bench/policy.py's),
prints per channel the mean and max over hour buckets of |share / share a week
back - 1| for the **logged** lists (their first `list_len` positions, from the
ingested day) and for the **candidate** (its stability record of D against
production's record of D - 7, as the gate compares them). A candidate that moves
much more than the logs moved its own mix; one that moves like them follows
the world.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import numpy as np

from hrlrec import config, stability
from hrlrec.workspace import Workspace


def record(ws: Workspace, role: str, ds: str) -> np.ndarray:
    return np.array(json.loads(ws.layout.stability_record(role, ds).read_text())["proportions"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("days", nargs="+")
    parser.add_argument("-S", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    ws = Workspace(args.workspace, config.load(None, args.overrides))
    for ds in args.days:
        week_ago = (dt.date.fromisoformat(ds) - dt.timedelta(days=7)).isoformat()
        logs = np.abs(stability.logged_proportions(ws, ds) / stability.logged_proportions(ws, week_ago) - 1)
        cand = np.abs(record(ws, "candidate", ds) / record(ws, "production", week_ago) - 1)
        print(f"{ds} against {week_ago}: mean / max relative change over hour buckets")
        for i, c in enumerate(ws.cfg.channels):
            print(f"  {c:<12} logs {logs[:, i].mean():6.1%} / {logs[:, i].max():6.1%}   "
                  f"candidate {cand[:, i].mean():6.1%} / {cand[:, i].max():6.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
