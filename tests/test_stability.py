"""The stability gate: proportions and relative changes on hand-made numbers, and a real run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hrlrec import config, stability, train
from hrlrec.config import StabilityGateConfig
from hrlrec.verdict import FAIL, PASS, WARN
from tests.conftest import TRAIN_DAYS, model_config, workspace

DS = TRAIN_DAYS[-1]
G = StabilityGateConfig(**{
    **config.load().gates.stability.model_dump(),
    "hour_bucket": 12, "max_relative_change": 0.25, "mean_relative_change": 0.10, "min_share": 0.01,
})  # fmt: skip


def test_proportions_per_hour_bucket() -> None:
    channels = np.array([1, 1, 2, 0, 2, 2, 1, 3])  # 0 = nothing placed
    hours = np.array([1, 5, 11, 11, 13, 20, 23, 23])
    p = stability.proportions(channels, hours, n_channels=3, bucket=12)
    assert np.allclose(p, [[2 / 3, 1 / 3, 0.0], [0.25, 0.5, 0.25]])
    assert np.allclose(p.sum(1), 1.0)


def test_expected_proportions_average_the_policy_over_placements() -> None:
    weights = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.2, 0.2, 0.6]])  # row 3: none placed
    hours = np.array([0, 3, 4, 23])
    p = stability.expected_proportions(weights, hours, bucket=12)
    assert np.allclose(p, [[0.75, 0.25, 0.0], [0.2, 0.2, 0.6]])
    # one-hot weights give the counted proportions
    channels = np.array([1, 1, 2, 0, 2, 2, 1, 3])
    hours = np.array([1, 5, 11, 11, 13, 20, 23, 23])
    assert np.allclose(stability.proportions(channels, hours, 3, 12), [[2 / 3, 1 / 3, 0.0], [0.25, 0.5, 0.25]])


def _record(props: list[list[float]], ds: str = DS) -> dict:
    return {"ds": ds, "channels": ["news", "video"], "hour_bucket": 12, "proportions": props}


def test_relative_change_math_and_the_min_share_skip() -> None:
    now = np.array([[0.55, 0.45], [0.3, 0.7]])
    before = np.array([[0.5, 0.5], [0.005, 0.995]])
    change = stability.relative_changes(now, before, min_share=0.01)
    assert change[0].tolist() == pytest.approx([0.1, 0.1])
    assert np.isnan(change[1, 0])  # a week-ago share of 0.5 % is too small to judge
    assert change[1, 1] == pytest.approx(abs(0.7 / 0.995 - 1))


def test_no_baseline_a_week_back_passes_visibly() -> None:
    v = stability.compare(DS, _record([[0.5, 0.5], [0.5, 0.5]]), None, G)
    assert v.level == PASS and "no baseline a week back" in v.reason


def test_stable_proportions_pass_and_a_shift_fails_with_the_numbers() -> None:
    base = _record([[0.5, 0.5], [0.4, 0.6]], "2026-10-28")
    same = stability.compare(DS, _record([[0.51, 0.49], [0.41, 0.59]]), base, G)
    assert same.level == PASS
    shifted = stability.compare(DS, _record([[0.7, 0.3], [0.4, 0.6]]), base, G)  # news +40 % in one bucket
    assert shifted.level == FAIL
    assert "news: max relative change 40.0% passes 25% by 15.0%" in shifted.reason
    assert shifted.numbers["relative_change"]["news"]["max"] == pytest.approx(0.4)


def test_a_small_steady_drift_fails_on_the_mean_and_near_limits_warn() -> None:
    base = _record([[0.5, 0.5], [0.5, 0.5]], "2026-10-28")
    drift = stability.compare(DS, _record([[0.56, 0.44], [0.56, 0.44]]), base, G)  # 12 % in every bucket
    assert drift.level == FAIL and "mean relative change 12.0% passes 10%" in drift.reason
    near = stability.compare(DS, _record([[0.545, 0.455], [0.545, 0.455]]), base, G)  # 9 %: 90 % of the limit
    assert near.level == WARN


def test_a_real_run_records_the_day_and_compares_with_production_a_week_back(ws: Path) -> None:
    cfg = model_config("gates.stability.max_requests=64", "gates.stability.pool_per_channel=20")
    w = workspace(ws, cfg)
    train.run(w, DS, models=["hrlrec"], progress=False)
    first = stability.run(w, DS)
    assert first.level == PASS and "no baseline a week back" in first.reason
    record = json.loads(w.layout.stability_record("candidate", DS).read_text())
    props = np.array(record["proportions"])
    assert props.shape == (24 // cfg.gates.stability.hour_bucket, len(cfg.channels))
    assert np.allclose(props.sum(1)[props.sum(1) > 0], 1.0)
    metrics = json.loads(w.layout.result("stability").read_text())
    assert metrics["verdict"] == PASS and metrics["thresholds"]["max_relative_change"] == 0.25

    # Production's record a week back, identical: PASS; rotated between channels: FAIL.
    week_ago = "2026-10-28"
    baseline = w.layout.stability_record("production", week_ago)
    baseline.parent.mkdir(parents=True, exist_ok=True)
    baseline.write_text(json.dumps({**record, "ds": week_ago}))
    assert stability.run(w, DS).level == PASS
    rotated = np.roll(props, 1, axis=1)
    baseline.write_text(json.dumps({**record, "ds": week_ago, "proportions": rotated.tolist()}))
    verdict = stability.run(w, DS)
    assert verdict.level == FAIL and verdict.exit_code == 1
