"""bench/lr_step.py's choice rule on crafted fits: pairing, the interval and the largest eligible step."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from hrlrec.evaluation.intervals import bootstrap_interval

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_lr_step", ROOT / "bench" / "lr_step.py")
lr_step = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lr_step)

DAYS, SEEDS = ["2026-11-02", "2026-11-04"], [1, 2, 3]


def _fits(shift: dict[float, float], spread: float = 0.0) -> list[dict]:
    """Fits whose validation AUC under step s is the control's plus shift[s] (plus per-pair noise of `spread`)."""
    rng = np.random.default_rng(0)
    out = []
    for day in DAYS:
        for seed in SEEDS:
            base = 0.75 + 0.001 * seed  # pairs differ from each other; pairing must remove it
            for step, delta in shift.items():
                noise = spread * rng.normal() if step != 0.005 else 0.0
                out.append({"day": day, "seed": seed, "step": step, "val_auc": base + delta + noise,
                            "test_auc": base, "epochs": 10, "seconds": 1.0})  # fmt: skip
    return out


def test_pairs_take_the_difference_within_each_day_and_seed() -> None:
    diffs = lr_step.paired(_fits({0.005: 0.0, 0.02: -0.0003}), 0.005, 0.02, "val_auc")
    assert len(diffs) == len(DAYS) * len(SEEDS)
    np.testing.assert_allclose(diffs, -0.0003, atol=1e-12)


def test_a_pair_missing_its_control_is_left_out() -> None:
    fits = [f for f in _fits({0.005: 0.0, 0.02: 0.0}) if not (f["seed"] == 1 and f["step"] == 0.005)]
    assert len(lr_step.paired(fits, 0.005, 0.02, "val_auc")) == len(DAYS) * (len(SEEDS) - 1)


def test_the_largest_eligible_step_is_chosen_and_a_worse_one_is_not() -> None:
    steps = [0.005, 0.01, 0.02]
    assert lr_step.judge(_fits({0.005: 0.0, 0.01: -0.0002, 0.02: -0.0004}), steps) == 0.02
    assert lr_step.judge(_fits({0.005: 0.0, 0.01: -0.0002, 0.02: -0.0008}), steps) == 0.01  # mean below -0.0005
    # mean above the floor, but so noisy that the interval's lower end falls under -0.001
    noisy = _fits({0.005: 0.0, 0.01: 0.0, 0.02: 0.0}, spread=0.004)
    diffs = lr_step.paired(noisy, 0.005, 0.02, "val_auc")
    assert diffs.mean() >= lr_step.MEAN_FLOOR and bootstrap_interval(diffs)[0] < lr_step.LOWER_FLOOR
    assert not lr_step.eligible(diffs)
    assert lr_step.judge(_fits({0.005: 0.0, 0.01: -0.001, 0.02: -0.001}), steps) == 0.005  # the control stands
