"""The stability gate: proportions and relative changes on hand-made numbers, and a real run."""

from __future__ import annotations

import datetime as dt
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


def test_bucket_shares_standard_error_is_the_spread_of_request_shares() -> None:
    rng = np.random.default_rng(0)
    k, m = 10, 40  # every request places 10 items
    share = rng.dirichlet([2.0, 1.0, 1.0], size=m)
    per_request = share * k
    hours = np.concatenate([np.full(m // 2, 3), np.full(m // 2, 15)])
    props, stderr, requests = stability.bucket_shares(per_request, hours, bucket=12)
    assert requests.tolist() == [m // 2, m // 2]
    for b, rows in enumerate((slice(0, m // 2), slice(m // 2, m))):
        assert np.allclose(props[b], share[rows].mean(0))
        assert np.allclose(stderr[b], share[rows].std(0, ddof=1) / np.sqrt(m // 2))
    lone = stability.bucket_shares(per_request[:1], hours[:1], bucket=12)[1]
    assert np.isinf(lone).all()  # one request: no error estimate, so no change there can FAIL


def _noise_records(rng: np.random.Generator, population: np.ndarray, hours: np.ndarray, n: int) -> dict:
    rows = rng.choice(len(population), size=n, replace=False)
    props, stderr, _ = stability.bucket_shares(population[rows], hours[rows], bucket=12)
    return {"ds": DS, "channels": ["news", "video"], "hour_bucket": 12, "proportions": props.tolist(),
            "stderr": stderr.tolist()}  # fmt: skip


def test_the_noise_floor_holds_pure_sampling_noise_about_95_percent_of_the_time() -> None:
    """Two samples of one stable population: |change| passes its 1.96-sigma floor in ~5 % of cells."""
    rng = np.random.default_rng(7)
    size, k = 20_000, 10
    news = rng.beta(2.0, 6.0, size)  # a ~25 % channel, varying by user
    population = np.stack([news, 1 - news], 1) * k
    hours = rng.integers(0, 24, size)
    beyond, beyond_mean, cells, trials = 0, 0, 0, 300
    for _ in range(trials):
        a, b = _noise_records(rng, population, hours, 200), _noise_records(rng, population, hours, 200)
        change = stability.relative_changes(np.array(a["proportions"]), np.array(b["proportions"]), 0.01)
        sigma = stability.relative_noise(a, b)
        beyond += int((change > 1.96 * sigma).sum())
        cells += change.size
        beyond_mean += int(np.nanmean(change[:, 0]) > stability.mean_floor(sigma[:, 0], 1.96))
    assert 0.02 < beyond / cells < 0.09
    assert beyond_mean / trials < 0.09


def test_a_change_within_its_noise_floor_warns_and_never_fails() -> None:
    base = {**_record([[0.5, 0.5], [0.4, 0.6]], "2026-10-28"), "stderr": [[0.01, 0.01], [0.01, 0.01]]}
    moved = [[0.7, 0.3], [0.4, 0.6]]  # news +40 % in one bucket
    precise = stability.compare(DS, {**_record(moved), "stderr": [[0.01, 0.01], [0.01, 0.01]]}, base, G)
    assert precise.level == FAIL and "noise floor" in precise.reason
    noisy_base = {**base, "stderr": [[0.12, 0.12], [0.12, 0.12]]}
    noisy = stability.compare(DS, {**_record(moved), "stderr": [[0.12, 0.12], [0.12, 0.12]]}, noisy_base, G)
    assert noisy.level == WARN
    assert "within its noise floor" in noisy.reason and "max_requests" in noisy.reason
    floor = noisy.numbers["relative_change"]["news"]["floor_max"]
    assert floor > 0.4 and noisy.numbers["noise_floor"][0][0] == pytest.approx(floor)
    # records without standard errors (written before the floor existed): judged on the change alone
    assert stability.compare(DS, _record(moved), noisy_base, G).level == FAIL


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
    assert sum(record["bucket_requests"]) == record["requests"] == 64
    assert np.array(record["stderr"], dtype=float).shape == props.shape
    assert set(record["split_half"]) == set(cfg.channels)
    metrics = json.loads(w.layout.result("stability").read_text())
    assert metrics["verdict"] == PASS and metrics["thresholds"]["max_relative_change"] == 0.25

    # Production's record a week back, identical: PASS; rotated between channels: FAIL.
    week_ago = "2026-10-28"
    baseline = w.layout.stability_record("production", week_ago)
    baseline.parent.mkdir(parents=True, exist_ok=True)
    baseline.write_text(json.dumps({**record, "ds": week_ago}))
    assert stability.run(w, DS).level == PASS
    rotated = np.roll(props, 1, axis=1)
    precise = np.zeros_like(props).tolist()  # a baseline without sampling error: any real change counts
    baseline.write_text(json.dumps({**record, "ds": week_ago, "proportions": rotated.tolist(), "stderr": precise}))
    verdict = stability.run(w, DS)
    assert verdict.level == FAIL and verdict.exit_code == 1


def test_production_is_recorded_every_day_so_a_rejected_day_still_leaves_next_week_a_baseline(ws: Path) -> None:
    """The hole: a rejected day was never promoted, so a week later the gate found no record and PASSed."""
    from hrlrec import publish, registry
    from hrlrec.layout import week_before
    from hrlrec.serving import export

    small = ("gates.stability.max_requests=64", "gates.stability.pool_per_channel=20", "registry.publish_requires=[]")
    w = workspace(ws, model_config(*small))
    train.run(w, DS, models=["hrlrec"], progress=False)
    export.run(w, DS)
    production = registry.get(w, publish.run(w, DS).version)

    # The next candidate (another seed) is judged and never published.
    w9 = workspace(ws, model_config(*small, "seed=9"))
    train.run(w9, DS, models=["hrlrec"], progress=False)
    stability.run(w9, DS)
    candidate = json.loads(w9.layout.stability_record("candidate", DS).read_text())
    served = json.loads(w9.layout.stability_record("production", DS).read_text())
    assert served["role"] == "production" and served["version"] == production.name
    assert served["model_sha256"] == production.meta["model_hashes"]["hrlrec"] != candidate["model_sha256"]
    assert served["requests"] == candidate["requests"] == 64  # the same requests, ranked by each model
    # A week later this record is the baseline, though the day's candidate was rejected.
    next_week = (dt.date.fromisoformat(DS) + dt.timedelta(days=7)).isoformat()
    assert w9.layout.stability_record("production", week_before(next_week)) == w9.layout.stability_record(
        "production", DS
    )


def test_the_logged_mix_per_bucket_is_the_days_top_k_shares(trained_workspace: Path) -> None:
    import pyarrow.parquet as pq

    ws = workspace(trained_workspace)
    ds = TRAIN_DAYS[-1]
    shares = stability.logged_proportions(ws, ds)
    assert shares.shape == (24 // ws.cfg.gates.stability.hour_bucket, len(ws.cfg.channels))
    np.testing.assert_allclose(shares.sum(1), 1.0)
    # weighted by each bucket's impressions, the buckets give the day's top-K channel shares
    day = pq.read_table(ws.layout.raw_day(ds), columns=["event_time", "channel", "position"]).to_pandas()
    day = day[day.position < ws.cfg.list_len]
    per_bucket = np.bincount(day.event_time.dt.hour // ws.cfg.gates.stability.hour_bucket, minlength=len(shares))
    whole = [np.mean(day.channel == c) for c in ws.cfg.channels]
    np.testing.assert_allclose(per_bucket @ shares / per_bucket.sum(), whole)


def test_the_gate_reuses_the_ranking_the_true_value_measurement_kept_and_records_the_same(ws: Path) -> None:
    """evaluate's true-value lists and this gate rank the same sample with the same model: ranked once."""
    import shutil

    from hrlrec.candidates import load_candidate
    from hrlrec.evaluation import truth

    w = workspace(ws, model_config("gates.stability.max_requests=64", "gates.stability.pool_per_channel=20"))
    train.run(w, DS, models=["hrlrec"], progress=False)
    cand = load_candidate(w, DS)
    assert truth.measure(w, DS, cand.stream, {"candidate": (cand.model, cand.spec)})["measured"]
    kept = sorted(w.layout.memo_day(DS).glob("*.npz"))
    assert len(kept) == 1
    stability.run(w, DS)
    assert sorted(w.layout.memo_day(DS).glob("*.npz")) == kept  # a hit: nothing new was ranked
    shared = json.loads(w.layout.stability_record("candidate", DS).read_text())
    shutil.rmtree(w.layout.memo)
    stability.run(w, DS)
    assert json.loads(w.layout.stability_record("candidate", DS).read_text()) == shared
