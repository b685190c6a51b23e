"""Off-policy estimates against the simulator's truth, day by day, for a workspace's candidates.

    python bench/ope.py --workspace DIR --days 2026-11-27,2026-11-28 [-S key=value ...]

For each day D: the served policies (item exploration `gates.ope.epsilon`) of
D's candidate and of "production" (the candidate of the day before D, what a
daily pipeline has in production when every day publishes) are replayed over
D's logged lists (`gates.ope.max_requests` of them) to estimate their clicks per
list by IPS, SNIPS, DR and the direct method alone (DR's model term) from the
logged propensities, and the same policies' lists for the same requests are
scored by the simulator (`evaluation.truth`). Prints one row per day, policy
and estimator: estimate, 95 % interval, whether the truth lies inside, ESS,
overlap and the "inconclusive" reason; then candidate minus production, DR vs
the true paired difference. Reads the workspace; writes nothing into it.

`--untrained-candidate` replaces each day's candidate by freshly initialised
weights of the same card (seeded): a candidate known to be far worse, to see
that the off-policy check (`evaluate.ope_check`) FAILs it; its verdict is printed
per day.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
from pathlib import Path

import torch

from hrlrec import candidates, config, evaluate
from hrlrec.evaluation import offpolicy
from hrlrec.evaluation import truth as policy_value
from hrlrec.models import factory
from hrlrec.train.step import features_of
from hrlrec.workspace import Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--days", required=True, help="comma-separated days with a trained candidate")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--untrained-candidate", action="store_true", help="the candidate: fresh, untrained weights")
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
    print(f"(DR's interval with the reward model's measured error: value +-{g.value_margin:.0%}, difference "
          f"+-{g.difference_margin} clicks per list, applied where the estimate is inconclusive)\n")  # fmt: skip
    print("| day | policy | estimator | estimate [95 %] | truth | inside | with model margin | inside | ESS | overlap "
          "| inconclusive |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    rows, diffs = [], []
    for ds in args.days.split(","):
        cand = candidates.load_candidate(ws, ds)
        models = {"candidate": (cand.model, cand.spec)}
        if args.untrained_candidate:
            torch.manual_seed(cfg.seed)
            fresh = factory.build("hrlrec", cand.spec, features_of(cand.stream)).eval()
            models["candidate"] = (fresh, cand.spec)
        before = (dt.date.fromisoformat(ds) - dt.timedelta(days=1)).isoformat()
        if ws.layout.candidate_weights(before, "hrlrec").is_file():
            prod = candidates.load_for(ws.layout.candidate_weights(before, "hrlrec"), cand.stream)
            models["production"] = (prod.model, prod.spec)
        sidecar = None
        if offpolicy.logged_propensities(ws, ds, cand.stream, cand.stream.lists("test")[:1], cfg.list_len) is None:
            sidecar = ws.layout.truth_day(ds)  # landed before the contract had the column: the simulator's copy
            print(f"(propensities of {ds} from the simulator's sidecar {sidecar})")
        est = offpolicy.measure(ws, ds, cand.stream, models, propensities=sidecar)
        true = policy_value.measure(ws, ds, cand.stream, models)
        if not est.get("measured") or not true.get("measured"):
            print(f"| {ds} | - | - | {est.get('reason') or true.get('reason')} | | | | | | | |")
            continue
        losses = ", ".join(f"{n} {v:.4f}" for n, v in est["reward_model_log_loss"].items())
        print(f"| {ds} | reward model | {est['reward_model_judge']} | log-loss {losses} | | | | | | | |")
        logged = true["logging_policy"]["clicks_per_list"]["mean"]
        print(f"| {ds} | logging | observed | {est['logging_policy']['clicks_per_list']['mean']:.4f} | {logged:.4f} "
              f"| | | | | | |")  # fmt: skip
        for policy in models:
            truth = true[policy]["clicks_per_list"]["mean"]
            dm = est[policy]["direct_method"]
            for name in ("ips", "snips", "dr", "dm"):
                e = est[policy][name] if name != "dm" else {
                    "value": dm["mean"], "low": dm["low"], "high": dm["high"], "ess": float("nan"),
                    "overlap": float("nan"), "inconclusive": None}  # fmt: skip
                inside = e["low"] <= truth <= e["high"]
                widened, inside_widened = "", None
                if "high_with_margin" in e:
                    inside_widened = e["low_with_margin"] <= truth <= e["high_with_margin"]
                    widened = f"[{e['low_with_margin']:.4f}, {e['high_with_margin']:.4f}]"
                print(f"| {ds} | {policy} | {name} | {e['value']:.4f} [{e['low']:.4f}, {e['high']:.4f}] | "
                      f"{truth:.4f} | {'yes' if inside else 'no'} | {widened} | "
                      f"{'' if inside_widened is None else 'yes' if inside_widened else 'no'} | {e['ess']:.1f} | "
                      f"{e['overlap']:.1%} | {e['inconclusive'] or ''} |", flush=True)  # fmt: skip
                rows.append({"ds": ds, "policy": policy, "estimator": name, **e, "truth": truth, "inside": inside,
                             "inside_with_margin": inside_widened, "logged": logged})  # fmt: skip
        if "candidate_minus_production" in est:
            d = est["candidate_minus_production"]
            td = true["candidate"]["clicks_per_list"]["mean"] - true["production"]["clicks_per_list"]["mean"]
            check = evaluate.ope_check(est, cfg.gates.ope)
            print(f"| {ds} | off-policy check | {check.level} | {check.reason} | | | | | | | |", flush=True)
            diffs.append({"ds": ds, **d, "truth": td, "inside": d["low"] <= td <= d["high"], "check": check.level,
                          "inside_with_margin": d["low_with_margin"] <= td <= d["high_with_margin"]
                          if "high_with_margin" in d else None})  # fmt: skip
    if diffs:
        print("\n| day | candidate - production, DR [95 %] | truth | inside | with model margin | inside | check |")
        print("|---|---|---|---|---|---|---|")
        for d in diffs:
            widened = f"[{d['low_with_margin']:+.4f}, {d['high_with_margin']:+.4f}]" if "high_with_margin" in d else ""
            verdict = "" if d["inside_with_margin"] is None else "yes" if d["inside_with_margin"] else "no"
            print(f"| {d['ds']} | {d['value']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}] | {d['truth']:+.4f} | "
                  f"{'yes' if d['inside'] else 'no'} | {widened} | {verdict} | {d['check']} |")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"estimates": rows, "differences": diffs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
