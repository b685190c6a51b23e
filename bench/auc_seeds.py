"""HRL-Rec's test-day AUC over several training seeds on the same simulated data.

    python bench/auc_seeds.py [--workspace DIR] [--ds 2026-11-08] [--seeds 7,8,9] [-S key=value ...]

The days are landed once with params' seed (the world) and only training is
repeated, under each `train.seed` (land skips days already landed). Prints the AUC per seed, the mean and a t-based
95 % interval, beside the oracle AUC of the day.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

from hrlrec import config, pipeline, train
from hrlrec.evaluation.intervals import t_interval
from hrlrec.workspace import Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--ds", default="2026-11-08")
    parser.add_argument("--seeds", default="7,8,9")
    parser.add_argument("-S", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    root = (args.workspace or Path(tempfile.mkdtemp(prefix="hrlrec-auc-"))).resolve()
    ws = Workspace(root, config.load(None, [*args.overrides, f"ds={args.ds}"]))
    pipeline.build_data(ws, args.ds)
    aucs = []
    oracle = None
    for seed in (int(s) for s in args.seeds.split(",")):
        seeded = Workspace(root, config.load(None, [*args.overrides, f"ds={args.ds}", f"train.seed={seed}"]))
        result = train.run(seeded, args.ds, models=["hrlrec"], progress=False)
        aucs.append(result.models["hrlrec"]["auc"])
        oracle = result.oracle_auc
        print(f"seed {seed}: AUC {aucs[-1]:.4f} ({result.seconds:.0f} s)", flush=True)
    mean, low, high = t_interval(aucs)  # one seed: no interval (nan)
    print(f"\n{args.ds}: mean AUC {mean:.4f}, 95 % interval [{low:.4f}, {high:.4f}] over "
          f"{len(aucs)} seeds; oracle {oracle if oracle is None else format(oracle, '.4f')}")  # fmt: skip


if __name__ == "__main__":
    main()
