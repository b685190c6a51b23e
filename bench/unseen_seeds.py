"""Whether filling the context ids training never read keeps the served mix on the logs' (issue 11).

    python bench/unseen_seeds.py [--workspace DIR] [--seeds 7,8,9,10] [--days 2026-11-08,2026-11-15]
                                 [--runs OUT.jsonl ...] [--judge-only]

Why: the small profile's 3-day window never holds the test day's weekday, so the weekday rows the
served policy reads on the test day keep the training seed's random initialisation
(hrlrec.train.unseen_context). This bench measures the two settings of `model.unseen_context` on
the same trained model: `keep` (the rows as trained) and `mean` (those rows set to the mean of the
trained ones, then the mix offsets refitted as training does). Each (training seed, validation day)
unit trains HRL-Rec once with the defaults and `model.unseen_context=keep` (the default when the rule
was written), and the `mean` arm is that model filled. Measured per arm on the same requests: the
stability gate's record, the tracking error against the day's logged mix, true clicks per list,
Spearman per channel and the test-day AUC.
Units resume and are judged as anchor_seeds' are (`--judge-only`: each code version's on their own).

The rule (fixed in docs/results.md before any run of this bench):
  - `keep` is the control; `mean` is **eligible** when on every unit its true clicks per list are
    >= 1.05x the logs' and every channel's Spearman is >= 0.3, the lower end of the 95 % interval of
    its paired relative clicks difference is >= -1 %, and that of its paired AUC difference >= -0.001;
  - it **tracks better** when the upper end of the 95 % interval of its mean paired tracking-error
    difference is below zero; chosen when eligible and tracking better, else `keep` stays.
    Intervals: units resampled with replacement, 10,000 draws (anchor_seeds.interval).
  - the week-over-week change between the two days is printed for the record only.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hrlrec import config, metrics, pipeline, stability, train
from hrlrec.candidates import load_candidate
from hrlrec.evaluation.intervals import bootstrap_interval
from hrlrec.evaluation.truth import DayValue
from hrlrec.serving.memo import code_fingerprint
from hrlrec.serving.ranker import day_requests
from hrlrec.train import channel_mix, unseen_context
from hrlrec.train.loop import predict
from hrlrec.workspace import Workspace

_spec = importlib.util.spec_from_file_location("anchor_seeds", Path(__file__).with_name("anchor_seeds.py"))
anchors = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(anchors)

CONTROL, FILLED = "keep", "mean"
MIN_CLICKS_RATIO, MIN_RHO, CLICKS_LOWER_FLOOR = 1.05, 0.3, -0.01
AUC_LOWER_FLOOR = -0.001


def filled(model: torch.nn.Module, stream: Any, cfg: Any) -> torch.nn.Module:
    """A copy of `model` as training makes it under `unseen_context: mean`: filled, then offsets refitted."""
    arm = copy.deepcopy(model)
    unseen_context.fill_unseen_context(arm, stream)
    m = cfg.model
    lists = channel_mix.calibration_lists(stream, m.channel_mix_hours, cfg.training_seed, m.channel_mix_fit)
    channel_mix.calibrate(arm, stream, lists, m.channel_mix_hours)
    return arm


def measure_unit(ws: Workspace, day: str, seed: int) -> dict[str, Any]:
    """Train once under `seed` (params' `keep`), fill a copy, and measure both on the same requests."""
    if ws.cfg.model.unseen_context != CONTROL:
        raise RuntimeError(f"params train unseen_context={ws.cfg.model.unseen_context}; this bench's control is keep")
    t0 = time.perf_counter()
    train.run(ws, day, models=["hrlrec"], progress=False)
    candidate = load_candidate(ws, day)
    stream, spec = candidate.stream, candidate.spec
    g = ws.cfg.gates.stability
    sample, pool = day_requests(stream, ws.cfg.seed, g.max_requests, g.pool_per_channel)
    logged = stability.logged_proportions(ws, day)
    value = DayValue(ws, day, stream)
    logged_clicks = float(value.per_list(value.logged)[0].mean())
    arms: dict[str, Any] = {}
    for name, model in ((CONTROL, candidate.model), (FILLED, filled(candidate.model, stream, ws.cfg))):
        record = stability.record_of(ws, day, model, spec, candidate.sha256, stream, sample, pool, "candidate")
        served = np.array(record["proportions"])
        lists = value.lists_of(model, spec)
        clicks = value.per_list(lists)[0]
        scored = predict(model, stream, stream.lists("test"))
        arms[name] = {
            "proportions": record["proportions"],
            "tracking_error": float(np.mean(np.abs(served / logged - 1))),
            "clicks_per_list": float(clicks.mean()),
            "clicks_ratio_to_logs": float(clicks.mean() / logged_clicks),
            "spearman": value.state_dependence(lists),
            "auc": metrics.auc(scored.labels, scored.probs),
        }
    return {"seed": seed, "day": day, "code": code_fingerprint()[:16], "cpu": anchors.cpu(),
            "model_sha256": candidate.sha256, "logged_proportions": logged.tolist(),
            "logged_clicks_per_list": logged_clicks, "arms": arms,
            "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip


def run_units(root: Path, days: list[str], seeds: list[int], out: Path, done: set[tuple[int, str]]) -> None:
    """Measure every (seed, day) not in `done`, appending each unit to `out` as it ends (seed by seed)."""
    for day in days:
        ws = Workspace(root, config.load(None, [f"ds={day}"]))
        pipeline.build_data(ws, day)
    for seed in seeds:
        for day in days:
            if (seed, day) in done:
                continue
            overrides = [f"ds={day}", f"train.seed={seed}", f"model.unseen_context={CONTROL}"]
            unit = measure_unit(Workspace(root, config.load(None, overrides)), day, seed)
            with out.open("a") as f:
                f.write(json.dumps(unit) + "\n")
            summary = {arm: (round(v["tracking_error"], 4), round(v["auc"], 4)) for arm, v in unit["arms"].items()}
            print(json.dumps({k: unit[k] for k in ("seed", "day", "seconds")} | summary), flush=True)


def paired(records: list[dict[str, Any]], key: str, relative: bool = False) -> np.ndarray:
    """Per unit, `key` of the filled arm minus the control's (divided by the control's when `relative`)."""
    out = []
    for r in records:
        mine, base = r["arms"][FILLED][key], r["arms"][CONTROL][key]
        out.append((mine - base) / base if relative else mine - base)
    return np.array(out)


def judge(records: list[dict[str, Any]], min_share: float) -> str:
    """Print the comparison and return the chosen setting."""
    records = sorted(records, key=lambda r: (r["seed"], r["day"]))
    print(f"\n{len(records)} units (seed, day): {sorted({r['seed'] for r in records})} x "
          f"{sorted({r['day'] for r in records})}")  # fmt: skip
    why = []
    for r in records:
        a = r["arms"][FILLED]
        if a["clicks_ratio_to_logs"] < MIN_CLICKS_RATIO:
            why.append(f"seed {r['seed']} {r['day']}: clicks {a['clicks_ratio_to_logs']:.2f}x the logs")
        low = {c: v for c, v in a["spearman"].items() if v is None or v < MIN_RHO}
        if low:
            why.append(f"seed {r['seed']} {r['day']}: Spearman {low}")
    keys = ("tracking_error", "clicks_per_list", "auc")
    diffs = {k: paired(records, k, relative=(k == "clicks_per_list")) for k in keys}
    ci = {k: bootstrap_interval(v) for k, v in diffs.items()}
    if ci["clicks_per_list"][0] < CLICKS_LOWER_FLOOR:
        why.append(f"clicks difference's interval reaches {ci['clicks_per_list'][0]:+.2%}")
    if ci["auc"][0] < AUC_LOWER_FLOOR:
        why.append(f"AUC difference's interval reaches {ci['auc'][0]:+.4f}")
    print("| setting | tracking error | clicks / logs | min rho | AUC | worst mean / max week change per seed |")
    print("|---|---|---|---|---|---|")
    for arm in (CONTROL, FILLED):
        tracking = np.mean([r["arms"][arm]["tracking_error"] for r in records])
        ratio = np.mean([r["arms"][arm]["clicks_ratio_to_logs"] for r in records])
        rho = min(v for r in records for v in r["arms"][arm]["spearman"].values() if v is not None)
        auc = np.mean([r["arms"][arm]["auc"] for r in records])
        weeks = "; ".join(f"{m:.1%} / {x:.1%}" for m, x in anchors.week_changes(records, arm, min_share).values())
        print(f"| {arm} | {tracking:.2%} | {ratio:.2f}x | {rho:.2f} | {auc:.4f} | {weeks or 'n/a'} |")
    for k, fmt in (("tracking_error", "+.2%"), ("clicks_per_list", "+.2%"), ("auc", "+.4f")):
        lo, hi = ci[k]
        print(f"paired {k} difference, mean {diffs[k].mean():{fmt}} [{lo:{fmt}}, {hi:{fmt}}]")
    better = ci["tracking_error"][1] < 0
    chosen = FILLED if better and not why else CONTROL
    print(f"tracks better: {better}; eligible: {not why}{' (' + '; '.join(why) + ')' if why else ''}")
    print(f"\nchosen: unseen_context {chosen}")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--days", default="2026-11-08,2026-11-15", help="validation days, a week apart")
    parser.add_argument("--seeds", default="7,8,9,10")
    parser.add_argument(
        "--runs",
        type=Path,
        action="append",
        default=[],
        help="JSON lines of units; the first is written (default WORKSPACE/unseen-seeds.jsonl)",
    )
    parser.add_argument("--judge-only", action="store_true",
                        help="judge the recorded units, each code version's on their own; train nothing")  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    root = (args.workspace or Path(tempfile.mkdtemp(prefix="hrlrec-unseen-"))).resolve()
    paths = args.runs or [root / "unseen-seeds.jsonl"]
    code, min_share = code_fingerprint()[:16], config.load(None).gates.stability.min_share
    if args.judge_only:
        anchors.judge_recorded(anchors.units(paths), min_share, judge)
        return
    root.mkdir(parents=True, exist_ok=True)
    done = {(u["seed"], u["day"]) for u in anchors.current(anchors.units(paths), code)}
    run_units(root, args.days.split(","), [int(s) for s in args.seeds.split(",")], paths[0], done)
    judge(anchors.current(anchors.units(paths), code), min_share)


if __name__ == "__main__":
    main()
