"""The GPU check in one run: training in fp32 and bf16, DDP over every GPU, export and serving on CUDA.

    python bench/gpu_check.py [--out DIR] [--profile full] [--train-days 1] [--steps 200] [--workspace DIR]

(`scripts/gpu-check.sh` runs this with a 10-minute budget and writes `$OUT/gpu-check.json`.)

1. Simulates, ingests, validates and builds the dataset of one day of
   `--profile` (default full: ~1M impressions a day, m = 50) with a training
   window of `--train-days` days (the paper's 7 do not fit 10 minutes of
   simulation and validation; the model, batch and state sizes are the full
   profile's).
2. Trains HRL-Rec for `--steps` optimizer steps in fp32 and again in bf16
   (train.precision): impressions/s, peak CUDA memory and the test-day AUC after
   those steps for both, so the cost and the effect of bf16 are side by side.
3. Trains again under `torchrun` with NCCL on every visible GPU (one process
   per GPU) for the same number of steps: wall time and exit status.
4. Runs the export gate (onnxruntime on CUDAExecutionProvider when it loads; the
   gate says which provider ran) and `bench/serve.py --device cuda` (latency and
   throughput, onnxruntime vs PyTorch).

Without CUDA it says so, runs parts 1, 2 (fp32 and bf16 autocast on the CPU,
with the small profile and 30 steps unless told otherwise) and 4 on the CPU,
marks part 3 "not run: no CUDA" (the test suite runs 2-process gloo DDP), and
exits 0. Everything measured goes into one JSON file.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from hrlrec import config, pipeline, train
from hrlrec.serving import export
from hrlrec.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]


def facts() -> dict[str, Any]:
    import onnxruntime as ort

    cuda = torch.cuda.is_available()
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": cuda,
        "cuda_version": torch.version.cuda,
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else [],
        "onnxruntime": ort.__version__,
        "onnxruntime_providers": ort.get_available_providers(),
        "cpu_count": os.cpu_count(),
    }


def timed(label: str, out: dict[str, Any], fn, *args, **kwargs) -> Any:
    t0 = time.perf_counter()
    result = fn(*args, **kwargs)
    out.setdefault("seconds", {})[label] = round(time.perf_counter() - t0, 1)
    print(f"{label}: {out['seconds'][label]} s", flush=True)
    return result


def train_once(root: Path, overrides: list[str], ds: str, precision: str, device: str) -> dict[str, Any]:
    ws = Workspace(root, config.load(None, [*overrides, f"train.precision={precision}"]))
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    result = train.run(ws, ds, models=["hrlrec"], device=device, progress=False)
    m = result.models["hrlrec"]
    return {
        "precision": precision,
        "device": result.device,
        "auc": m["auc"],
        "impressions_per_s": m.get("impressions_per_s"),
        "seconds": m.get("seconds"),
        "peak_cuda_memory_gb": round(torch.cuda.max_memory_allocated() / 2**30, 3) if device == "cuda" else None,
    }


def ddp(root: Path, overrides: list[str], ds: str) -> dict[str, Any]:
    gpus = torch.cuda.device_count()
    torchrun = Path(sys.executable).with_name("torchrun")
    sets = [a for o in overrides for a in ("-S", o)]
    cmd = [str(torchrun), "--standalone", "--nproc_per_node", str(gpus), "-m", "hrlrec.cli", "--workspace", str(root),
           *sets, "train", "--ds", ds, "--model", "hrlrec", "--device", "cuda", "--no-progress"]  # fmt: skip
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900)
    body = {"processes": gpus, "backend": "nccl", "returncode": out.returncode,
            "wall_s": round(time.perf_counter() - t0, 1)}  # fmt: skip
    if out.returncode != 0:
        body["stderr_tail"] = out.stderr[-2000:]
    else:
        report = json.loads(Workspace(root, config.load(None, overrides)).layout.result("train").read_text())
        body["auc"] = report["models"]["hrlrec"]["auc"]
        body["impressions_per_s"] = report["models"]["hrlrec"].get("impressions_per_s")
    return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    parser.add_argument("--workspace", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--profile", default=None, help="default: full with CUDA, small without")
    parser.add_argument("--train-days", type=int, default=1)
    parser.add_argument("--steps", type=int, default=None, help="default: 200 with CUDA, 30 without")
    parser.add_argument("--ds", default="2026-11-08")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    info = facts()
    cuda = info["cuda"]
    device = "cuda" if cuda else "cpu"
    profile = args.profile or ("full" if cuda else "small")
    steps = args.steps or (200 if cuda else 30)
    print(f"GPU check: {'CUDA on ' + ', '.join(info['gpus']) if cuda else 'no CUDA device: CPU parts only'}; "
          f"profile {profile}, {args.train_days} training day(s), {steps} steps", flush=True)  # fmt: skip
    root = (args.workspace or Path(tempfile.mkdtemp(prefix="hrlrec-gpu-check-"))).resolve()
    overrides = [f"profile={profile}", f"profiles.{profile}.train_days={args.train_days}", f"ds={args.ds}",
                 f"train.max_steps={steps}", "train.models=[hrlrec]", f"train.device={device}",
                 f"serving.device={device}"]  # fmt: skip
    out: dict[str, Any] = {"facts": info, "profile": profile, "train_days": args.train_days, "steps": steps,
                           "workspace": str(root)}  # fmt: skip
    ws = Workspace(root, config.load(None, overrides))
    for step in pipeline.DATA_STEPS:
        timed(step, out, pipeline.run, step, ws, args.ds)
    meta = json.loads((ws.layout.dataset_day(args.ds) / "meta.json").read_text())
    out["dataset"] = {"rows": meta["rows"], "lists": meta["lists"], "days": meta["days"], "shards": meta["shards"]}
    out["training"] = [timed(f"train {p}", out, train_once, root, overrides, args.ds, p, device)
                       for p in ("fp32", "bf16")]  # fmt: skip
    for t in out["training"]:
        print(f"  {t['precision']}: AUC {t['auc']:.4f}, {t['impressions_per_s']} impressions/s, "
              f"peak CUDA memory {t['peak_cuda_memory_gb']} GB", flush=True)  # fmt: skip
    out["ddp"] = (
        timed("ddp", out, ddp, root, overrides, args.ds)
        if cuda
        else {"run": False, "reason": "no CUDA: NCCL DDP not run (tests/test_training.py runs 2-process gloo DDP)"}
    )
    # The export gate judges the last trained candidate (bf16, or the DDP one with CUDA).
    verdict = timed("export gate", out, export.run, ws, args.ds)
    out["export"] = {"verdict": verdict.level, "reason": verdict.reason,
                     "provider": verdict.numbers.get("provider")}  # fmt: skip
    serve = subprocess.run([sys.executable, str(ROOT / "bench" / "serve.py"), "--workspace", str(root),
                            "--device", device, "--requests", "200", *[a for o in overrides for a in ("-S", o)]],
                           capture_output=True, text=True, check=False, timeout=600)  # fmt: skip
    out["serve"] = {"returncode": serve.returncode, "table": serve.stdout[-3000:],
                    **({"stderr_tail": serve.stderr[-2000:]} if serve.returncode else {})}  # fmt: skip
    print(serve.stdout[-3000:], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "gpu-check.json"
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2, default=str) + "\n")
    tmp.replace(target)
    print(f"wrote {target}", flush=True)
    if args.workspace is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
