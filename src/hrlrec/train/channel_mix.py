"""Anchor the served policy's channel mix to the logs' (`model.channel_mix: logged`).

Why: the logging policy's channel mix moves little week over week (1.4-4.6 %
mean per channel on the simulated world), but the tilt that a retrained Q puts
on it does not: with a free mix, the week-over-week change of the served mix
reached 25 % on some days from retraining alone (docs/results.md), and the
stability gate rightly failed them. What the gate protects (the feed's channel
proportions) should then not be decided by Q's retraining noise.

How: among policies pi_o(c|s) ∝ pi_b(c|s) exp(Q(s,c)/alpha - o_c), find the
per-channel offsets o whose mean policy over the validation states puts on
each channel the share the logs put there. These o are the Lagrange
multipliers of "maximise E[Q] - alpha KL(pi || pi_b) subject to the channel
totals of the logs", so Q still moves each user's channels (state dependence)
and still picks items; only the totals are pinned. Solved by iterative scaling
(each step multiplies a channel's weight by target / current share), which
converges because the mean share is monotone in each offset.

Per hour bucket (`model.channel_mix_hours` < 24): the stability gate compares
each channel's share per 4-hour bucket, and a daily anchor leaves how a
channel's share spreads over the hours to Q, which retraining moves (on the
14-day chain the logs' own per-bucket mix moved 1.5-3.3 % week over week where
the candidate's moved 10.4-10.9 %, docs/results.md). One set of offsets per
bucket, fitted on the validation states of that bucket against the logs' mix
in it, pins those shares too; a bucket with too few states for a stable fit
(MIN_BUCKET_STATES) keeps the day's offsets. These offsets are fitted on a
sample of the whole window's lists (`calibration_lists`), not the validation
slice: that slice is the window's latest lists by time, so it holds the last
hours of the last day only (the daily anchor, fitted there, matches the
evening's mix). `model.channel_mix_fit: window` fits the daily anchor on the
same whole-window sample: on the 14-day chain the candidate's daily news share
wandered 15.2-17.6 % while the logs' stayed at 14.5-16.1 %, and the two
stability FAILs were such daily-level moves (11-24: news lower in all six
buckets), which an anchor fitted on the evening alone may cause.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
import torch

from hrlrec.data.batches import Stream, iterate_lists
from hrlrec.models.channel_policy import HOURS
from hrlrec.models.hrlrec import HRLRec

log = logging.getLogger(__name__)


MIN_BUCKET_STATES = 500  # fewer positions than this in a bucket: its offsets are the day's
CALIBRATION_LISTS = 10_000  # lists sampled from the window to fit per-bucket offsets on


def calibration_lists(stream: Stream, hours: int, seed: int, fit: str = "validation") -> np.ndarray:
    """The lists offsets are fitted on: for a daily anchor fitted on `validation`, the validation lists;
    otherwise (buckets of fewer hours, or fit `window`) up to CALIBRATION_LISTS lists of the window
    (training and validation), which span every hour."""
    if hours >= HOURS and fit == "validation":
        return stream.lists("val")
    lists = np.union1d(stream.lists("train"), stream.lists("val"))
    if len(lists) > CALIBRATION_LISTS:
        lists = np.sort(np.random.default_rng(seed).choice(lists, CALIBRATION_LISTS, replace=False))
    return lists


@dataclass(frozen=True)
class MixCalibration:
    """What anchoring did, per hour bucket: shares per channel (in spec order) and the offsets it set."""

    hours: int  # hours of day per bucket; 24 = one anchor for the day
    target: list[list[float]]  # per bucket: the logs' channel shares (add-one smoothed)
    free: list[list[float]]  # per bucket: the policy's mean shares with zero offsets
    served: list[list[float]]  # per bucket: the policy's mean shares with the fitted offsets
    offset: list[list[float]]  # per bucket: the offsets set (the day's where `fitted` is False)
    states: list[int]  # positions per bucket the shares are averaged over
    fitted: list[bool]  # whether the bucket got its own offsets
    iterations: int  # most iterations any fit needed

    def to_card(self) -> dict:
        return asdict(self)


@torch.no_grad()
def policy_scores(
    model: HRLRec, stream: Stream, lists: np.ndarray, batch_size: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """log pi_b + Q / alpha (N, C) at every logged position with a known channel (teacher-forced states),
    and the hour of day (N,) of each position's request."""
    was_training = model.training
    model.eval()
    spec, out, hours = model.spec, [], []
    for batch in iterate_lists(stream, lists, batch_size, spec.history_len, spec.list_len):
        s_low, _ = model.states(batch)
        channel = batch.list_cat[..., model.channel_col]
        keep = batch.list_mask & (channel > 0)
        out.append(model.policy.scores(s_low[:, :-1][keep]).float().cpu())
        hours.append((batch.list_cat[..., model.hour_col][keep] - 1).clamp(0, HOURS - 1).cpu())
    model.train(was_training)
    if not out:
        return np.zeros((0, len(spec.channels))), np.zeros(0, dtype=np.int64)
    return torch.cat(out).numpy().astype(np.float64), torch.cat(hours).numpy().astype(np.int64)


def logged_shares(stream: Stream, lists: np.ndarray, n_channels: int, hours: int = HOURS) -> np.ndarray:
    """Share of each channel (1..C) among the impressions of `lists` per bucket of `hours` hours of day,
    add-one smoothed: (24 / hours, C)."""
    rows = stream.rows(lists)
    channel = stream.cat[rows, stream.column("channel")].cpu().numpy()
    bucket = (stream.cat[rows, stream.column("hour")].cpu().numpy() - 1).clip(0, HOURS - 1) // hours
    known = channel > 0
    counts = np.zeros((HOURS // hours, n_channels))
    np.add.at(counts, (bucket[known], channel[known] - 1), 1.0)
    return (counts + 1.0) / (counts.sum(1, keepdims=True) + n_channels)


def mean_policy(scores: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Mean over states of softmax(scores - offset): (C,)."""
    z = scores - offset
    z = z - z.max(1, keepdims=True)
    p = np.exp(z)
    return (p / p.sum(1, keepdims=True)).mean(0)


def fit_offset(
    scores: np.ndarray, target: np.ndarray, iterations: int = 500, tol: float = 1e-6
) -> tuple[np.ndarray, int]:
    """Offsets o (C,) with mean softmax(scores - o) == target, to `tol` in every channel."""
    if scores.ndim != 2 or scores.shape[1] != len(target):
        raise ValueError(f"scores {scores.shape} do not match a target over {len(target)} channels")
    if not (np.all(target > 0) and abs(target.sum() - 1) < 1e-9):
        raise ValueError(f"target shares must be positive and sum to 1, got {target.tolist()}")
    offset = np.zeros(len(target))
    for i in range(1, iterations + 1):
        share = mean_policy(scores, offset)
        if np.abs(share - target).max() < tol:
            return offset, i
        offset += np.log(share / target)
        offset -= offset.mean()  # only differences matter
    return offset, iterations


def fit_bucket_offsets(
    scores: np.ndarray, state_hours: np.ndarray, targets: np.ndarray, day_target: np.ndarray, hours: int
) -> MixCalibration:
    """Offsets per bucket of `hours` hours (targets: (24 / hours, C)); thin buckets keep the day's offsets."""
    n_buckets, C = targets.shape
    if n_buckets * hours != HOURS:
        raise ValueError(f"{n_buckets} target buckets do not cover the day in buckets of {hours} hours")
    zero = np.zeros(C)
    if len(scores) == 0:
        day, iterations = zero, 0
    else:
        day, iterations = fit_offset(scores, day_target)
    which = state_hours // hours
    result: dict[str, list] = {k: [] for k in ("target", "free", "served", "offset", "states", "fitted")}
    for b in range(n_buckets):
        sel = scores[which == b]
        fitted = hours < HOURS and len(sel) >= MIN_BUCKET_STATES
        if fitted:
            offset, i = fit_offset(sel, targets[b])
            iterations = max(iterations, i)
        else:
            offset = day
        result["target"].append(targets[b].tolist())
        result["free"].append((mean_policy(sel, zero) if len(sel) else targets[b]).tolist())
        result["served"].append((mean_policy(sel, offset) if len(sel) else targets[b]).tolist())
        result["offset"].append(offset.tolist())
        result["states"].append(len(sel))
        result["fitted"].append(bool(fitted))
    return MixCalibration(hours=hours, iterations=iterations, **result)


def calibrate(model: HRLRec, stream: Stream, lists: np.ndarray, hours: int = HOURS) -> MixCalibration:
    """Fit the mix offsets on `lists` per bucket of `hours` hours and set them on the model."""
    C = len(model.spec.channels)
    scores, state_hours = policy_scores(model, stream, lists)
    if len(scores) == 0:
        log.warning("channel mix: no positions with a known channel to fit on; offsets left at zero")
    result = fit_bucket_offsets(
        scores, state_hours, logged_shares(stream, lists, C, hours), logged_shares(stream, lists, C)[0], hours
    )
    table = np.repeat(np.array(result.offset), hours, axis=0)  # (24, C): each hour gets its bucket's offsets
    model.policy.mix_offset.copy_(torch.as_tensor(table, dtype=model.policy.mix_offset.dtype))
    for b, (free, served, target) in enumerate(zip(result.free, result.served, result.target, strict=True)):
        log.info(
            "channel mix hours %02d-%02d anchored to the logs (%s, %d states): free %s -> served %s (target %s)",
            b * hours, (b + 1) * hours, "own offsets" if result.fitted[b] else "day's offsets", result.states[b],
            np.round(free, 3).tolist(), np.round(served, 3).tolist(), np.round(target, 3).tolist(),
        )  # fmt: skip
    return result
