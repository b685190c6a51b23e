"""What both HRL-Rec agents share: a deterministic actor, a critic, and their target copies."""

from __future__ import annotations

import copy

import torch
from torch import nn


@torch.no_grad()
def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """target <- tau * source + (1 - tau) * target, parameter by parameter."""
    for t, s in zip(target.parameters(), source.parameters(), strict=True):
        t.lerp_(s, tau)


class Critic(nn.Module):
    """q(s, a) = ReLU(w1 . s + w2 . a + b): eqs. (5) and (8), literally a linear critic."""

    def __init__(self, state_dim: int, action_dim: int) -> None:
        super().__init__()
        self.w_state = nn.Linear(state_dim, 1, bias=False)
        self.w_action = nn.Linear(action_dim, 1)

    def forward(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.w_state(state) + self.w_action(action)).squeeze(-1)


class Agent(nn.Module):
    """Actor a = tanh(W s + b) (eqs. 3 and 6) and its critic, each with a lagging target copy."""

    def __init__(self, state_dim: int, action_dim: int) -> None:
        super().__init__()
        self.actor = nn.Sequential(nn.Linear(state_dim, action_dim), nn.Tanh())
        self.critic = Critic(state_dim, action_dim)
        self.target_actor = copy.deepcopy(self.actor).requires_grad_(False)
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)

    def act(self, state: torch.Tensor, noise: float = 0.0) -> torch.Tensor:
        """The virtual action embedding; Gaussian noise while training (paper 3.4)."""
        action = self.actor(state)
        if noise > 0:
            action = action + noise * torch.randn_like(action)
        return action

    def q(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.critic(state, action)

    def q_frozen(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Q with the critic's parameters held fixed: the actor loss moves the actor only."""
        for p in self.critic.parameters():
            p.requires_grad_(False)
        try:
            return self.critic(state, action)
        finally:
            for p in self.critic.parameters():
                p.requires_grad_(True)

    @torch.no_grad()
    def target_q(self, state: torch.Tensor) -> torch.Tensor:
        """Q'(s, mu'(s)) from the target networks (the double strategy of eqs. 9 and 12)."""
        return self.target_critic(state, self.target_actor(state))

    def update_targets(self, tau: float) -> None:
        soft_update(self.target_actor, self.actor, tau)
        soft_update(self.target_critic, self.critic, tau)


def cosine_scores(actions: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of each action with each candidate.

    (..., A) x (..., N, A) -> (..., N); a 2-d pool (N, A) is shared by every action.
    """
    a = nn.functional.normalize(actions, dim=-1)
    d = nn.functional.normalize(items, dim=-1)
    if d.dim() == 2:
        return a @ d.T
    return torch.einsum("...a,...na->...n", a, d)
