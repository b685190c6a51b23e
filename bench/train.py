"""Benchmark: training throughput and peak memory of HRL-Rec, DeepFM and AutoInt on the same data.

    python bench/train.py [--workspace DIR] [--device auto|cpu|cuda] [--runs N] [-S key=value ...]

Builds (or reuses) a workspace with the small profile's window, then trains
each model alone in its own process (so peak memory is its own) for the
profile's epochs, and prints impressions/s, peak RSS (and peak CUDA memory on
a GPU) and HRL-Rec's throughput against each baseline's (the performance
issue's target: HRL-Rec >= 0.5x AutoInt's impressions/s on the CPU). With
`--runs N` every model trains N times, one after the other, and each ratio is
given as the mean of the N runs' ratios with a 95 % t-interval: one run's
ratio moved 0.39-0.43 between runs on an idle machine. Where the time goes
inside a step: bench/train_parts.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

MODELS = ("hrlrec", "deepfm", "autoint")


def _prepare(root: Path, overrides: list[str]) -> None:
    import logging

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    from hrlrec import config, pipeline
    from hrlrec.workspace import Workspace

    ws = Workspace(root, config.load(None, overrides))
    pipeline.build_data(ws, ws.cfg.ds)  # the window is backfilled, as in the pipeline


def _train(root: Path, model: str, device: str, overrides: list[str]) -> dict:
    import torch

    from hrlrec import config, train
    from hrlrec.workspace import Workspace

    ws = Workspace(root, config.load(None, overrides))
    result = train.run(ws, ws.cfg.ds, models=[model], device=device, progress=False)
    m = result.models[model]
    out = {
        "model": model,
        "device": result.device,
        "impressions_per_s": m["impressions_per_s"],
        "seconds": m["seconds"],
        "epochs": m["epochs"],
        "auc": m["auc"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if result.device.startswith("cuda"):
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--runs", type=int, default=1, help="train every model this many times (ratios get an interval)"
    )
    parser.add_argument("-S", dest="overrides", action="append", default=[])
    parser.add_argument("--phase", choices=["prepare", "train"], help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "prepare":
        _prepare(args.workspace, args.overrides)
        return
    if args.phase == "train":
        print(json.dumps(_train(args.workspace, args.model, args.device, args.overrides)))
        return
    root = args.workspace or Path(tempfile.mkdtemp(prefix="hrlrec-bench-train-"))
    extra = [a for o in args.overrides for a in ("-S", o)]
    base = [sys.executable, __file__, "--workspace", str(root), "--device", args.device, *extra]
    from hrlrec import config
    from hrlrec.workspace import Workspace

    ws = Workspace(root, config.load(None, args.overrides))
    if not ws.layout.dataset_day(ws.cfg.ds).is_dir():
        subprocess.run([*base, "--phase", "prepare"], check=True)
    rows = []
    for run in range(1, args.runs + 1):
        for model in MODELS:
            cmd = [*base, "--phase", "train", "--model", model]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True)
            rows.append({"run": run, **json.loads(out.stdout.strip().splitlines()[-1])})
    print(f"{dt.date.today()}  workspace {root}")
    print(f"{'run':<5}{'model':<8}{'device':<8}{'impressions/s':>15}{'epochs':>8}{'seconds':>9}{'peak RSS MB':>13}"
          f"{'AUC':>8}")  # fmt: skip
    for r in rows:
        cuda = f"  peak CUDA {r['peak_cuda_mb']:,.0f} MB" if "peak_cuda_mb" in r else ""
        print(
            f"{r['run']:<5}{r['model']:<8}{r['device']:<8}{r['impressions_per_s']:>15,.0f}{r['epochs']:>8}"
            f"{r['seconds']:>9.1f}{r['peak_rss_mb']:>13,.0f}{r['auc']:>8.4f}{cuda}"
        )
    for line in ratio_lines(rows):
        print(line)


def ratio_lines(rows: list[dict]) -> list[str]:
    """HRL-Rec's impressions/s over each baseline's, run by run; over several runs, their mean and 95 % t-interval."""
    from hrlrec.evaluation.intervals import t_interval

    runs = sorted({r["run"] for r in rows})
    rate = {(r["run"], r["model"]): r["impressions_per_s"] for r in rows}
    lines = []
    for model in MODELS[1:]:
        ratios = [rate[run, "hrlrec"] / rate[run, model] for run in runs]
        each = ", ".join(f"{x:.2f}" for x in ratios)
        if len(ratios) == 1:
            lines.append(f"HRL-Rec / {model} throughput: {ratios[0]:.2f}x")
        else:
            mean, lo, hi = t_interval(ratios)
            lines.append(
                f"HRL-Rec / {model} throughput: {mean:.2f}x [{lo:.2f}, {hi:.2f}] over {len(runs)} runs ({each})"
            )
    return lines


if __name__ == "__main__":
    main()
