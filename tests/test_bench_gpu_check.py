"""bench/gpu_check.py keeps what it measured: each part saved as it ends, failures and stops written down."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_gpu_check", ROOT / "bench" / "gpu_check.py")
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)

FACTS = {"python": "3.12.3", "torch": "2.11.0+cu130", "cuda": True, "cuda_version": "13.0", "gpus": ["NVIDIA H100"],
         "onnxruntime": "1.31.1", "onnxruntime_providers": ["CUDAExecutionProvider", "CPUExecutionProvider"],
         "cpu_count": 16}  # fmt: skip


def _result(**extra) -> dict:
    out = {"facts": FACTS, "profile": "full", "train_days": 1, "steps": 200, "started": "2026-12-08 01:00 UTC",
           "seconds": {"land": 30.1, "train fp32": 40.2}, "errors": {}}  # fmt: skip
    out.update(extra)
    return out


def test_the_section_gives_each_parts_figures_and_where_it_ran(tmp_path: Path) -> None:
    out = _result(
        dataset={"rows": 4_000_000, "lists": {"train": 1}, "days": ["2026-11-07", "2026-11-08"], "shards": 2},
        training=[
            {
                "precision": "fp32",
                "device": "cuda",
                "auc": 0.74321,
                "impressions_per_s": 250000.0,
                "seconds": 20.0,
                "peak_cuda_memory_gb": 3.2,
            }
        ],
        export={"verdict": "PASS", "reason": "PASS: identical", "provider": "CUDAExecutionProvider"},
        serve={"returncode": 0, "table": "runtime p50\nonnxruntime 1.0\n"},
    )
    text = check.section(out)
    assert text.startswith("## GPU check (2026-12-08 01:00 UTC, CUDA on NVIDIA H100)")
    assert "torch 2.11.0+cu130 (CUDA 13.0)" in text and "4,000,000 rows" in text
    assert "train fp32 on cuda: AUC 0.7432, 250000.0 impressions/s" in text and "peak CUDA memory 3.2 GB" in text
    assert "export gate: PASS on CUDAExecutionProvider" in text and "onnxruntime 1.0" in text
    assert "failed" not in text and "stopped" not in text


def test_a_failed_part_a_part_not_run_and_a_stop_are_written_down(tmp_path: Path) -> None:
    out = _result(
        errors={"train bf16": "Traceback (most recent call last):\n  ...\nRuntimeError: CUDA out of memory\n"},
        not_run="DDP, export and serving: no precision trained",
        stopped="stopped by signal 15 (the check's time budget ran out)",
    )
    target = check.save(out, tmp_path / "out")
    assert json.loads(target.read_text())["errors"]["train bf16"].endswith("CUDA out of memory\n")
    text = (tmp_path / "out" / "gpu-check.md").read_text()
    assert "**train bf16 failed**: `RuntimeError: CUDA out of memory`" in text
    assert "**not run**: DDP, export and serving: no precision trained" in text
    assert "**stopped**: stopped by signal 15" in text
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["gpu-check.json", "gpu-check.md"]


def test_the_budgets_sigterm_becomes_an_exception_the_check_catches() -> None:
    previous = signal.signal(signal.SIGTERM, check._stop)
    try:
        with pytest.raises(check.OutOfTime, match="signal 15"):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # interrupted by the handler's exception
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Verdict:
    level, reason, numbers = "PASS", "PASS: identical", {"provider": "CUDAExecutionProvider"}


def _parts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *, train_fails: tuple[str, ...] = (), ddp_rc: int = 0):
    """run_parts with each part replaced (this tests the check's bookkeeping; the parts run for real in the
    device's check and its rehearsal, docs/results.md)."""
    from types import SimpleNamespace

    from hrlrec import config
    from hrlrec.workspace import Workspace

    calls: list[str] = []
    monkeypatch.setattr(check.pipeline, "run", lambda step, ws, ds: calls.append(step))

    def train_once(root, overrides, ds, precision, device):
        calls.append(f"train {precision}")
        if precision in train_fails:
            raise RuntimeError(f"CUDA error in {precision}")
        return {"precision": precision, "device": device, "auc": 0.75, "impressions_per_s": 1.0, "seconds": 1.0,
                "peak_cuda_memory_gb": 1.0}  # fmt: skip

    monkeypatch.setattr(check, "train_once", train_once)
    ddp_body = {
        "processes": 1,
        "backend": ["nccl"] if ddp_rc == 0 else [],
        "ranks_logged": 1 - ddp_rc,
        "returncode": ddp_rc,
        "wall_s": 1.0,
        **({"stderr_tail": "NCCL error: unhandled"} if ddp_rc else {}),
    }
    monkeypatch.setattr(check, "ddp", lambda root, overrides, ds: calls.append("ddp") or ddp_body)
    monkeypatch.setattr(check.export, "run", lambda ws, ds: calls.append("export") or _Verdict())
    serve = SimpleNamespace(returncode=0, stdout="runtime p50\n", stderr="")
    monkeypatch.setattr(check.subprocess, "run", lambda *a, **k: calls.append("serve") or serve)
    search = {"fp32": {"identical": 20, "draws": 20, "grouped_ms": 1.0, "masked_ms": 1.2}}
    monkeypatch.setattr(check, "similarity_search", lambda device: calls.append("similarity search") or search)
    root = tmp_path / "ws"
    overrides = ["profile=small", "ds=2026-11-08"]
    meta = Workspace(root, config.load(None, overrides)).layout.dataset_day("2026-11-08") / "meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"rows": 10, "lists": {"train": 1}, "days": ["2026-11-08"], "shards": 1}))
    out = {"facts": FACTS, "profile": "small", "train_days": 1, "steps": 2, "started": "now"}
    check.run_parts(out, tmp_path / "out", root, overrides, "2026-11-08", "cuda", True)
    return out, calls, (tmp_path / "out" / "gpu-check.md").read_text()


def test_a_failed_ddp_run_is_an_error_and_the_other_parts_still_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out, calls, text = _parts(monkeypatch, tmp_path, ddp_rc=1)
    assert out["errors"] == {"ddp": "NCCL error: unhandled"}
    assert calls[0] == "similarity search" and calls[-3:] == ["ddp", "export", "serve"]
    assert "**ddp failed**: `NCCL error: unhandled`" in text and "export gate: PASS" in text
    assert "fp32 20 of 20 bit-identical" in text


def test_a_failed_precision_is_written_down_and_none_trained_stops_what_needs_a_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out, calls, text = _parts(monkeypatch, tmp_path, train_fails=("bf16",))
    assert list(out["errors"]) == ["train bf16"] and "export" in calls and "serve" in calls
    assert "**train bf16 failed**: `RuntimeError: CUDA error in bf16`" in text
    out, calls, text = _parts(monkeypatch, tmp_path / "again", train_fails=("fp32", "bf16"))
    assert out["not_run"] == "DDP, export and serving: no precision trained"
    assert "ddp" not in calls and "export" not in calls and "serve" not in calls


def test_the_similarity_search_part_compares_the_two_searches_for_real() -> None:
    """Part 5 on the CPU: the grouped and masked searches, real torch, identical in every draw (as the tests of
    tests/test_model.py say); the section reports the count and both timings."""
    found = check.similarity_search("cpu", draws=2)
    assert set(found) == {"fp32", "bf16"}
    for figures in found.values():
        assert figures["identical"] == figures["draws"] == 2
        assert figures["grouped_ms"] > 0 and figures["masked_ms"] > 0
    text = check.section(_result(similarity_search=found))
    assert "similarity search, grouped (training's) against masked: fp32 2 of 2 bit-identical" in text
