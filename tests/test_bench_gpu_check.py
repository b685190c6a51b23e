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
