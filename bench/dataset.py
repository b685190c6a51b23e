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

Beside ru_maxrss, a sampler thread reads /proc/self/status every 0.1 s and
keeps the peaks of its two parts: RssAnon (the process's own memory: arrays,
tensors, the allocator's heap) and RssFile (pages of mapped files that are
resident, such as the memory-mapped stream training reads, which the kernel
may drop and re-read under pressure). The peaks of the parts need not add up
to the peak of the sum.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
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


class PeakMemory:
    """Peaks of RssAnon and RssFile (MB) of this process, sampled by a daemon thread, beside ru_maxrss."""

    FIELDS = ("RssAnon", "RssFile")

    def __init__(self, every_s: float = 0.1) -> None:
        self.peaks = dict.fromkeys(self.FIELDS, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in self.peaks:
                self.peaks[key] = max(self.peaks[key], int(value.split()[0]) / 1024)

    def _run(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            self._sample()

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self._sample()
        return {
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "peak_anon_mb": self.peaks["RssAnon"],
            "peak_file_mb": self.peaks["RssFile"],
        }


def _prepare(root: Path, overrides: list[str]) -> None:
    from hrlrec import pipeline

    ws = _workspace(root, overrides)
    for step in ("land", "ingest", "validate"):  # the window is backfilled, as in the pipeline
        pipeline.run(step, ws, ws.cfg.ds)


def _dataset(root: Path, overrides: list[str]) -> dict:
    from hrlrec import dataset

    ws = _workspace(root, overrides)
    memory = PeakMemory()
    t0 = time.perf_counter()
    result = dataset.run(ws, ws.cfg.ds)
    seconds = time.perf_counter() - t0
    return {"rows": result.rows, "shards": result.shards, "seconds": seconds, "train_days": result.train_days,
            **memory.stop()}  # fmt: skip


def _train(root: Path, overrides: list[str], steps: int) -> dict:
    from hrlrec import train

    ws = _workspace(root, [*overrides, f"train.max_steps={steps}"])
    memory = PeakMemory()
    t0 = time.perf_counter()
    result = train.run(ws, ws.cfg.ds, models=["hrlrec"], progress=False)
    return {"seconds": time.perf_counter() - t0, "device": result.device, **memory.stop()}


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
        f"{'profile':<8}{'days':>5}{'shards':>7}{'impressions':>13}{'dataset s':>11}{'impr/s':>10}"
        f"{'dataset RSS/anon/file MB':>26}{'train s':>9}{'train RSS/anon/file MB':>24}"
    )
    for profile, days in cases:
        root = parent / profile  # one workspace per profile: a longer window reuses the days already landed
        overrides = _overrides(profile, days)
        base = [sys.executable, __file__, "--root", str(root)]
        _child(base, "prepare", overrides, args.steps)
        built = _child(base, "dataset", overrides, args.steps)
        trained = _child(base, "train", overrides, args.steps)
        print(
            f"{profile:<8}{days:>5}{built['shards']:>7}{built['rows']:>13,}{built['seconds']:>11.1f}"
            f"{built['rows'] / built['seconds']:>10,.0f}{_memory(built):>26}"
            f"{trained['seconds']:>9.1f}{_memory(trained):>24}",
            flush=True,
        )


def _memory(figures: dict) -> str:
    return f"{figures['peak_rss_mb']:,.0f}/{figures['peak_anon_mb']:,.0f}/{figures['peak_file_mb']:,.0f}"


if __name__ == "__main__":
    main()
