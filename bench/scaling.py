"""The measured figures docs/scaling.md extrapolates from: bytes per impression, and 2-process gloo DDP.

    python bench/scaling.py [--workspace DIR] [--ds 2026-11-08] [--train-days 2]
                            [--steps 20,60] [--skip-ddp] [--json OUT]

1. **Footprint.** Lands, ingests, validates and builds the dataset of `--ds` on
   the small profile with a `--train-days` window, then prints bytes per
   impression: the landing Parquet, the ingested day, the dataset's files, and
   the ingested day as an Arrow table in memory (what validation and the
   dataset builder hold).
2. **DDP on the CPU.** Trains HRL-Rec alone for each of `--steps` optimizer
   steps (default 20 and 60) three ways: one process with one thread, one
   process with two threads, and `torchrun` with two gloo processes of one
   thread each (each process takes its shard of every epoch, so a step of the
   job covers twice the lists). The fixed costs (start-up, loading, the
   validation pass) are the same at both step counts, so the difference
   between the two runs, divided by the extra steps, is the cost of one step;
   throughput is impressions per second of that difference. Two processes are
   only faster if the machine has two idle cores: run it on an idle machine.

Prints a table; `--json` also writes every figure.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from hrlrec import config, pipeline
from hrlrec.workspace import Workspace

WAYS = {  # name: (processes, threads per process)
    "1 process x 1 thread": (1, 1),
    "1 process x 2 threads": (1, 2),
    "torchrun 2 processes x 1 thread (gloo)": (2, 1),
}


def _bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def footprint(ws: Workspace, ds: str) -> dict[str, Any]:
    """Bytes per impression of the day on disk at each stage, and of the ingested day in memory."""
    layout = ws.layout
    raw = pq.read_table(layout.raw_day(ds))
    rows = raw.num_rows
    meta = json.loads((layout.dataset_day(ds) / "meta.json").read_text())
    return {
        "impressions": rows,
        "landing_bytes_per_impression": _bytes(layout.landing_day(ds)) / rows,
        "raw_bytes_per_impression": _bytes(layout.raw_day(ds)) / rows,
        "arrow_bytes_per_impression_in_memory": raw.nbytes / rows,
        "dataset_impressions": meta["rows"],
        "dataset_days": len(meta["days"]),
        "dataset_bytes_per_impression": _bytes(layout.dataset_day(ds)) / meta["rows"],
    }


def train_once(root: Path, overrides: list[str], ds: str, processes: int, threads: int, steps: int) -> dict[str, Any]:
    """One training run in its own process(es); wall seconds and the train report's figures."""
    sets = [a for o in [*overrides, f"train.max_steps={steps}", f"train.threads={threads}"] for a in ("-S", o)]
    args = ["--workspace", str(root), *sets, "train", "--ds", ds, "--model", "hrlrec", "--device", "cpu",
            "--no-progress"]  # fmt: skip
    if processes == 1:
        cmd = [sys.executable, "-m", "hrlrec.cli", *args]
    else:
        torchrun = Path(sys.executable).with_name("torchrun")
        cmd = [str(torchrun), "--standalone", "--nproc_per_node", str(processes), "-m", "hrlrec.cli", *args]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=1800)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"training failed ({' '.join(cmd[:6])} ...):\n{out.stderr[-3000:]}")
    ws = Workspace(root, config.load(None, overrides))
    model = json.loads(ws.layout.result("train").read_text())["models"]["hrlrec"]
    return {"wall_s": wall, "auc": model["auc"], "impressions": model.get("impressions")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--ds", default="2026-11-08")
    parser.add_argument("--train-days", type=int, default=2)
    parser.add_argument("--steps", default="20,60", help="two step counts: the fixed costs cancel in their difference")
    parser.add_argument("--skip-ddp", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    root = (args.workspace or Path(tempfile.mkdtemp(prefix="hrlrec-scaling-"))).resolve()
    overrides = ["profile=small", f"profiles.small.train_days={args.train_days}", "train.models=[hrlrec]"]
    ws = Workspace(root, config.load(None, overrides))
    pipeline.build_data(ws, args.ds)
    found: dict[str, Any] = {"ds": args.ds, "train_days": args.train_days, "cpu_count": os.cpu_count()}
    found["footprint"] = fp = footprint(ws, args.ds)
    print(f"# Footprint of {args.ds} (small profile, {fp['impressions']:,} impressions)\n")
    print(f"landing Parquet  {fp['landing_bytes_per_impression']:6.1f} bytes per impression")
    print(f"ingested day     {fp['raw_bytes_per_impression']:6.1f} bytes per impression")
    print(f"Arrow in memory  {fp['arrow_bytes_per_impression_in_memory']:6.1f} bytes per impression")
    print(f"dataset files    {fp['dataset_bytes_per_impression']:6.1f} bytes per impression "
          f"({fp['dataset_impressions']:,} impressions over {fp['dataset_days']} days)\n")  # fmt: skip
    if not args.skip_ddp:
        low, high = (int(s) for s in args.steps.split(","))
        batch = ws.cfg.active.batch_size * ws.cfg.list_len
        print(f"# Training steps of HRL-Rec on the CPU ({low} and {high} steps; one step: {batch:,} impressions "
              "per process)\n")  # fmt: skip
        print("| way | wall s at low / high steps | s per step | impressions/s | AUC at high steps |")
        print("|---|---|---|---|---|")
        found["ddp"] = {}
        for name, (processes, threads) in WAYS.items():
            runs = [train_once(root, overrides, args.ds, processes, threads, s) for s in (low, high)]
            per_step = (runs[1]["wall_s"] - runs[0]["wall_s"]) / (high - low)
            rate = processes * batch / per_step
            found["ddp"][name] = {"runs": runs, "seconds_per_step": per_step, "impressions_per_s": rate}
            print(f"| {name} | {runs[0]['wall_s']:.1f} / {runs[1]['wall_s']:.1f} | {per_step:.3f} | {rate:,.0f} | "
                  f"{runs[1]['auc']:.4f} |", flush=True)  # fmt: skip
        base = found["ddp"]["1 process x 1 thread"]["impressions_per_s"]
        for name, r in found["ddp"].items():
            print(f"{name}: {r['impressions_per_s'] / base:.2f}x one thread")
    if args.json:
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps(found, indent=2) + "\n")
        tmp.replace(args.json)


if __name__ == "__main__":
    main()
