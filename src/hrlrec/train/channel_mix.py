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
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
import torch

from hrlrec.data.batches import Stream, iterate_lists
from hrlrec.models.hrlrec import HRLRec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MixCalibration:
    """What anchoring did: shares per channel (in spec order) and the offsets it set."""

    target: list[float]  # the logs' channel shares (add-one smoothed)
    free: list[float]  # the policy's mean shares with zero offsets
    served: list[float]  # the policy's mean shares with the fitted offsets
    offset: list[float]
    states: int  # validation positions the shares are averaged over
    iterations: int

    def to_card(self) -> dict:
        return asdict(self)


@torch.no_grad()
def policy_scores(model: HRLRec, stream: Stream, lists: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """log pi_b + Q / alpha (N, C) at every logged position with a known channel (teacher-forced states)."""
    was_training = model.training
    model.eval()
    spec, out = model.spec, []
    for batch in iterate_lists(stream, lists, batch_size, spec.history_len, spec.list_len):
        s_low, _ = model.states(batch)
        channel = batch.list_cat[..., model.channel_col]
        keep = batch.list_mask & (channel > 0)
        out.append(model.policy.scores(s_low[:, :-1][keep]).float().cpu())
    model.train(was_training)
    return torch.cat(out).numpy().astype(np.float64) if out else np.zeros((0, len(spec.channels)))


def logged_shares(stream: Stream, lists: np.ndarray, n_channels: int) -> np.ndarray:
    """Share of each channel (1..C) among the impressions of `lists`, add-one smoothed: (C,)."""
    channel = stream.cat[stream.rows(lists), stream.column("channel")].cpu().numpy()
    counts = np.bincount(channel[channel > 0] - 1, minlength=n_channels)[:n_channels]
    return (counts + 1.0) / (counts.sum() + n_channels)


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


def calibrate(model: HRLRec, stream: Stream, lists: np.ndarray) -> MixCalibration:
    """Fit the mix offsets on `lists` (validation) and set them on the model's policy."""
    C = len(model.spec.channels)
    scores = policy_scores(model, stream, lists)
    target = logged_shares(stream, lists, C)
    zero = np.zeros(C)
    if len(scores) == 0:
        log.warning("channel mix: no validation positions with a known channel; offsets left at zero")
        offset, iterations = zero, 0
    else:
        offset, iterations = fit_offset(scores, target)
    model.policy.mix_offset.copy_(torch.as_tensor(offset, dtype=model.policy.mix_offset.dtype))
    free = mean_policy(scores, zero) if len(scores) else target
    served = mean_policy(scores, offset) if len(scores) else target
    result = MixCalibration(
        target=target.tolist(), free=free.tolist(), served=served.tolist(), offset=offset.tolist(),
        states=len(scores), iterations=iterations,
    )  # fmt: skip
    log.info(
        "channel mix anchored to the logs in %d iterations: free %s -> served %s (target %s)", iterations,
        np.round(free, 3).tolist(), np.round(served, 3).tolist(), np.round(target, 3).tolist(),
    )  # fmt: skip
    return result
