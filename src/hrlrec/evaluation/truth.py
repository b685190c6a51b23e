"""True value of a model's served lists on a simulated day: what its lists earn, not only its AUC.

For the day's ranked sample (the stability gate's requests and pool, the
serving policy of params.yaml), each model's lists are scored by the
simulator's ground truth (`simulator.oracle.DayOracle`): expected clicks per
list, and the expected click + dwell terms of eq. (7) per list with the
channel-specific weights. The logging policy's value is the same for the
lists that were logged for those requests. Intervals are normal-approximation
95 % intervals over requests; the differences are paired (same requests).

State dependence: per channel, the Spearman correlation over users between a
user's share of that channel in the model's lists and the user's true
preference for it (the simulator knows it): a policy that serves everyone the
same mix scores about 0.

Only a simulated day has this truth: for any other source the result says
"not measured" and why (off-policy estimates from logged propensities are the
evaluation issue's answer for real logs). This is a measurement, not a gate.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from torch import nn

from hrlrec.data.batches import Stream
from hrlrec.errors import BadInput
from hrlrec.models.spec import ModelSpec
from hrlrec.serving import memo
from hrlrec.serving.ranker import ServingPolicy, day_requests, pool_rows
from hrlrec.workspace import Workspace

log = logging.getLogger(__name__)

Z95 = 1.959964


def interval(values: np.ndarray) -> dict[str, float]:
    """Mean and its normal-approximation 95 % interval over the first axis."""
    n = len(values)
    mean = float(values.mean()) if n else float("nan")
    half = float(Z95 * values.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return {"mean": mean, "low": mean - half, "high": mean + half}


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of `x`, ties sharing the mean of their ranks."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (ties averaged); NaN when either side is constant."""
    rx, ry = average_ranks(np.asarray(x, float)), average_ranks(np.asarray(y, float))
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


class DayValue:
    """Scores lists for the day's sampled requests against the simulator's truth."""

    def __init__(self, ws: Workspace, ds: str, stream: Stream) -> None:
        from hrlrec.simulator.oracle import NO_ITEM, DayOracle

        cfg = ws.cfg
        landing = ws.layout.landing_day(ds)
        self.no_item = NO_ITEM
        self.oracle = DayOracle(cfg, landing)
        self.stream = stream
        g = cfg.gates.stability
        self.sample, _ = day_requests(stream, cfg.seed, g.max_requests, g.pool_per_channel)
        rows = pool_rows(stream, stream.rows(stream.lists("test")), g.pool_per_channel)
        self.pool = stream.cat[rows].cpu().numpy()
        self.session = stream.session_id[stream.offset[self.sample]]
        logged_session, logged_item, _ = self.oracle.logged_lists()
        where = np.searchsorted(logged_session, stream.session_id[rows])
        position = stream.cat[rows, stream.column("position")].cpu().numpy() - 1  # ids are position + 1
        if not np.array_equal(logged_session[where.clip(max=len(logged_session) - 1)], stream.session_id[rows]):
            raise BadInput(f"{landing}: the dataset's sessions are not the landing day's; rebuild the dataset")
        self.pool_item = logged_item[where, position]  # raw item id of each pool entry
        self.logged = logged_item[np.searchsorted(logged_session, self.session)]
        self.policy = ServingPolicy.of(cfg.serving)
        self.seed = cfg.seed
        self.memo = ws.layout.memo_day(ds)  # the stability gate ranks the same sample: shared (serving/memo)
        self.dwell_scale = cfg.model.dwell_scale_s
        self.channels = list(cfg.channels)
        self.weights = np.array([cfg.model.weights_for(c) for c in self.channels])  # (C, 4)

    def per_list(self, item_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Expected clicks and expected click + dwell reward (eq. 7 terms) per list (B,) of lists (B, K)."""
        p = self.oracle.p_click(self.session, item_id)
        dwell = self.oracle.expected_dwell_reward(self.session, item_id, self.dwell_scale)
        channel = self.oracle.item_channel(item_id)
        w = self.weights[channel.clip(min=0)]  # (B, K, 4)
        reward = np.where(channel >= 0, w[..., 0] * p + w[..., 1] * dwell, 0.0)
        return p.sum(1), reward.sum(1)

    def mix(self, item_id: np.ndarray) -> dict[str, float]:
        """Share of each channel among the placed items of lists (B, K)."""
        channel = self.oracle.item_channel(item_id)
        counts = np.bincount(channel[channel >= 0], minlength=len(self.channels))
        return {name: float(counts[c] / max(counts.sum(), 1)) for c, name in enumerate(self.channels)}

    def lists_of(self, model: nn.Module, spec: ModelSpec) -> np.ndarray:
        """The raw item ids (B, K) the model's served policy places for the sample (NO_ITEM where none)."""
        ranking = memo.ranked(self.memo, model, spec, self.stream, self.sample, self.pool, self.policy,
                              self.seed)  # fmt: skip
        return np.where(ranking.items >= 0, self.pool_item[ranking.items.clip(min=0)], self.no_item)

    def state_dependence(self, item_id: np.ndarray) -> dict[str, float | None]:
        """Per channel, Spearman over users of (share of the channel in their lists, true preference)."""
        channel = self.oracle.item_channel(item_id)  # (B, K), -1 where empty
        users = self.oracle.request_users(self.session)
        order, first = np.unique(users, return_inverse=True)
        placed = np.zeros(len(order))
        np.add.at(placed, first, (channel >= 0).sum(1))
        pref = self.oracle.model.chan_pref[order]  # (U, C)
        out: dict[str, float | None] = {}
        for c, name in enumerate(self.channels):
            share = np.zeros(len(order))
            np.add.at(share, first, (channel == c).sum(1))
            share = share / np.maximum(placed, 1)
            rho = spearman(share, pref[:, c])
            out[name] = None if np.isnan(rho) else float(rho)
        return out

    def measure(self, models: dict[str, tuple[nn.Module, ModelSpec]]) -> dict[str, Any]:
        """Value of each named model's lists and of the logged lists, with paired differences to the logs."""
        clicks, reward, lists = {}, {}, {"logging_policy": self.logged}
        clicks["logging_policy"], reward["logging_policy"] = self.per_list(self.logged)
        for name, (model, spec) in models.items():
            lists[name] = self.lists_of(model, spec)
            clicks[name], reward[name] = self.per_list(lists[name])
        base_c, base_r = clicks["logging_policy"], reward["logging_policy"]
        out: dict[str, Any] = {
            "requests": len(self.sample),
            "serving_policy": {"channel_choice": self.policy.channel_choice, "epsilon": self.policy.epsilon},
            "reward_terms": "click + dwell terms of eq. (7) with the channel's weights (diversity and novelty "
            "terms not included)",
        }
        for name in clicks:
            entry = {
                "clicks_per_list": interval(clicks[name]),
                "reward_per_list": interval(reward[name]),
                "channel_mix": self.mix(lists[name]),
                "state_dependence": self.state_dependence(lists[name]),
            }
            if name != "logging_policy":
                entry["clicks_vs_logging"] = interval(clicks[name] - base_c)
                entry["reward_vs_logging"] = interval(reward[name] - base_r)
                entry["clicks_ratio_to_logging"] = float(clicks[name].mean() / base_c.mean())
            out[name] = entry
        return out


def measure(ws: Workspace, ds: str, stream: Stream, models: dict[str, tuple[nn.Module, ModelSpec]]) -> dict[str, Any]:
    """True value of `models` and of the logging policy on day `ds`; {"measured": False, why} without truth."""
    landing = ws.layout.landing_day(ds)
    if ws.cfg.source != "simulator" or not ws.layout.truth_day(ds).is_dir():
        why = f"no simulator ground truth for {ds} (source {ws.cfg.source!r}, {ws.layout.truth_day(ds)} absent)"
        return {"measured": False, "reason": why}
    try:
        value = DayValue(ws, ds, stream)
    except BadInput as exc:
        return {"measured": False, "reason": f"{landing}: {exc}"}
    return {"measured": True, **value.measure(models)}
