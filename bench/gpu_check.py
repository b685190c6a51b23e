"""The GPU check in one run: training in fp32 and bf16, DDP over every GPU, export and serving on CUDA, and
the similarity loss's search compared with its masked reference on the device.

    python bench/gpu_check.py [--out DIR] [--profile full] [--train-days 1] [--steps 200] [--workspace DIR]

(`scripts/gpu-check.sh` runs this within GPU_CHECK_BUDGET_S, 600 s by default, and writes
`$OUT/gpu-check.json` and `$OUT/gpu-check.md`.)

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
5. Compares the similarity loss's grouped search with the masked one it
   replaced, on the device (`similarity_search`: bit-identical or not, ms). It
   needs no other part and takes seconds, so it runs first: no failure or stop
   of the others can lose it.

Without CUDA it says so, runs parts 1, 2 (fp32 and bf16 autocast on the CPU,
with the small profile and 30 steps unless told otherwise), 4 and 5 on the CPU,
marks part 3 "not run: no CUDA" (the test suite runs 2-process gloo DDP), and
exits 0. Everything measured goes into one JSON file, `gpu-check.json`, and the
same as a docs/results.md section, `gpu-check.md`, both rewritten as each part
ends: a device call has one try, so a part that raises is written down with its
traceback and the others that do not need it still run, and a stop by the
budget's SIGTERM keeps what was measured. Exits 1 when a part failed or the
budget stopped it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
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
        "NVIDIA_TF32_OVERRIDE": os.environ.get("NVIDIA_TF32_OVERRIDE"),
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


def similarity_search(device: str, draws: int = 20) -> dict[str, Any]:
    """The similarity loss's grouped search (what training runs) against the masked one it replaced, on `device`.

    At the full profile's training shapes (256 lists x 10 positions, a pool of 800 over 4 channels, actions
    of 32), in fp32 and under bf16 autocast: in how many of `draws` drawn batches the two give bit-identical
    values and action gradients, and each one's milliseconds a call (forward, the masked one's mask
    included, and backward, outside autocast as training runs it; one untimed draw first, which search
    goes first alternating). On the CPU they are identical (tests/test_model.py); on CUDA the sorted
    pool's matmul is assumed, not seen, to give each cosine the unsorted pool's value (docs/results.md):
    this is where that is seen. A figure, not a gate.
    """
    from hrlrec.train.objective import best_cosine, masked_best_cosine

    dev = torch.device(device)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    def search(
        name: str, precision: str, actions: torch.Tensor, cand: torch.Tensor, cand_channel: torch.Tensor,
        channel: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        a = actions.clone().requires_grad_()
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            if name == "grouped":
                value = best_cosine(a, cand, cand_channel, channel)
            else:
                value = masked_best_cosine(a, cand, cand_channel[None, None, :] == channel[..., None])
        value.float().sum().backward()
        return value.detach(), a.grad

    found: dict[str, Any] = {}
    for precision in ("fp32", "bf16"):
        identical, seconds = 0, {"grouped": 0.0, "masked": 0.0}
        for draw in range(-1, draws):  # draw -1: the kernels' first launches, not timed nor counted
            g = torch.Generator().manual_seed(max(draw, 0))
            batch = (torch.randn(256, 10, 32, generator=g).to(dev), torch.randn(800, 32, generator=g).to(dev),
                     torch.randint(1, 5, (800,), generator=g).to(dev),
                     torch.randint(1, 5, (256, 10), generator=g).to(dev))  # fmt: skip
            got = {}
            for name in ("grouped", "masked") if draw % 2 == 0 else ("masked", "grouped"):
                sync()
                t0 = time.perf_counter()
                got[name] = search(name, precision, *batch)
                sync()
                if draw >= 0:
                    seconds[name] += time.perf_counter() - t0
            if draw >= 0:
                (v1, g1), (v2, g2) = got["grouped"], got["masked"]
                identical += bool(torch.equal(v1, v2) and torch.equal(g1, g2))
        found[precision] = {"identical": identical, "draws": draws,
                            **{f"{k}_ms": round(v / draws * 1000, 3) for k, v in seconds.items()}}  # fmt: skip
    return found


def as_sets(overrides: list[str]) -> list[str]:
    """`overrides` as the command line's `-S key=value` pairs."""
    return [a for o in overrides for a in ("-S", o)]


def ddp(root: Path, overrides: list[str], ds: str) -> dict[str, Any]:
    gpus = torch.cuda.device_count()
    sets = as_sets(overrides)
    # torchrun as a module of this interpreter: a machine's `torchrun` script may belong to another Python.
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(gpus),
           "-m", "hrlrec.cli", "--workspace", str(root), *sets,
           "train", "--ds", ds, "--model", "hrlrec", "--device", "cuda", "--no-progress"]  # fmt: skip
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900)
    # The backend each rank actually started (hrlrec.train.step logs it), not the one hoped for.
    started = re.findall(r"torchrun: process group (\w+), rank (\d+) of (\d+)", out.stderr)
    body = {"processes": gpus, "backend": sorted({b for b, _, _ in started}) or None, "ranks_logged": len(started),
            "returncode": out.returncode, "wall_s": round(time.perf_counter() - t0, 1)}  # fmt: skip
    if out.returncode != 0:
        body["stderr_tail"] = out.stderr[-2000:]
    else:
        report = json.loads(Workspace(root, config.load(None, overrides)).layout.result("train").read_text())
        body["auc"] = report["models"]["hrlrec"]["auc"]
        body["impressions_per_s"] = report["models"]["hrlrec"].get("impressions_per_s")
    return body


def run_parts(
    out: dict[str, Any], folder: Path, root: Path, overrides: list[str], ds: str, device: str, cuda: bool
) -> None:
    """The similarity search, data, training in fp32 and bf16, DDP, export gate, serving: each saved as it
    ends, a failure recorded.

    A part that raises is written down with its traceback and the parts that need it are marked not run,
    so one device call returns every figure it could measure.
    """
    errors: dict[str, str] = out.setdefault("errors", {})

    def attempt(name: str, fn, *args: Any, **kwargs: Any) -> Any:
        try:
            return timed(name, out, fn, *args, **kwargs)
        except Exception:  # not OutOfTime, a BaseException: a stop ends the check, it is no part's failure
            errors[name] = traceback.format_exc()[-3000:]
            print(f"{name} FAILED:\n{errors[name]}", flush=True)
            return None
        finally:
            save(out, folder)

    search = attempt("similarity search", similarity_search, device)
    if search is not None:
        out["similarity_search"] = search
    ws = Workspace(root, config.load(None, overrides))
    for step in pipeline.DATA_STEPS:
        attempt(step, pipeline.run, step, ws, ds)
        if step in errors:
            out["not_run"] = f"training, DDP, export and serving: {step} failed"
            return
    meta = json.loads((ws.layout.dataset_day(ds) / "meta.json").read_text())
    out["dataset"] = {"rows": meta["rows"], "lists": meta["lists"], "days": meta["days"], "shards": meta["shards"]}
    out["training"] = []
    for precision in ("fp32", "bf16"):
        result = attempt(f"train {precision}", train_once, root, overrides, ds, precision, device)
        if result is not None:
            out["training"].append(result)
            print(f"  {precision}: AUC {result['auc']:.4f}, {result['impressions_per_s']} impressions/s, "
                  f"peak CUDA memory {result['peak_cuda_memory_gb']} GB", flush=True)  # fmt: skip
    if not out["training"]:
        out["not_run"] = "DDP, export and serving: no precision trained"
        return
    if cuda:
        out["ddp"] = attempt("ddp", ddp, root, overrides, ds) or {"run": False, "reason": "failed: see errors"}
        if out["ddp"].get("returncode"):
            errors["ddp"] = out["ddp"].get("stderr_tail", "")
        elif out["ddp"].get("run", True) and out["ddp"]["backend"] != ["nccl"]:
            errors["ddp"] = f"the ranks started process group(s) {out['ddp']['backend']}, not nccl"
    else:
        out["ddp"] = {
            "run": False,
            "reason": "no CUDA: NCCL DDP not run (tests/test_training.py runs 2-process gloo DDP)",
        }
    # The export gate judges the last trained candidate (bf16, or the DDP one with CUDA).
    verdict = attempt("export gate", export.run, ws, ds)
    if verdict is None:
        out["not_run"] = "serving: the export gate failed"
        return
    out["export"] = {"verdict": verdict.level, "reason": verdict.reason, "provider": verdict.numbers.get("provider")}
    command = [sys.executable, str(ROOT / "bench" / "serve.py"), "--workspace", str(root), "--device", device,
               "--requests", "200", *as_sets(overrides)]  # fmt: skip
    serve = attempt("serve", subprocess.run, command, capture_output=True, text=True, check=False, timeout=600)
    if serve is None:
        return
    out["serve"] = {"returncode": serve.returncode, "table": serve.stdout[-3000:]}
    if serve.returncode:
        errors["serve"] = serve.stderr[-3000:]
    print(serve.stdout[-3000:], flush=True)
    save(out, folder)


class OutOfTime(BaseException):
    """The budget's SIGTERM (scripts/gpu-check.sh runs this under `timeout`): stop, keep what was measured.

    A BaseException, so no `except Exception` on the way (the pipeline's own error wrapping) turns it into
    an ordinary failure after which the next part would start.
    """


def _stop(signum: int, frame: Any) -> None:
    signal.signal(signum, signal.SIG_IGN)  # `timeout` signals the whole process group: one stop is enough
    raise OutOfTime(f"stopped by signal {signum} (the check's time budget ran out)")


def save(out: dict[str, Any], folder: Path) -> Path:
    """Write the JSON and its markdown section, each through a temporary file: a stop leaves the last whole one."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "gpu-check.json"
    _replace(target, json.dumps(out, indent=2, default=str) + "\n")  # first: the figures never wait on the prose
    try:
        text = section(out)
    except Exception:  # a figure the section cannot format must not lose the JSON or stop the check
        text = f"(gpu-check.md could not be written; gpu-check.json has the figures)\n\n{traceback.format_exc()}"
    _replace(folder / "gpu-check.md", text)
    return target


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def section(out: dict[str, Any]) -> str:
    """The check as a docs/results.md section: what ran where, each part's figures or why it did not run."""
    f = out["facts"]
    where = f"CUDA on {', '.join(f['gpus'])}" if f["cuda"] else "no CUDA device (CPU parts only)"
    lines = [f"## GPU check ({out.get('started', '')}, {where})", "",
             f"`scripts/gpu-check.sh`: Python {f['python']}, torch {f['torch']} (CUDA {f['cuda_version']}), "
             f"onnxruntime {f['onnxruntime']} with {', '.join(f['onnxruntime_providers'])}; {f['cpu_count']} CPUs; "
             f"profile {out['profile']}, {out['train_days']} training day(s), {out['steps']} steps.", ""]  # fmt: skip
    if "dataset" in out:
        d = out["dataset"]
        lines.append(f"- dataset: {d['rows']:,} rows, {d['lists']} lists over {d['days']} days")
    for t in out.get("training", []):
        lines.append(f"- train {t['precision']} on {t['device']}: AUC {t['auc']:.4f}, {t['impressions_per_s']} "
                     f"impressions/s, {t['seconds']} s, peak CUDA memory {t['peak_cuda_memory_gb']} GB")  # fmt: skip
    if "ddp" in out:
        lines.append(f"- DDP: {json.dumps(out['ddp'], default=str)[:600]}")
    if "export" in out:
        e = out["export"]
        lines.append(f"- export gate: {e['verdict']} on {e['provider']}: {e['reason']}")
    if "serve" in out:
        lines += ["- serving (bench/serve.py):", "", "```", out["serve"]["table"].strip(), "```"]
    if "similarity_search" in out:
        each = "; ".join(f"{p} {r['identical']} of {r['draws']} bit-identical, grouped {r['grouped_ms']} ms, "
                         f"masked {r['masked_ms']} ms" for p, r in out["similarity_search"].items())  # fmt: skip
        lines.append(f"- similarity search, grouped (training's) against masked: {each}")
    for name, error in out.get("errors", {}).items():
        lines.append(f"- **{name} failed**: `{error.strip().splitlines()[-1] if error.strip() else error}`")
    if "not_run" in out:
        lines.append(f"- **not run**: {out['not_run']}")
    if "stopped" in out:
        lines.append(f"- **stopped**: {out['stopped']}")
    lines.append(f"- seconds per part: {json.dumps(out.get('seconds', {}))}")
    return "\n".join(lines) + "\n"


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
    out["started"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    signal.signal(signal.SIGTERM, _stop)
    try:
        run_parts(out, args.out, root, overrides, args.ds, device, cuda)
    except OutOfTime as exc:
        out["stopped"] = str(exc)
    except Exception:  # outside any part (the workspace, the dataset's meta): written down like a part's
        out.setdefault("errors", {})["check"] = traceback.format_exc()[-3000:]
    finally:
        if args.workspace is None:
            shutil.rmtree(root, ignore_errors=True)
    target = save(out, args.out)
    print(f"wrote {target} and {target.with_suffix('.md')}", flush=True)
    if out.get("errors") or "stopped" in out:
        raise SystemExit(f"GPU check incomplete: {', '.join(out.get('errors', {})) or out['stopped']} (see {target})")


if __name__ == "__main__":
    main()
