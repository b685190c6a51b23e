"""The high-level agent (HRA, paper 3.3): picks an item inside the LRA's channel."""

from __future__ import annotations

import torch

from hrlrec.models.agents import Agent, cosine_scores


class ItemRecommender(Agent):
    """Actor, critic and targets of the HRA; its reward is eq. (7)."""

    @staticmethod
    def select(
        action: torch.Tensor,
        cand_emb: torch.Tensor,
        cand_channel: torch.Tensor,
        cand_mask: torch.Tensor,
        channel: torch.Tensor,
    ) -> torch.Tensor:
        """Index of the candidate most similar to the action among those in `channel`.

        The channel constraint is hard: candidates of other channels score -inf.
        action (..., A), cand_emb (..., N, A), cand_channel/cand_mask (..., N), channel (...) -> (...).
        """
        allowed = cand_mask & (cand_channel == channel.unsqueeze(-1))  # (..., N), broadcasting a shared pool
        scores = cosine_scores(action, cand_emb).masked_fill(~allowed, float("-inf"))
        return scores.argmax(-1)
