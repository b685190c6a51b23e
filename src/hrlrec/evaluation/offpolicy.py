"""Off-policy value of the served policy on the test day, from the logged lists and their propensities.

Which policy: each model's serving policy of params.yaml (channel drawn from
pi(c | s) or argmax) with item exploration `gates.ope.epsilon` over the day's
pool (the stability gate's candidates). A greedy item choice would give every
logged item other than the greedy one probability 0; the estimate is therefore
of the policy with that exploration, which the report says.

Which propensities: the logged `propensity` column, the logging policy's
sequential choice probability of each logged item given the items before it,
and the target's sequential probability of the same item given the same logged
prefix (`serving.replay`). Both are sequential, so the estimators are the cascade
forms (`evaluation.ope`): IPS, SNIPS and DR. Clipping, effective sample size and
overlap are reported with every estimate; too little support makes it
"inconclusive".

Which reward model (DR's model term): one click head for every policy, so that
candidate and production are judged by one yardstick and their paired
difference does not compare two models' opinions of themselves (each rates its
own lists higher: judged by production's head, candidate minus production had
the wrong sign on 7 of 7 chain days). The yardstick is the candidate's head
unless it predicts the day's logged clicks clearly worse than production's
(`ope.choose_reward_model`: calibrated log-loss on the logged slots worse by
more than `gates.ope.judge_tolerance`): a candidate with a broken head (an
untrained one) would judge its own useless lists level with production's and
pass, and its log-loss gives it away (worse by 0.03+ on the chain's days, where two
sound heads differ by 0.0002-0.0072). It is
first Platt-calibrated on the test day's logged slots (`ope.calibrate`: the
logged clicks, no ground truth), because a click head trained on earlier days
can be off in level on the test day and tiny importance weights cannot correct
it (2026-11-22: the candidate predicted 1.17 clicks per logged list where 0.80
were observed). Its direct-method term is its calibrated click probabilities
along each policy's own lists (the ranker's lists for the same requests,
seeded as the true-value measurement draws them), reported on their own as
`direct_method` (and before calibration as `direct_method_uncalibrated`).

Where the weights cannot correct the reward model (an inconclusive estimate:
effective sample size under `min_ess`), each DR value and the paired difference
also carry an interval widened by the model's measured error
(`gates.ope.value_margin`, `difference_margin`; `with_model_margin`), which is
what the check judges then.

Without a propensity column the day is "not evaluated", like a gate without a
baseline. The AUC gate's off-policy check (`evaluate.ope_check`) judges these numbers.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
from torch import nn

from hrlrec.data.batches import Stream
from hrlrec.errors import BadInput
from hrlrec.evaluation import ope
from hrlrec.evaluation.truth import interval
from hrlrec.models.spec import ModelSpec
from hrlrec.serving.backends import TorchBackend
from hrlrec.serving.ranker import Ranker, ServingPolicy, day_requests, rank_lists
from hrlrec.serving.replay import list_clicks_of, replay_lists
from hrlrec.workspace import Workspace

log = logging.getLogger(__name__)


def logged_propensities(
    ws: Workspace, ds: str, stream: Stream, lists: np.ndarray, K: int, source: Path | None = None
) -> np.ndarray | None:
    """(n, K) logged propensities of `lists` (0 where no item), or None when the day has no such column.

    `source`: another folder of Parquet files with session_id, position and propensity (a
    benchmark may read the simulator's sidecar for days landed before the column existed).
    """
    raw = source or ws.layout.raw_day(ds)
    files = sorted(raw.glob("*.parquet"))
    if not files or "propensity" not in pq.read_schema(files[0]).names:
        return None
    table = pq.read_table(raw, columns=["session_id", "position", "propensity"])
    key = pc.add(pc.multiply(pc.cast(table["session_id"], "int64"), 1024), pc.cast(table["position"], "int64"))
    order = np.argsort(key.to_numpy())
    keys, values = key.to_numpy()[order], table["propensity"].to_numpy(zero_copy_only=False)[order]
    out = np.zeros((len(lists), K))
    for k in range(K):
        present = stream.length[lists] > k
        rows = stream.offset[lists][present] + k
        want = stream.session_id[rows].astype(np.int64) * 1024 + k
        at = np.searchsorted(keys, want)
        found = (at < len(keys)) & (keys[np.minimum(at, len(keys) - 1)] == want)
        col = np.zeros(int(present.sum()))
        col[found] = values[at[found]]
        out[np.flatnonzero(present), k] = col
    return out


def measure(
    ws: Workspace, ds: str, stream: Stream, models: dict[str, tuple[nn.Module, ModelSpec]],
    propensities: Path | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Off-policy estimates for each model's served policy, the logged value, and candidate minus production."""
    cfg = ws.cfg
    g = cfg.gates.ope
    sample, pool = day_requests(stream, cfg.seed, g.max_requests, cfg.gates.stability.pool_per_channel)
    K = cfg.list_len
    logging_p = logged_propensities(ws, ds, stream, sample, K, propensities)
    if logging_p is None:
        return {"measured": False, "reason": "no propensities: not evaluated (the day has no propensity column)"}
    placed = logging_p > 0
    rows = np.where(placed, stream.offset[sample][:, None] + np.arange(K)[None, :], 0)
    rewards = np.where(placed, stream.clicked[rows.ravel()].cpu().numpy().reshape(rows.shape), 0.0)
    policy = ServingPolicy(cfg.serving.channel_choice, g.epsilon)
    options = {"clip": g.clip, "n_boot": g.bootstrap, "seed": cfg.seed, "min_ess": g.min_ess,
               "min_overlap": g.min_overlap}  # fmt: skip
    out: dict[str, Any] = {
        "measured": True,
        "policy": {"channel_choice": policy.channel_choice, "epsilon": policy.epsilon,
                   "candidates": "the day's pool", "propensities": "sequential (cascade estimators)"},
        "lists": len(sample),
        "logging_policy": {"clicks_per_list": interval(rewards.sum(1))},
    }  # fmt: skip
    logs: dict[str, ope.SlateLog] = {}
    if not models:
        return out
    replays = {name: replay_lists(Ranker(TorchBackend(model), stream.cat_columns, spec.list_len), stream, sample, pool,
                                  spec.history_len, policy)
               for name, (model, spec) in models.items()}  # fmt: skip
    teacher_forced = {name: r.predicted for name, r in replays.items()}  # each model's clicks of the logged items
    try:
        judge_name, fits, losses = ope.choose_reward_model(
            teacher_forced,
            rewards,
            placed,
            "candidate" if "candidate" in models else next(iter(models)),
            g.judge_tolerance,
        )
    except BadInput as exc:
        return {"measured": False, "reason": f"{ds}: the reward model cannot be calibrated: {exc}"}
    judge_model, judge_spec = models[judge_name]
    judge = Ranker(TorchBackend(judge_model), stream.cat_columns, judge_spec.list_len)
    calibration = fits[judge_name]
    predicted = calibration(replays[judge_name].predicted)
    out["reward_model"] = (f"{judge_name}'s click head, Platt-calibrated on the day's logged slots (the candidate's "
                           "unless its log-loss there is worse than the best by more than "
                           f"{g.judge_tolerance})")  # fmt: skip
    out["reward_model_judge"] = judge_name
    out["reward_model_log_loss"] = losses
    out["calibration"] = calibration.to_json()
    for name, (model, spec) in models.items():
        ranker, back = Ranker(TorchBackend(model), stream.cat_columns, spec.list_len), replays[name]
        own = rank_lists(ranker, stream, sample, pool, spec.history_len, policy, cfg.seed)
        own_placed = own.items >= 0
        raw_expected = list_clicks_of(judge, stream, sample, pool[own.items.clip(min=0)], own_placed,
                                      judge_spec.history_len)  # fmt: skip
        expected = calibration(raw_expected)
        logs[name] = ope.SlateLog(rewards, logging_p, back.target, "sequential", predicted=predicted,
                                  expected=expected, placed=placed)  # fmt: skip
        out[name] = {k: e.to_json() for k, e in ope.estimate_all(logs[name], **options).items()}
        out[name]["direct_method"] = interval(expected.sum(1))
        out[name]["direct_method_uncalibrated"] = interval(raw_expected.sum(1))
        out[name]["logged_items_in_pool"] = float(back.in_pool[placed].mean())
        if out[name]["dr"]["inconclusive"]:
            out[name]["dr"].update(with_model_margin(out[name]["dr"], g.value_margin * abs(out[name]["dr"]["value"])))
    if "candidate" in logs and "production" in logs:
        diff = ope.difference(logs["candidate"], logs["production"], "dr", clip=g.clip, n_boot=g.bootstrap,
                              seed=cfg.seed)  # fmt: skip
        if out["candidate"]["dr"]["inconclusive"] or out["production"]["dr"]["inconclusive"]:
            diff.update(with_model_margin(diff, g.difference_margin))
        out["candidate_minus_production"] = diff
    return out


def with_model_margin(estimate: dict[str, Any], margin: float) -> dict[str, float]:
    """The bootstrap interval widened by the reward model's measured error, for an estimate the weights cannot fix.

    Why: with an effective sample size near 1 the doubly robust estimate is the reward model's,
    and the bootstrap over lists measures only the lists' noise; the model's own error (measured
    against the simulator's truth on days not reported, `gates.ope.*_margin`) is what separates it
    from the truth. Adding it keeps the interval honest without pretending the weights helped.
    """
    return {"model_margin": margin, "low_with_margin": estimate["low"] - margin,
            "high_with_margin": estimate["high"] + margin}  # fmt: skip
