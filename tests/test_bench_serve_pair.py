"""bench/serve_pair.py reads both commits' bench/serve.py tables and judges ratios by their intervals."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_serve_pair", ROOT / "bench" / "serve_pair.py")
pair = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pair)


def _table(ort: tuple[float, float], torch: tuple[float, float], rps: tuple[int, int]) -> str:
    """What bench/serve.py prints (the same layout in every commit since 2026-11-29)."""
    lines = ["workspace /w, day 2026-11-08: pool 800 candidates (200/200/200/200 per channel)", "",
             f"{'runtime':<15}{'backend':<18}{'p50 ms':>9}{'p99 ms':>9}{'requests/s':>12}"]  # fmt: skip
    for name, backend, (p50, p99) in (("onnxruntime", "onnxruntime-cpu", ort), ("pytorch eager", "torch-cpu", torch)):
        lines.append(f"{name:<15}{backend:<18}{p50:>9.2f}{p99:>9.2f}")
    for name, backend, r in (("onnxruntime", "onnxruntime-cpu", rps[0]), ("pytorch eager", "torch-cpu", rps[1])):
        lines.append(f"{name:<15}{backend:<18}{'':>18}{r:>12.0f}")
    return "\n".join(lines) + "\n\nPyTorch / onnxruntime p50 latency: 3.00x; onnxruntime / PyTorch throughput: 2.00x\n"


def test_a_serve_table_is_read_whole_and_a_cut_one_is_refused() -> None:
    text = _table((3.21, 6.5), (10.0, 19.25), (512, 201))
    assert pair.parsed(text) == {"ort_p50": 3.21, "ort_p99": 6.5, "torch_p50": 10.0, "torch_p99": 19.25,
                                 "ort_rps": 512.0, "torch_rps": 201.0}  # fmt: skip
    cut = "\n".join(text.splitlines()[:-4])  # killed before the throughput rows
    with pytest.raises(ValueError, match="no complete table"):
        pair.parsed(cut)


def test_ratios_are_judged_by_their_interval_not_their_mean() -> None:
    old = {"ort_p50": 5.0, "ort_p99": 10.0, "torch_p50": 12.0, "torch_p99": 20.0, "ort_rps": 200.0, "torch_rps": 100.0}
    clear = [{"old": old, "new": {**old, "ort_p99": p99, "ort_p50": 3.0, "torch_p50": 12.0, "ort_rps": 600.0}}
             for p99 in (5.0, 5.5, 6.0, 5.2)]  # fmt: skip
    out = pair.summary(clear)
    assert out["new_over_old"]["ort_p99"][0] == pytest.approx(0.5425)
    assert out["verdicts"]["onnxruntime p99 new / old <= 0.7"] == "met"
    assert out["verdicts"]["onnxruntime requests/s new / old >= 2.5"] == "met"
    assert out["verdicts"]["PyTorch / onnxruntime p50 (new) >= 3"] == "met"  # 12 / 3 = 4 every round
    # A mean under the target whose interval reaches over it: not shown; all of it over: not met.
    noisy = [{"old": old, "new": {**old, "ort_p99": p99}} for p99 in (4.0, 9.0, 5.0, 8.0)]
    assert pair.verdict(pair.summary(noisy)["new_over_old"]["ort_p99"], 0.7, at_most=True).startswith("not shown")
    assert pair.verdict((0.9, 0.8, 1.0), 0.7, at_most=True) == "not met"
    one_round = pair.summary(clear[:1])["verdicts"]["onnxruntime p99 new / old <= 0.7"]
    assert one_round.startswith("not shown")  # one round has no interval
