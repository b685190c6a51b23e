"""Choose LR's Adam step (`train.lr_learning_rate`) on validation lists, by a rule fixed before the runs.

    python bench/lr_step.py [--workspace DIR] [--days 2026-11-02,2026-11-04,2026-11-06,2026-11-08]
                            [--steps 0.005,0.01,0.02] [--seeds 1,2,3] [--runs OUT.jsonl] [--judge-only]

Why: LR trains every day beside the candidate (it is RelaImpr's base), and at the
shared step 0.005 it runs ~20 epochs. Its loss is convex, so a larger step may reach
the same optimum sooner; the question is whether it reaches the same *validation*
AUC, which is what the choice may look at.

For every day D (its window landed, ingested, validated and built once, the world of
params' `seed`) and training seed s, trains LR under each step and appends one JSON
line per fit to `--runs` (default WORKSPACE/lr-step.jsonl): best validation AUC, test
AUC, epochs, seconds. A fit already in the file is not trained again, so a stopped
bench resumes.

The rule (the first step is the control, today's value):
  - a step is eligible when its mean paired difference in best validation AUC from the
    control, over all (day, seed) pairs, is >= -0.0005 AND the lower end of its 95 %
    paired-bootstrap interval (pairs resampled, 10,000 draws) is >= -0.001;
  - the largest eligible step is chosen (the control is always eligible);
  - the choice must still pass tests/test_lr_reference.py (within 0.005 AUC of
    scikit-learn, early stopping before the budget).
Test AUC and time are printed beside, for the record, and never enter the choice.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from hrlrec import config, pipeline, train
from hrlrec.evaluation.intervals import bootstrap_interval
from hrlrec.workspace import Workspace

MEAN_FLOOR = -0.0005  # mean paired validation-AUC difference from the control
LOWER_FLOOR = -0.001  # lower end of its 95 % interval


def fits(path: Path) -> list[dict[str, Any]]:
    """The fits recorded so far (one JSON object per line)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_grid(root: Path, days: list[str], steps: list[float], seeds: list[int], out: Path) -> None:
    """Train LR for every (day, seed, step) not yet in `out`, appending each fit as it ends."""
    done = {(f["day"], f["seed"], f["step"]) for f in fits(out)}
    for day in days:
        ws = Workspace(root, config.load(None, [f"ds={day}"]))
        pipeline.build_data(ws, day)
        for seed in seeds:
            for lr_step in steps:
                if (day, seed, lr_step) in done:
                    continue
                overrides = [f"ds={day}", f"train.seed={seed}", f"train.lr_learning_rate={lr_step}"]
                seeded = Workspace(root, config.load(None, overrides))
                row = train.run(seeded, day, models=["lr"], progress=False).models["lr"]
                fit = {"day": day, "seed": seed, "step": lr_step, "val_auc": row["best_val_auc"],
                       "test_auc": row["auc"], "epochs": row["epochs"], "seconds": row["seconds"]}  # fmt: skip
                with out.open("a") as f:
                    f.write(json.dumps(fit) + "\n")
                print(json.dumps(fit), flush=True)


def paired(records: list[dict[str, Any]], control: float, step: float, key: str) -> np.ndarray:
    """Per (day, seed) pair, `key` under `step` minus `key` under the control (pairs both have)."""
    by = {(r["day"], r["seed"], r["step"]): r[key] for r in records}
    pairs = sorted({(d, s) for d, s, st in by if st == step and (d, s, control) in by})
    return np.array([by[(d, s, step)] - by[(d, s, control)] for d, s in pairs])


def eligible(diffs: np.ndarray) -> bool:
    """The rule: mean >= MEAN_FLOOR and the interval's lower end >= LOWER_FLOOR."""
    return float(diffs.mean()) >= MEAN_FLOOR and bootstrap_interval(diffs)[0] >= LOWER_FLOOR


def judge(records: list[dict[str, Any]], steps: list[float]) -> float:
    """Print the table and return the chosen step."""
    control = steps[0]
    base = [r for r in records if r["step"] == control]
    print(f"\ncontrol {control}: {len(base)} fits, val AUC {statistics.mean(r['val_auc'] for r in base):.5f}, "
          f"test AUC {statistics.mean(r['test_auc'] for r in base):.5f}")  # fmt: skip
    print("step     pairs  val diff [95 %]                  test diff [95 %]                 epochs (range)   s")
    chosen = control
    for step in steps:
        mine = [r for r in records if r["step"] == step]
        epochs = [r["epochs"] for r in mine]
        line = f"{step:<8} {len(mine):>5}  "
        if step != control:
            val, test = paired(records, control, step, "val_auc"), paired(records, control, step, "test_auc")
            lo, hi = bootstrap_interval(val)
            tlo, thi = bootstrap_interval(test)
            ok = eligible(val)
            chosen = step if ok and step > chosen else chosen
            line += f"{val.mean():+.5f} [{lo:+.5f}, {hi:+.5f}]  {test.mean():+.5f} [{tlo:+.5f}, {thi:+.5f}]  "
            line += f"{'eligible' if ok else 'not eligible'}  "
        else:
            line += f"{'control':<66}"
        seconds = statistics.mean(r["seconds"] for r in mine)
        line += f"{statistics.mean(epochs):.1f} ({min(epochs)}-{max(epochs)})  {seconds:.1f}"
        print(line)
    print(f"\nchosen: {chosen}")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--days", default="2026-11-02,2026-11-04,2026-11-06,2026-11-08")
    parser.add_argument("--steps", default="0.005,0.01,0.02", help="the first is the control")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--runs", type=Path, default=None, help="JSON lines of fits (default WORKSPACE/lr-step.jsonl)")
    parser.add_argument("--judge-only", action="store_true", help="judge the recorded fits, train nothing")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    root = (args.workspace or Path(tempfile.mkdtemp(prefix="hrlrec-lrstep-"))).resolve()
    out = args.runs or root / "lr-step.jsonl"
    steps = [float(s) for s in args.steps.split(",")]
    if not args.judge_only:
        root.mkdir(parents=True, exist_ok=True)
        days, seeds = args.days.split(","), [int(s) for s in args.seeds.split(",")]
        run_grid(root, days, steps, seeds, out)
    judge(fits(out), steps)


if __name__ == "__main__":
    main()
