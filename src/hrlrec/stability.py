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

Records: data/stability/candidate/ds=D.json (written here) and
data/stability/production/ds=D.json (written when a candidate is published).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import numpy as np

from hrlrec import atomic, results
from hrlrec.candidates import load_candidate
from hrlrec.config import StabilityGateConfig
from hrlrec.errors import BadInput
from hrlrec.layout import week_before
from hrlrec.serving.backends import TorchBackend
from hrlrec.serving.ranker import Ranker, ServingPolicy, day_requests, rank_lists
from hrlrec.verdict import FAIL, PASS, WARN, Check, Verdict, decide
from hrlrec.workspace import Workspace

log = logging.getLogger(__name__)


def proportions(channels: np.ndarray, hours: np.ndarray, n_channels: int, bucket: int) -> np.ndarray:
    """Share of each channel (1..C) among placed items per hour bucket: (24 / bucket, C), rows sum to 1."""
    placed = channels > 0
    weights = np.zeros((len(channels), n_channels))
    weights[np.flatnonzero(placed), channels[placed] - 1] = 1.0
    return expected_proportions(weights, hours, bucket)


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


def relative_changes(now: np.ndarray, before: np.ndarray, min_share: float) -> np.ndarray:
    """|now / before - 1| per bucket and channel; NaN where the week-ago share is under `min_share`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.abs(now / before - 1.0)
    return np.where(before >= max(min_share, 1e-12), change, np.nan)


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
    checks, per_channel = [], {}
    for c, name in enumerate(channels):
        col = change[:, c]
        if np.isnan(col).all():
            per_channel[name] = {"max": None, "mean": None}
            continue
        mx, mean = float(np.nanmax(col)), float(np.nanmean(col))
        per_channel[name] = {"max": mx, "mean": mean}
        for stat, value, limit in (("max", mx, g.max_relative_change), ("mean", mean, g.mean_relative_change)):
            if value > limit:
                level, words = (
                    FAIL,
                    f"{name}: {stat} relative change {value:.1%} passes {limit:.0%} by {value - limit:.1%}",
                )
            elif value > g.warn_fraction * limit:
                level, words = WARN, f"{name}: {stat} relative change {value:.1%} is near {limit:.0%}"
            else:
                level, words = PASS, f"{name}: {stat} relative change {value:.1%} <= {limit:.0%}"
            checks.append(Check(f"{name}.{stat}", level, value, limit, words))
    numbers["relative_change"] = per_channel
    numbers["baseline"] = baseline["proportions"]
    return decide("stability", ds, checks, numbers)


def build_record(ws: Workspace, ds: str) -> dict[str, Any]:
    """Rank a seeded sample of the day's requests with the candidate; return its proportions."""
    cfg = ws.cfg
    g = cfg.gates.stability
    candidate = load_candidate(ws, ds)
    stream, spec = candidate.stream, candidate.spec
    ranker = Ranker(TorchBackend(candidate.model), stream.cat_columns, spec.list_len)
    sample, pool = day_requests(stream, cfg.seed, g.max_requests, g.pool_per_channel)
    policy = ServingPolicy.of(cfg.serving)
    ranking = rank_lists(ranker, stream, sample, pool, spec.history_len, policy, cfg.seed)
    hour = stream.cat[stream.offset[sample], stream.column("hour")].cpu().numpy() - 1  # ids are hour + 1
    hr = np.repeat(hour[:, None], spec.list_len, axis=1).ravel()
    if policy.channel_choice == "sample":
        weights = ranking.channel_probs.reshape(-1, len(spec.channels)).astype(np.float64)
        props = expected_proportions(weights, hr, g.hour_bucket)
    else:
        props = proportions(ranking.channels.ravel(), hr, len(spec.channels), g.hour_bucket)
    return {
        "ds": ds,
        "weekday": dt.date.fromisoformat(ds).strftime("%A"),
        "channels": list(spec.channels),
        "hour_bucket": g.hour_bucket,
        "requests": len(sample),
        "serving_policy": {"channel_choice": policy.channel_choice, "epsilon": policy.epsilon, "seed": cfg.seed},
        "proportions": props.tolist(),
        "model_sha256": candidate.sha256,
    }


def run(ws: Workspace, ds: str) -> Verdict:
    """Record the candidate's proportions for `ds`, compare with production's a week back, write the verdict."""
    cfg, layout = ws.cfg, ws.layout
    record = build_record(ws, ds)
    atomic.write_text(layout.stability_record("candidate", ds), json.dumps(record, indent=2) + "\n")
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
