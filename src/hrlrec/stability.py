"""The stability gate (paper 4.8): channel proportions of the candidate's lists, week over week.

The candidate ranks the day's requests (a seeded sample of its lists, with the
day's most impressed items per channel as candidates) with the serving policy
of params.yaml; the share of each channel among the placed items, per hour
bucket, is the day's *record* (for channels drawn from the policy, the
expected share: the mean of pi(c | s) over the placements). It is
compared with production's record for the same weekday one week earlier:
relative change |p / p_week_ago - 1| per channel and bucket; a channel whose
largest or mean change passes its threshold fails the gate. Without a record
a week back the verdict is PASS with the reason "no baseline a week back", so
the first week of a deployment does not block.

Noise floor. A record is a sample of the day's requests, so its shares carry
sampling noise: a 4-hour night bucket holds a few percent of the sample. Each
record keeps the standard error of every share (ratio estimator over the
requests of the bucket) and, as a measured check of it, the change between
two disjoint halves of its requests. A change's floor is `noise_z` standard
errors of the difference of two independent records; a change that passes a
threshold but not its floor is WARN ("within the noise floor"), never FAIL.

Records: data/stability/candidate/ds=D.json (written here) and
data/stability/production/ds=D.json (written when a candidate is published).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from torch import nn

from hrlrec import atomic, registry, results
from hrlrec.candidates import dataset, load_candidate, load_for
from hrlrec.config import StabilityGateConfig
from hrlrec.data.batches import Stream
from hrlrec.errors import BadInput
from hrlrec.layout import week_before
from hrlrec.models.spec import ModelSpec
from hrlrec.serving import memo
from hrlrec.serving.ranker import ServingPolicy, day_requests
from hrlrec.verdict import FAIL, PASS, WARN, Check, Verdict, decide
from hrlrec.workspace import Workspace

log = logging.getLogger(__name__)


def proportions(channels: np.ndarray, hours: np.ndarray, n_channels: int, bucket: int) -> np.ndarray:
    """Share of each channel (1..C) among placed items per hour bucket: (24 / bucket, C), rows sum to 1."""
    return expected_proportions(one_hot(channels, n_channels), hours, bucket)


def logged_proportions(ws: Workspace, ds: str) -> np.ndarray:
    """(buckets, channels): each channel's share of the day's logged top-K impressions per hour bucket.

    The logs' own mix, in the gate's buckets: what a candidate's record is read against when asking
    whether the model or the world moved (bench/logged_drift.py, bench/tune_policy.py).
    """
    cfg = ws.cfg
    table = pq.read_table(ws.layout.raw_day(ds), columns=["event_time", "channel", "position"]).to_pandas()
    table = table[table.position < cfg.list_len]
    bucket = table.event_time.dt.hour // cfg.gates.stability.hour_bucket
    n = 24 // cfg.gates.stability.hour_bucket
    return np.array([[np.mean(table.channel[bucket == b] == c) for c in cfg.channels] for b in range(n)])


def one_hot(channels: np.ndarray, n_channels: int) -> np.ndarray:
    """Placed channel ids (1..C; 0 = nothing placed) as weights (n, C): a row of zeros where nothing was."""
    channels = np.asarray(channels).ravel()
    placed = channels > 0
    weights = np.zeros((len(channels), n_channels))
    weights[np.flatnonzero(placed), channels[placed] - 1] = 1.0
    return weights


def expected_proportions(weights: np.ndarray, hours: np.ndarray, bucket: int) -> np.ndarray:
    """Per hour bucket, each channel's share of the placements' channel weights (n, C): (24 / bucket, C).

    A placement's weights are its channel one-hot, or, for a channel drawn from the policy, the
    policy's probabilities pi(c | s) at that position: the same expected proportions as the drawn
    channels, without the noise of the draw (the lists themselves still follow the draws).
    """
    counts = np.zeros((24 // bucket, weights.shape[1]))
    np.add.at(counts, hours // bucket, weights)
    totals = counts.sum(1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def request_weights(weights: np.ndarray, list_len: int) -> np.ndarray:
    """Per-placement channel weights (B * K, C) summed per request: (B, C); a row's sum is its placements."""
    return weights.reshape(-1, list_len, weights.shape[1]).sum(1)


def bucket_shares(per_request: np.ndarray, hours: np.ndarray, bucket: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shares per hour bucket from per-request channel weights (B, C), with their standard errors.

    Returns (shares, stderr, requests): (24 / bucket, C) twice and (24 / bucket,). A share is a
    ratio of sums over the bucket's requests (channel weight / placements), so its standard error
    is the ratio estimator's: sqrt(m / (m - 1) * sum_i (w_i - p n_i)^2) / sum_i n_i over the m
    requests i of the bucket. Buckets with fewer than 2 requests get an infinite error.
    """
    n_buckets, n_channels = 24 // bucket, per_request.shape[1]
    which = hours // bucket
    placements = per_request.sum(1)
    shares = expected_proportions(per_request, hours, bucket)
    stderr = np.full((n_buckets, n_channels), np.inf)
    requests = np.bincount(which, minlength=n_buckets)
    for b in range(n_buckets):
        rows = which == b
        m, total = int(rows.sum()), float(placements[rows].sum())
        if m < 2 or total <= 0:
            continue
        residual = per_request[rows] - shares[b] * placements[rows, None]
        stderr[b] = np.sqrt(m / (m - 1) * (residual**2).sum(0)) / total
    return shares, stderr, requests


def split_half_changes(
    per_request: np.ndarray, hours: np.ndarray, bucket: int, min_share: float, seed: int, channels: list[str]
) -> dict[str, dict[str, float | None]]:
    """The same model's change between two disjoint random halves of its requests, per channel.

    A measured noise check that needs no formula: each half holds half the requests, so this
    change is about sqrt(2) times the noise of comparing two full records of the same model.
    """
    order = np.random.default_rng([seed, 49]).permutation(len(per_request))
    a, b = order[: len(order) // 2], order[len(order) // 2 :]
    change = relative_changes(
        expected_proportions(per_request[a], hours[a], bucket),
        expected_proportions(per_request[b], hours[b], bucket),
        min_share,
    )
    out: dict[str, dict[str, float | None]] = {}
    for c, name in enumerate(channels):
        col = change[:, c]
        finite = not np.isnan(col).all()
        out[name] = {
            "max": float(np.nanmax(col)) if finite else None,
            "mean": float(np.nanmean(col)) if finite else None,
        }
    return out


def relative_noise(record: dict[str, Any], baseline: dict[str, Any]) -> np.ndarray | None:
    """Standard error of the relative change now / before - 1 per bucket and channel (delta method).

    sd(now / before) ~= sqrt(se_now^2 + (now / before)^2 se_before^2) / before. None when either
    record predates standard errors (the floor is then unknown and the gate judges the change alone).
    """
    if record.get("stderr") is None or baseline.get("stderr") is None:
        return None
    now, before = np.array(record["proportions"], float), np.array(baseline["proportions"], float)
    se_now, se_before = np.array(record["stderr"], float), np.array(baseline["stderr"], float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(before > 0, now / before, 0.0)
        return np.sqrt(se_now**2 + (ratio * se_before) ** 2) / before


def mean_floor(sigma: np.ndarray, z: float) -> float:
    """Floor of the mean of |change| over k buckets whose changes are pure noise N(0, sigma_b).

    E|N(0, s)| = s sqrt(2 / pi) and Var|N(0, s)| = s^2 (1 - 2 / pi), so the mean of k of them
    lies below mean(s) sqrt(2 / pi) + z sqrt(sum s^2 (1 - 2 / pi)) / k with probability ~Phi(z).
    """
    k = len(sigma)
    if k == 0:
        return 0.0
    spread = np.sqrt((sigma**2).sum() * (1 - 2 / np.pi)) / k
    return float(sigma.mean() * np.sqrt(2 / np.pi) + z * spread)


def relative_changes(now: np.ndarray, before: np.ndarray, min_share: float) -> np.ndarray:
    """|now / before - 1| per bucket and channel; NaN where the week-ago share is under `min_share`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.abs(now / before - 1.0)
    return np.where(before >= max(min_share, 1e-12), change, np.nan)


def _check(
    name: str, stat: str, value: float, limit: float, floor: float, g: StabilityGateConfig,
    level: str | None = None, noise: bool = False,
) -> Check:  # fmt: skip
    """One channel statistic's check; its sentence gives the change, the limit and the noise floor."""
    tail = f" (noise floor {floor:.1%})" if floor > 0 else ""
    if level == FAIL:
        words = f"{name}: {stat} relative change {value:.1%} passes {limit:.0%} by {value - limit:.1%}{tail}"
        return Check(f"{name}.{stat}", FAIL, value, limit, words)
    if noise:
        words = (f"{name}: {stat} relative change {value:.1%} passes {limit:.0%} but lies within its noise "
                 f"floor {floor:.1%}: rank more requests (gates.stability.max_requests) to tell")  # fmt: skip
        return Check(f"{name}.{stat}", WARN, value, limit, words)
    if value > g.warn_fraction * limit:
        return Check(f"{name}.{stat}", WARN, value, limit, f"{name}: {stat} relative change {value:.1%} is near "
                     f"{limit:.0%}{tail}")  # fmt: skip
    words = f"{name}: {stat} relative change {value:.1%} <= {limit:.0%}{tail}"
    return Check(f"{name}.{stat}", PASS, value, limit, words)


def compare(ds: str, record: dict[str, Any], baseline: dict[str, Any] | None, g: StabilityGateConfig) -> Verdict:
    """The gate's decision from two records (pure: what the tests craft proportions for)."""
    channels = record["channels"]
    numbers: dict[str, Any] = {
        "channels": channels,
        "hour_bucket": record["hour_bucket"],
        "record": record["proportions"],
        "baseline_ds": baseline["ds"] if baseline else None,
    }
    if baseline is None:
        check = Check("baseline", PASS, None, None, "no baseline a week back: nothing to compare with")
        return decide("stability", ds, [check], numbers)
    change = relative_changes(np.array(record["proportions"]), np.array(baseline["proportions"]), g.min_share)
    sigma = relative_noise(record, baseline)
    floor = None if sigma is None else np.where(np.isnan(change), np.nan, g.noise_z * sigma)
    numbers["noise_floor"] = None if floor is None else np.where(np.isfinite(floor), floor, None).tolist()
    checks, per_channel = [], {}
    for c, name in enumerate(channels):
        col = change[:, c]
        if np.isnan(col).all():
            per_channel[name] = {"max": None, "mean": None, "floor_max": None, "floor_mean": None}
            continue
        seen = ~np.isnan(col)
        worst = int(np.nanargmax(col))
        mx, mean = float(col[worst]), float(np.nanmean(col))
        floor_col = np.zeros_like(col) if floor is None else floor[:, c]
        floor_mx = float(floor_col[worst])
        floor_mean = 0.0 if sigma is None else mean_floor(sigma[seen, c], g.noise_z)
        per_channel[name] = {
            "max": mx,
            "mean": mean,
            "floor_max": None if floor is None else floor_mx,
            "floor_mean": None if sigma is None else floor_mean,
        }
        # max: FAIL only where a bucket passes the limit *and* its own noise floor.
        over = seen & (col > g.max_relative_change)
        real = over & (col > floor_col)
        if real.any():
            b = int(np.flatnonzero(real)[np.argmax(col[real])])
            checks.append(_check(name, "max", float(col[b]), g.max_relative_change, float(floor_col[b]), g, FAIL))
        elif over.any():
            checks.append(_check(name, "max", mx, g.max_relative_change, floor_mx, g, WARN, noise=True))
        else:
            checks.append(_check(name, "max", mx, g.max_relative_change, floor_mx, g))
        if mean > g.mean_relative_change and mean > floor_mean:
            checks.append(_check(name, "mean", mean, g.mean_relative_change, floor_mean, g, FAIL))
        elif mean > g.mean_relative_change:
            checks.append(_check(name, "mean", mean, g.mean_relative_change, floor_mean, g, WARN, noise=True))
        else:
            checks.append(_check(name, "mean", mean, g.mean_relative_change, floor_mean, g))
    numbers["relative_change"] = per_channel
    numbers["baseline"] = baseline["proportions"]
    return decide("stability", ds, checks, numbers)


def record_of(
    ws: Workspace, ds: str, model: nn.Module, spec: ModelSpec, sha256: str, stream: Stream,
    sample: np.ndarray, pool: np.ndarray, role: str,
) -> dict[str, Any]:  # fmt: skip
    """Rank `sample` with `model` (the serving policy of params.yaml); the proportions, their errors, who ranked."""
    cfg, g = ws.cfg, ws.cfg.gates.stability
    policy = ServingPolicy.of(cfg.serving)
    ranking = memo.ranked(ws.layout.memo_day(ds), model, spec, stream, sample, pool, policy, cfg.seed)
    hour = stream.cat[stream.offset[sample], stream.column("hour")].cpu().numpy() - 1  # ids are hour + 1
    n_channels = len(spec.channels)
    if policy.channel_choice == "sample":
        weights = ranking.channel_probs.reshape(-1, n_channels).astype(np.float64)
    else:
        weights = one_hot(ranking.channels, n_channels)
    per_request = request_weights(weights, spec.list_len)
    props, stderr, requests = bucket_shares(per_request, hour, g.hour_bucket)
    halves = split_half_changes(per_request, hour, g.hour_bucket, g.min_share, cfg.seed, list(spec.channels))
    return {
        "ds": ds,
        "weekday": dt.date.fromisoformat(ds).strftime("%A"),
        "role": role,
        "channels": list(spec.channels),
        "hour_bucket": g.hour_bucket,
        "requests": len(sample),
        "serving_policy": {"channel_choice": policy.channel_choice, "epsilon": policy.epsilon, "seed": cfg.seed},
        "proportions": props.tolist(),
        "stderr": np.where(np.isfinite(stderr), stderr, None).tolist(),
        "bucket_requests": requests.tolist(),
        "split_half": halves,
        "model_sha256": sha256,
    }


def build_record(ws: Workspace, ds: str) -> dict[str, Any]:
    """Rank a seeded sample of the day's requests with the candidate; return its proportions."""
    g = ws.cfg.gates.stability
    candidate = load_candidate(ws, ds)
    sample, pool = day_requests(candidate.stream, ws.cfg.seed, g.max_requests, g.pool_per_channel)
    return record_of(ws, ds, candidate.model, candidate.spec, candidate.sha256, candidate.stream, sample, pool,
                     "candidate")  # fmt: skip


def record_production(ws: Workspace, ds: str) -> dict[str, Any] | None:
    """Production's record of `ds`: the same sample ranked by the production model serving that day.

    Written every day whether or not the day's candidate is later published (publish then replaces
    it with the candidate's record), so a week later the baseline exists even after a rejected
    day; only a workspace's first week has none. None when there is no production model or it
    cannot score today's features (a version trained on another vocabulary): then logged.
    """
    prod = registry.production(ws)
    if prod is None:
        return None
    g = ws.cfg.gates.stability
    stream = dataset(ws, ds)
    try:
        loaded = load_for(prod.weights(), stream)
    except BadInput as exc:
        log.warning("production %s cannot rank %s, so no production record for the day: %s", prod.name, ds, exc)
        return None
    sample, pool = day_requests(stream, ws.cfg.seed, g.max_requests, g.pool_per_channel)
    record = record_of(ws, ds, loaded.model, loaded.spec, loaded.sha256, stream, sample, pool, "production")
    record["version"] = prod.name
    atomic.write_text(ws.layout.stability_record("production", ds), json.dumps(record, indent=2) + "\n")
    return record


def run(ws: Workspace, ds: str) -> Verdict:
    """Record the candidate's proportions for `ds`, compare with production's a week back, write the verdict."""
    cfg, layout = ws.cfg, ws.layout
    record = build_record(ws, ds)
    atomic.write_text(layout.stability_record("candidate", ds), json.dumps(record, indent=2) + "\n")
    record_production(ws, ds)  # next week's baseline, whatever becomes of this candidate
    baseline_file = layout.stability_record("production", week_before(ds))
    baseline = json.loads(baseline_file.read_text()) if baseline_file.is_file() else None
    if baseline is not None and (
        baseline["channels"] != record["channels"] or baseline["hour_bucket"] != record["hour_bucket"]
    ):
        raise BadInput(f"{baseline_file}: recorded for other channels or hour buckets; cannot compare")
    verdict = compare(ds, record, baseline, cfg.gates.stability)
    verdict.model_sha256 = record["model_sha256"]
    body = {**verdict.to_json(), "thresholds": cfg.gates.stability.model_dump()}
    results.write(layout, "stability", ds, body)
    results.write_plots(layout)
    log.info("stability gate %s: %s", ds, verdict.reason)
    return verdict


def promote_record(ws: Workspace, ds: str) -> None:
    """The published candidate's record becomes production's record for `ds`."""
    source = ws.layout.stability_record("candidate", ds)
    if source.is_file():
        atomic.write_text(ws.layout.stability_record("production", ds), source.read_text())
