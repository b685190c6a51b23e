"""The served channel policy of the LRA: a prior learnt from the logs and a channel value Q(s, c).

Why not the paper's eq. (3) alone: its channel is the channel of the item most
cosine-similar to a virtual action that no label trains (the actor follows a
linear critic), so the mix it serves collapses onto one channel and moves
between retrainings (docs/results.md). Here every part the ranker reads is
trained against the logs:

- `prior(s)`: logits of pi_b(c | s), the logging policy's channel choice,
  by cross-entropy on the logged channel;
- `q(s)`: Q(s, c) for every channel, by TD on the logged channel with the
  click of the position as reward (eq. 4) and a Polyak-averaged target copy;
- served: pi(c | s, h) ∝ pi_b(c | s) exp(Q(s, c) / alpha) exp(-offset_{h,c}),
  the maximiser of E_pi[Q] - alpha KL(pi || pi_b) (the KL keeps the policy
  where the logs have support, so Q is never trusted where it was never
  trained). `offset` (one number per hour of day h and channel, 0 unless
  calibrated) are the Lagrange multipliers that hold the policy's mean channel
  mix at a target in each hour bucket: see hrlrec.train.channel_mix.

The value of a state under the served policy, used as the TD target's
bootstrap, is the soft value alpha * log sum_c pi_b(c|s) exp(Q(s, c) / alpha).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from hrlrec.models.agents import soft_update

HOURS = 24  # rows of the mix offset table: one per hour of day


class ChannelPolicy(nn.Module):
    """pi_b and Q heads over C channels from the LRA state; channel index c = channel id - 1."""

    def __init__(self, state_dim: int, n_channels: int, temperature: float) -> None:
        super().__init__()
        self.prior = nn.Linear(state_dim, n_channels)
        self.q = nn.Sequential(nn.Linear(state_dim, state_dim), nn.ReLU(), nn.Linear(state_dim, n_channels))
        self.target_q = copy.deepcopy(self.q).requires_grad_(False)
        self.temperature = temperature
        self.register_buffer("mix_offset", torch.zeros(HOURS, n_channels))  # row = hour of the request

    def log_prior(self, state: torch.Tensor) -> torch.Tensor:
        """log pi_b(c | s): (..., S) -> (..., C)."""
        return torch.log_softmax(self.prior(state), -1)

    def scores(self, state: torch.Tensor) -> torch.Tensor:
        """log pi_b + Q / alpha before the mix offset: (..., S) -> (..., C)."""
        return self.log_prior(state) + self.q(state) / self.temperature

    def served(self, state: torch.Tensor, hour: torch.Tensor) -> torch.Tensor:
        """Unnormalised log pi(c | s, h) of the served policy: (..., S), hour (...) in 0..23 -> (..., C).

        Unavailable channels are masked by the ranker, which renormalises.
        """
        return self.scores(state) - self.mix_offset[hour]

    @torch.no_grad()
    def target_value(self, state: torch.Tensor) -> torch.Tensor:
        """Soft value alpha * logsumexp(log pi_b + Q' / alpha) of each state: (..., S) -> (...)."""
        alpha = self.temperature
        return alpha * torch.logsumexp(self.log_prior(state) + self.target_q(state) / alpha, -1)

    def update_targets(self, tau: float) -> None:
        soft_update(self.target_q, self.q, tau)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        # Weights saved before the mix was calibrated carry no offset: they serve with zero offsets; weights
        # saved with one offset per channel (a daily anchor) hold it in every hour.
        key = prefix + "mix_offset"
        state_dict.setdefault(key, torch.zeros_like(self.mix_offset))
        if state_dict[key].dim() == 1:
            state_dict[key] = state_dict[key].expand_as(self.mix_offset).clone()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
