"""Whether shared state encoders serve as well as the paper's two (issue 15 item 2).

    python bench/encoder_seeds.py [--workspace DIR] [--sharing all|attention] [--seeds 7,8,9,10]
                                  [--days 2026-11-08,2026-11-15] [--runs OUT.jsonl ...] [--judge-only]

Why: HRL-Rec trains at ~0.41x AutoInt's impressions/s on the CPU (target 0.5x), and its two
state encoders alone, forward and backward, cost more than AutoInt's whole step
(docs/results.md, "Item 2 remeasured"). `model.encoder_sharing: all` runs one encoder over the
HRA's fields and gives both agents its states; `attention` computes the HRA's behaviour vectors
(field embedding and self-attention) once and feeds them to both agents' own GRUs. Either departs
from the paper (3.2 and 3.3 each have their own encoder), so it is a quality question before it
is a speed one: this bench answers the quality part on validation days, and bench/train.py
(`-S model.encoder_sharing=...`) the speed part.

What it does: for every training seed s and validation day D (its window landed, ingested,
validated and built once, in the world of params' `seed`), trains HRL-Rec twice with
`train.seed=s`, once per arm (`separate`, i.e. `none`, the control, whatever params' default; the `--sharing`
arm), and measures each
trained model as the pipeline would: the stability gate's record (its ranking of the day's
sample), the tracking error against the day's logged mix, the simulator's true clicks per list,
the state dependence (Spearman per channel) and the test-day AUC of the click head. One JSON line
per (seed, day) goes to `--runs` (default WORKSPACE/encoder-seeds.jsonl); units resume and are
judged as anchor_seeds' are (`--judge-only`: each code version's on their own). Training seconds
are recorded but not judged: workers may share the machine (bench/train.py measures speed).

The rule (fixed in docs/results.md before any run of this bench):
  - `separate` is the control; the shared arm is **eligible** when on every unit its true clicks per list
    are >= 1.05x the logs' and every channel's Spearman is >= 0.3, the lower end of the 95 %
    interval of its paired relative clicks difference is >= -1 %, that of its paired AUC difference
    >= -0.001, and the upper end of that of its paired tracking-error difference <= +1 point.
    Intervals: units resampled with replacement, 10,000 draws (hrlrec.evaluation.intervals.bootstrap_interval).
  - the week-over-week change between the two days is printed for the record only.
  - eligible is not chosen: the default stays `separate` until Tables 2 and 4 and the 14-day
    chains, measured on the paper's structure, are measured on the shared encoder too. (They were,
    for `attention`, which became the default on 2026-12-07: docs/results.md "Adopting attention".)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from hrlrec import config, metrics, pipeline, stability, train
from hrlrec.candidates import load_candidate
from hrlrec.evaluation.intervals import bootstrap_interval
from hrlrec.evaluation.truth import DayValue
from hrlrec.serving.memo import code_fingerprint
from hrlrec.serving.ranker import day_requests
from hrlrec.train.loop import predict
from hrlrec.workspace import Workspace

_spec = importlib.util.spec_from_file_location("anchor_seeds", Path(__file__).with_name("anchor_seeds.py"))
anchors = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(anchors)

CONTROL = "separate"
TREATMENTS = {"all": "shared", "attention": "shared attention"}  # --sharing: the arm's name in the units
MIN_CLICKS_RATIO, MIN_RHO, CLICKS_LOWER_FLOOR = 1.05, 0.3, -0.01
AUC_LOWER_FLOOR, TRACKING_UPPER_CEILING = -0.001, 0.01


def measure_arm(ws: Workspace, day: str) -> dict[str, Any]:
    """Train HRL-Rec under `ws`'s configuration and measure the candidate it writes."""
    result = train.run(ws, day, models=["hrlrec"], progress=False)
    candidate = load_candidate(ws, day)
    model, stream, spec = candidate.model, candidate.stream, candidate.spec
    g = ws.cfg.gates.stability
    sample, pool = day_requests(stream, ws.cfg.seed, g.max_requests, g.pool_per_channel)
    logged = stability.logged_proportions(ws, day)
    value = DayValue(ws, day, stream)
    logged_clicks = float(value.per_list(value.logged)[0].mean())
    record = stability.record_of(ws, day, model, spec, candidate.sha256, stream, sample, pool, "candidate")
    lists = value.lists_of(model, spec)
    clicks = value.per_list(lists)[0]
    scored = predict(model, stream, stream.lists("test"))
    trained = result.models["hrlrec"]
    return {
        "model_sha256": candidate.sha256,
        "proportions": record["proportions"],
        "logged_proportions": logged.tolist(),
        "tracking_error": float(np.mean(np.abs(np.array(record["proportions"]) / logged - 1))),
        "clicks_per_list": float(clicks.mean()),
        "clicks_ratio_to_logs": float(clicks.mean() / logged_clicks),
        "spearman": value.state_dependence(lists),
        "auc": metrics.auc(scored.labels, scored.probs),
        "train_seconds": trained["seconds"],
        "impressions_per_s": trained["impressions_per_s"],
    }


def run_units(
    root: Path, sharing: str, days: list[str], seeds: list[int], out: Path, done: set[tuple[int, str]]
) -> None:
    """Measure every (seed, day) not in `done`, both arms, appending each unit to `out` as it ends."""
    arms_of = {CONTROL: "model.encoder_sharing=none", TREATMENTS[sharing]: f"model.encoder_sharing={sharing}"}
    for day in days:
        pipeline.build_data(Workspace(root, config.load(None, [f"ds={day}"])), day)
    for seed in seeds:
        for day in days:
            if (seed, day) in done:
                continue
            t0 = time.perf_counter()
            arms = {
                arm: measure_arm(Workspace(root, config.load(None, [f"ds={day}", f"train.seed={seed}", o])), day)
                for arm, o in arms_of.items()
            }
            unit = {"seed": seed, "day": day, "code": code_fingerprint()[:16], "cpu": anchors.cpu(), "arms": arms,
                    "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip
            with out.open("a") as f:
                f.write(json.dumps(unit) + "\n")
            summary = {arm: (round(v["auc"], 4), round(v["clicks_per_list"], 4)) for arm, v in arms.items()}
            print(json.dumps({k: unit[k] for k in ("seed", "day", "seconds")} | summary), flush=True)


def treatment(records: list[dict[str, Any]]) -> str:
    """The arm the units compare with the control (one per runs file; units of two are refused)."""
    names = {arm for r in records for arm in r["arms"] if arm != CONTROL}
    if len(names) != 1:
        raise ValueError(f"units compare {sorted(names)} with {CONTROL!r}; judge one arm's units at a time")
    return names.pop()


def paired(records: list[dict[str, Any]], key: str, relative: bool = False) -> np.ndarray:
    """Per unit, `key` of the shared arm minus the control's (divided by the control's when `relative`)."""
    arm = treatment(records)
    out = []
    for r in records:
        mine, base = r["arms"][arm][key], r["arms"][CONTROL][key]
        out.append((mine - base) / base if relative else mine - base)
    return np.array(out)


def reasons(records: list[dict[str, Any]]) -> list[str]:
    """Why the shared arm is not eligible under the rule (empty when it is)."""
    why, arm = [], treatment(records)
    for r in records:
        a = r["arms"][arm]
        if a["clicks_ratio_to_logs"] < MIN_CLICKS_RATIO:
            why.append(f"seed {r['seed']} {r['day']}: clicks {a['clicks_ratio_to_logs']:.2f}x the logs")
        low = {c: v for c, v in a["spearman"].items() if v is None or v < MIN_RHO}
        if low:
            why.append(f"seed {r['seed']} {r['day']}: Spearman {low}")
    lower_clicks = bootstrap_interval(paired(records, "clicks_per_list", relative=True))[0]
    if lower_clicks < CLICKS_LOWER_FLOOR:
        why.append(f"clicks difference's interval reaches {lower_clicks:+.2%}")
    lower_auc = bootstrap_interval(paired(records, "auc"))[0]
    if lower_auc < AUC_LOWER_FLOOR:
        why.append(f"AUC difference's interval reaches {lower_auc:+.4f}")
    upper_tracking = bootstrap_interval(paired(records, "tracking_error"))[1]
    if upper_tracking > TRACKING_UPPER_CEILING:
        why.append(f"tracking-error difference's interval reaches {upper_tracking:+.2%}")
    return why


def judge(records: list[dict[str, Any]], min_share: float) -> str:
    """Print the comparison and return the shared arm when eligible, else `separate`."""
    records = sorted(records, key=lambda r: (r["seed"], r["day"]))
    print(f"\n{len(records)} units (seed, day): {sorted({r['seed'] for r in records})} x "
          f"{sorted({r['day'] for r in records})}")  # fmt: skip
    print("| arm | AUC | clicks / logs | tracking error | min rho | train s (not judged) "
          "| worst mean / max week change per seed |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    shared = treatment(records)
    for arm in (CONTROL, shared):
        mean = {k: np.mean([r["arms"][arm][k] for r in records])
                for k in ("auc", "clicks_ratio_to_logs", "tracking_error", "train_seconds")}  # fmt: skip
        rho = min((v for r in records for v in r["arms"][arm]["spearman"].values() if v is not None), default=np.nan)
        weeks = "; ".join(f"{m:.1%} / {x:.1%}" for m, x in anchors.week_changes(records, arm, min_share).values())
        print(f"| {arm} | {mean['auc']:.4f} | {mean['clicks_ratio_to_logs']:.2f}x | {mean['tracking_error']:.2%} "
              f"| {rho:.2f} | {mean['train_seconds']:.0f} | {weeks or 'n/a'} |")  # fmt: skip
    for key, fmt, relative in (("auc", "+.4f", False), ("clicks_per_list", "+.2%", True),
                               ("tracking_error", "+.2%", False)):  # fmt: skip
        diffs = paired(records, key, relative)
        lo, hi = bootstrap_interval(diffs)
        print(f"paired {key} difference ({shared} - separate), mean {diffs.mean():{fmt}} [{lo:{fmt}}, {hi:{fmt}}], "
              f"shared below in {int((diffs < 0).sum())} of {len(diffs)}")  # fmt: skip
    why = reasons(records)
    verdict = shared if not why else CONTROL
    print(f"\n{shared} eligible: {not why}{' (' + '; '.join(why) + ')' if why else ''}")
    return verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--days", default="2026-11-08,2026-11-15", help="validation days, a week apart")
    parser.add_argument("--sharing", choices=sorted(TREATMENTS), default="all", help="model.encoder_sharing's arm")
    parser.add_argument("--seeds", default="7,8,9,10")
    parser.add_argument("--runs", type=Path, action="append", default=[],
                        help="JSON lines of units; the first is written (default WORKSPACE/encoder-seeds.jsonl), "
                        "all are judged together")  # fmt: skip
    parser.add_argument("--judge-only", action="store_true",
                        help="judge the recorded units, each code version's on their own; train nothing")  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    root = (args.workspace or Path(tempfile.mkdtemp(prefix="hrlrec-encoder-"))).resolve()
    paths = args.runs or [root / "encoder-seeds.jsonl"]
    code, min_share = code_fingerprint()[:16], config.load(None).gates.stability.min_share
    if args.judge_only:
        anchors.judge_recorded(anchors.units(paths), min_share, judge)
        return
    root.mkdir(parents=True, exist_ok=True)
    done = {(u["seed"], u["day"]) for u in anchors.current(anchors.units(paths), code)}
    run_units(root, args.sharing, args.days.split(","), [int(s) for s in args.seeds.split(",")], paths[0], done)
    judge(anchors.current(anchors.units(paths), code), min_share)


if __name__ == "__main__":
    main()
