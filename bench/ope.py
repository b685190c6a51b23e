"""Off-policy estimates against the simulator's truth, day by day, for a workspace's candidates.

    python bench/ope.py --workspace DIR --days 2026-11-27,2026-11-28 [-S key=value ...]

For each day: the candidate's served policy with item exploration
`gates.ope.epsilon` is replayed over the day's logged lists (`gates.ope.max_requests`
of them) to estimate its clicks per list by IPS, SNIPS and DR from the logged
propensities, and the same policy's lists for the same requests are scored by
the simulator (`evaluation.truth`). Prints one row per day and estimator:
estimate, 95 % interval, whether the truth lies inside, ESS, overlap, and the
"inconclusive" reason. Reads the workspace; writes nothing into it.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from hrlrec import candidates, config
from hrlrec.evaluation import offpolicy
from hrlrec.evaluation import truth as policy_value
from hrlrec.workspace import Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--days", required=True, help="comma-separated days with a trained candidate")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("-S", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    base = config.load(args.workspace / "params.yaml" if (args.workspace / "params.yaml").is_file() else None,
                       args.overrides)  # fmt: skip
    g = base.gates.ope
    # The truth scores the same policy (same exploration) on the same sampled requests.
    same = [*args.overrides, f"serving.epsilon={g.epsilon}", f"gates.stability.max_requests={g.max_requests}"]
    cfg = config.load(args.workspace / "params.yaml" if (args.workspace / "params.yaml").is_file() else None, same)
    ws = Workspace(args.workspace.resolve(), cfg)
    print(f"# OPE vs truth: policy {cfg.serving.channel_choice}, epsilon {g.epsilon}, {g.max_requests} lists, "
          f"clip {g.clip}\n")  # fmt: skip
    print("| day | estimator | estimate [95 %] | truth | inside | ESS | overlap | logged | inconclusive |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for ds in args.days.split(","):
        cand = candidates.load_candidate(ws, ds)
        models = {"candidate": (cand.model, cand.spec)}
        sidecar = None
        if offpolicy.logged_propensities(ws, ds, cand.stream, cand.stream.lists("test")[:1], cfg.list_len) is None:
            sidecar = ws.layout.truth_day(ds)  # landed before the contract had the column: the simulator's copy
            print(f"(propensities of {ds} from the simulator's sidecar {sidecar})")
        est = offpolicy.measure(ws, ds, cand.stream, models, propensities=sidecar)
        true = policy_value.measure(ws, ds, cand.stream, models)
        if not est.get("measured") or not true.get("measured"):
            print(f"| {ds} | - | {est.get('reason') or true.get('reason')} | | | | | | |")
            continue
        truth = true["candidate"]["clicks_per_list"]["mean"]
        logged = est["logging_policy"]["clicks_per_list"]["mean"]
        for name in ("ips", "snips", "dr"):
            e = est["candidate"][name]
            inside = e["low"] <= truth <= e["high"]
            print(f"| {ds} | {name} | {e['value']:.4f} [{e['low']:.4f}, {e['high']:.4f}] | {truth:.4f} | "
                  f"{'yes' if inside else 'no'} | {e['ess']:.1f} | {e['overlap']:.1%} | {logged:.4f} | "
                  f"{e['inconclusive'] or ''} |", flush=True)  # fmt: skip
            rows.append({"ds": ds, "estimator": name, **e, "truth": truth, "inside": inside, "logged": logged})
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
