"""Benchmark: building a training window and training on it, impressions/s and peak RSS by window length.

    python bench/dataset.py [--windows 1,3,7] [--full] [--steps 200] [--workspace DIR]

For each window (the small profile with `train_days` = 1, 3 and 7; with
`--full`, also the full profile's 7-day window of ~1M impressions a day), lands,
ingests and validates the days once, then runs in a fresh process each:
`hrlrec dataset` (seconds, impressions in the built stream per second, peak
RSS) and HRL-Rec's training for `--steps` optimizer steps (`train.max_steps`;
seconds and peak RSS). Peak RSS is the process's own (ru_maxrss), so the
numbers say how memory grows with the number of days: the performance issue's
item 1 asks that it grow with the batch and the model only, and that the full
profile's window build and train within 6 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # hrlrec is imported in the child processes only
    from hrlrec.workspace import Workspace

CASES = {"small": [], "full": ["profile=full"]}


def _overrides(profile: str, days: int) -> list[str]:
    return [*CASES[profile], f"profiles.{profile}.train_days={days}"]


def _workspace(root: Path, overrides: list[str]) -> Workspace:
    import logging

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    from hrlrec import config
    from hrlrec.workspace import Workspace

    return Workspace(root, config.load(None, overrides))


def _prepare(root: Path, overrides: list[str]) -> None:
    from hrlrec import pipeline

    ws = _workspace(root, overrides)
    for step in ("land", "ingest", "validate"):  # the window is backfilled, as in the pipeline
        pipeline.run(step, ws, ws.cfg.ds)


def _dataset(root: Path, overrides: list[str]) -> dict:
    from hrlrec import dataset

    ws = _workspace(root, overrides)
    t0 = time.perf_counter()
    result = dataset.run(ws, ws.cfg.ds)
    seconds = time.perf_counter() - t0
    return {
        "rows": result.rows,
        "seconds": seconds,
        "train_days": result.train_days,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _train(root: Path, overrides: list[str], steps: int) -> dict:
    from hrlrec import train

    ws = _workspace(root, [*overrides, f"train.max_steps={steps}"])
    t0 = time.perf_counter()
    result = train.run(ws, ws.cfg.ds, models=["hrlrec"], progress=False)
    return {
        "seconds": time.perf_counter() - t0,
        "device": result.device,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(base: list[str], phase: str, overrides: list[str], steps: int) -> dict:
    extra = [a for o in overrides for a in ("-S", o)]
    out = subprocess.run(
        [*base, "--phase", phase, "--steps", str(steps), *extra], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows", default="1,3,7", help="small-profile training windows, in days")
    parser.add_argument("--full", action="store_true", help="also the full profile's 7-day window")
    parser.add_argument("--steps", type=int, default=200, help="HRL-Rec optimizer steps to train")
    parser.add_argument("--workspace", type=Path, default=None, help="parent folder (default: a temporary one)")
    parser.add_argument("--phase", choices=["prepare", "dataset", "train"], help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("-S", dest="overrides", action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "prepare":
        _prepare(args.root, args.overrides)
        print("{}")
        return
    if args.phase == "dataset":
        print(json.dumps(_dataset(args.root, args.overrides)))
        return
    if args.phase == "train":
        print(json.dumps(_train(args.root, args.overrides, args.steps)))
        return

    parent = args.workspace or Path(tempfile.mkdtemp(prefix="hrlrec-bench-dataset-"))
    cases = [("small", int(d)) for d in args.windows.split(",") if d] + ([("full", 7)] if args.full else [])
    print(f"workspaces under {parent}; HRL-Rec trained {args.steps} steps per window")
    print(
        f"{'profile':<8}{'days':>5}{'impressions':>13}{'dataset s':>11}{'impr/s':>10}{'dataset RSS MB':>16}"
        f"{'train s':>9}{'train RSS MB':>14}"
    )
    for profile, days in cases:
        root = parent / profile  # one workspace per profile: a longer window reuses the days already landed
        overrides = _overrides(profile, days)
        base = [sys.executable, __file__, "--root", str(root)]
        _child(base, "prepare", overrides, args.steps)
        built = _child(base, "dataset", overrides, args.steps)
        trained = _child(base, "train", overrides, args.steps)
        print(
            f"{profile:<8}{days:>5}{built['rows']:>13,}{built['seconds']:>11.1f}"
            f"{built['rows'] / built['seconds']:>10,.0f}{built['peak_rss_mb']:>16,.0f}"
            f"{trained['seconds']:>9.1f}{trained['peak_rss_mb']:>14,.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
