"""bench/train.py's ratio lines: one run as it was, several runs with the mean of per-run ratios and an interval."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_train", ROOT / "bench" / "train.py")
bench_train = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_train)


def _rows(rates: list[dict[str, float]]) -> list[dict]:
    return [{"run": i, "model": m, "impressions_per_s": v} for i, run in enumerate(rates, 1) for m, v in run.items()]


def test_one_run_prints_each_ratio_alone() -> None:
    lines = bench_train.ratio_lines(_rows([{"hrlrec": 20.0, "deepfm": 100.0, "autoint": 40.0}]))
    assert lines == ["HRL-Rec / deepfm throughput: 0.20x", "HRL-Rec / autoint throughput: 0.50x"]


def test_several_runs_pair_each_ratio_within_its_run() -> None:
    """Run 2 is twice as fast for every model (a quieter machine): its ratio is the same, the interval closes."""
    lines = bench_train.ratio_lines(_rows([{"hrlrec": 20.0, "deepfm": 100.0, "autoint": 40.0},
                                           {"hrlrec": 40.0, "deepfm": 200.0, "autoint": 80.0}]))  # fmt: skip
    assert lines[1] == "HRL-Rec / autoint throughput: 0.50x [0.50, 0.50] over 2 runs (0.50, 0.50)"


def test_the_interval_is_the_95_percent_t_interval_of_the_runs() -> None:
    """Ratios 0.40, 0.45, 0.50: sd 0.05, t(2) = 4.303, half-width 4.303 x 0.05 / sqrt(3) = 0.124."""
    rates = [{"hrlrec": h, "deepfm": 100.0, "autoint": 40.0} for h in (16.0, 18.0, 20.0)]
    line = bench_train.ratio_lines(_rows(rates))[1]
    assert line == "HRL-Rec / autoint throughput: 0.45x [0.33, 0.57] over 3 runs (0.40, 0.45, 0.50)"
