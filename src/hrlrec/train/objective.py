"""Training objectives: HRL-Rec's four losses (paper 3.4, eq. 18) and the baselines' BCE.

Each objective is an nn.Module whose forward returns (loss, logs), so that
DistributedDataParallel can wrap it as it is and every gradient, critic,
actor, supervised and similarity alike, is averaged across processes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hrlrec.data.batches import ImpressionBatch, ListBatch
from hrlrec.models.agents import cosine_scores
from hrlrec.models.hrlrec import HRLRec
from hrlrec.models.rewards import high_level_reward, new_tags_in_list, tags_outside_profile


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1)


class HRLRecObjective(nn.Module):
    """L = l_l L_l + l_h L_h + l_c L_c + l_s L_s, the DDPG update of both agents from logged lists.

    Off-policy DDPG on logs: the critic of each agent regresses Q(s_t, d_t) on
    the logged item's embedding d_t towards r_t + gamma * Q'(s_{t+1}, mu'(s_{t+1}))
    (target actor and critic: the double strategy); the actor loss -Q(s, mu(s))
    is added once every `critic_updates_per_actor` steps (critics update more
    often than actors) and moves the actor only.

    The served channel policy adds L_p = CE(pi_b(.|s_t), c_t) + TD(Q(s_t, c_t)),
    weighted by `policy_loss_weight`: the prior learns the logged channel, Q the
    click of the position plus gamma times the soft value of the next state
    (models/channel_policy.py). The HRA's states carry the logged channel c_t.
    """

    def __init__(self, model: HRLRec) -> None:
        super().__init__()
        self.model = model
        spec = model.spec
        m = spec.model
        self.gamma = spec.gamma
        self.beta = m.beta
        self.loss_weights = m.loss_weights
        self.dwell_scale = m.dwell_scale_s
        self.use_similarity = m.use_similarity_loss
        self.use_supervised = m.use_supervised_loss
        self.policy_weight = m.policy_loss_weight
        self.pool = len(spec.channels) * 200  # paper 4.3: top 200 candidates per channel
        weights = [m.default_reward_weights] + [m.weights_for(c) for c in spec.channels]  # row 0: unknown channel
        self.register_buffer("reward_weights", torch.tensor(weights, dtype=torch.float32), persistent=False)
        self.register_buffer("reward_bias", torch.tensor(m.reward_bias, dtype=torch.float32), persistent=False)

    def rewards(self, batch: ListBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Low-level (click) and high-level (eq. 7) rewards per position: 2 x (B, K)."""
        model = self.model
        tags = model.items.fields.tags_of(batch.list_cat)  # (B, K, T)
        n_tags = float(tags.shape[-1])
        hist_tags = model.items.fields.tags_of(batch.hist_cat)  # (B, m, T)
        profile = batch.hist_mask & (batch.hist_clicked > 0)  # long-term profile: tags the user clicked
        diversity = new_tags_in_list(tags) / n_tags
        novelty = tags_outside_profile(tags, hist_tags, profile) / n_tags
        channel = batch.list_cat[..., model.channel_col]
        r_high = high_level_reward(
            batch.clicked, batch.dwell, diversity, novelty, channel, self.reward_weights, self.reward_bias,
            self.dwell_scale,
        )  # fmt: skip
        return batch.clicked, r_high * batch.list_mask

    def forward(self, batch: ListBatch, actor_step: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        model = self.model
        out = model(batch)
        mask = batch.list_mask.float()  # (B, K)
        K = mask.shape[1]
        # Bootstrap only from a next position that exists in the list.
        has_next = (torch.arange(K, device=mask.device)[None, :] + 1 < batch.list_len[:, None]).float()
        r_low, r_high = self.rewards(batch)
        logged = out.item_emb.detach()  # the logged action, as an item embedding

        s_low = out.s_low
        channel = out.channel  # (B, K) logged channel ids
        next_channel = torch.cat([channel[:, 1:], torch.zeros_like(channel[:, :1])], 1)
        s_high = model.high_state(out.s_high[:, :-1], channel)  # c_t in the HRA's state
        s_high_next = model.high_state(out.s_high[:, 1:], next_channel)
        with torch.no_grad():  # targets of eqs. (9) and (12)
            y_low = r_low + self.gamma * has_next * model.lra.target_q(s_low[:, 1:].detach())
            y_high = r_high + self.gamma * has_next * model.hra.target_q(s_high_next.detach())
        critic_low = _masked_mean((model.lra.q(s_low[:, :-1], logged) - y_low) ** 2, mask)
        critic_high = _masked_mean((model.hra.q(s_high, logged) - y_high) ** 2, mask)
        prior_ce, channel_td = self._channel_policy(s_low, channel, r_low, has_next, mask)

        zero = critic_low.new_zeros(())
        actor_low = actor_high = zero
        if actor_step:  # eqs. (10) and (13): maximise Q of the actor's own (noisy) action
            sl, sh = s_low[:, :-1].detach(), s_high.detach()
            actor_low = -_masked_mean(model.lra.q_frozen(sl, model.lra.act(sl, model.noise)), mask)
            actor_high = -_masked_mean(model.hra.q_frozen(sh, model.hra.act(sh, model.noise)), mask)

        supervised = (
            _masked_mean(F.binary_cross_entropy_with_logits(out.logits, batch.clicked, reduction="none"), mask)
            if self.use_supervised
            else zero
        )  # eq. (15)
        similarity = self._similarity(out.a_low, out.a_high, batch) if self.use_similarity else zero  # eq. (17)

        w_l, w_h, w_c, w_s = self.loss_weights
        loss = (
            w_l * (critic_low + self.beta * actor_low)  # eq. (11)
            + w_h * (critic_high + self.beta * actor_high)  # eq. (14)
            + w_c * supervised
            + w_s * similarity
            + self.policy_weight * (prior_ce + channel_td)
        )  # eq. (18), plus the served channel policy's losses
        logs = {
            "loss": loss,
            "critic_low": critic_low,
            "critic_high": critic_high,
            "actor_low": actor_low,
            "actor_high": actor_high,
            "supervised": supervised,
            "similarity": similarity,
            "channel_prior_ce": prior_ce,
            "channel_td": channel_td,
        }
        return loss, logs

    def _channel_policy(
        self,
        s_low: torch.Tensor,
        channel: torch.Tensor,
        r_low: torch.Tensor,
        has_next: torch.Tensor,
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """CE of pi_b on the logged channel and TD error of Q(s_t, c_t), over positions with a known channel."""
        policy = self.model.policy
        known = mask * (channel > 0).float()
        index = (channel - 1).clamp(min=0).unsqueeze(-1)  # (B, K, 1)
        state = s_low[:, :-1]
        log_prior = policy.log_prior(state).gather(-1, index).squeeze(-1)
        q = policy.q(state).gather(-1, index).squeeze(-1)
        with torch.no_grad():
            y = r_low + self.gamma * has_next * policy.target_value(s_low[:, 1:].detach())
        return -_masked_mean(log_prior, known), _masked_mean((q - y) ** 2, known)

    def _similarity(self, a_low: torch.Tensor, a_high: torch.Tensor, batch: ListBatch) -> torch.Tensor:
        """-cos(a, d) with d the most similar candidate: any channel for the LRA, c_t's for the HRA.

        The HRA's action is conditioned on the logged channel c_t, so its candidates are that channel's.
        """
        cand, cand_channel = self.model.candidates(batch, self.pool)
        cand = cand.detach()
        mask = batch.list_mask.float()
        low = best_cosine(a_low, cand)  # (B, K)
        channel = batch.list_cat[..., self.model.channel_col]  # (B, K)
        high = best_cosine(a_high, cand, cand_channel, channel)  # a channel absent from the pool: -1
        return -_masked_mean(low, mask) - _masked_mean(high, mask)


def best_cosine(
    actions: torch.Tensor,
    cand: torch.Tensor,
    cand_group: torch.Tensor | None = None,
    group: torch.Tensor | None = None,
) -> torch.Tensor:
    """max of cos(action, candidate) over the candidates (N, A), or over those of the action's own group.

    (..., A) -> (...). With `cand_group` (N,) and `group` (...), an action only sees the candidates
    whose group is its own (the HRA: its channel's); -1 where its group has none.

    The same values and action gradients as a masked max over all (..., N) cosines,
    but the gradient only ever reaches the best candidate, so the search runs
    without autograd and only the winner's cosine is differentiated: the masked
    (B, K, N) score tensor was 15 % of a training step, mostly its backward copies.
    The search itself makes no (..., N) mask either (the masks' fill, copy, any and
    compare were 8 % of a step): see `_argmax_by_group`. `cand` is a constant (the
    similarity loss trains the actions, eq. 17).
    """
    if (cand_group is None) != (group is None):
        raise ValueError("best_cosine: give both cand_group and group (a grouped search) or neither")
    found = None
    if group is not None:
        order = torch.argsort(cand_group, stable=True)  # each group one slice, in the pool's order
        cand, cand_group = cand[order], cand_group[order]
    with torch.no_grad():
        if group is None:
            best = cosine_scores(actions, cand).argmax(-1)  # (...)
        else:
            best, found = _argmax_by_group(cosine_scores(actions, cand), cand_group, group)
    winner = F.normalize(cand, dim=-1)[best]  # (..., A)
    value = (F.normalize(actions, dim=-1) * winner).sum(-1)
    return value if found is None else torch.where(found, value, torch.full_like(value, -1.0))


def masked_best_cosine(actions: torch.Tensor, cand: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """`best_cosine` as first written: the argmax over a (..., N) mask of allowed candidates.

    Training does not call it. It is the reference the grouped search must equal bit for bit, in values
    and action gradients: tests/test_model.py on the CPU, bench/gpu_check.py on the device.
    """
    with torch.no_grad():
        best = cosine_scores(actions, cand).masked_fill(~allowed, float("-inf")).argmax(-1)
    value = (F.normalize(actions, dim=-1) * F.normalize(cand, dim=-1)[best]).sum(-1)
    return torch.where(allowed.any(-1), value, torch.full_like(value, -1.0))


def _argmax_by_group(
    scores: torch.Tensor, cand_group: torch.Tensor, group: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per action, the argmax of `scores` (..., N) among the candidates of its group, and whether it has any.

    `cand_group` (N,) must be sorted (its one caller, `best_cosine`, sorts the pool), so each group's
    candidates are one slice of the last dimension: every group's slice is searched for all actions
    (N comparisons per action in all, as one masked search would make) and each action keeps its own
    group's answer. A tie goes to the first candidate in the slice, as a masked argmax gives it the
    first in the unsorted pool when the sort is stable.
    """
    values, counts = torch.unique_consecutive(cand_group, return_counts=True)
    best = torch.zeros(group.shape, dtype=torch.long, device=scores.device)
    found = torch.zeros(group.shape, dtype=torch.bool, device=scores.device)
    start = 0
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        mine = group == value
        best = torch.where(mine, scores[..., start : start + count].argmax(-1) + start, best)
        found |= mine
        start += count
    return best, found


class BCEObjective(nn.Module):
    """Binary cross-entropy of a point-wise CTR baseline."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: ImpressionBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        loss = F.binary_cross_entropy_with_logits(self.model(batch), batch.clicked)
        return loss, {"loss": loss}
