"""The low-level agent (LRA, paper 3.2): picks the channel of the next list position."""

from __future__ import annotations

import torch

from hrlrec.models.agents import Agent, cosine_scores


class ChannelSelector(Agent):
    """Actor, critic and targets of the LRA; its reward is the click of position t (eq. 4)."""

    @staticmethod
    def select(
        action: torch.Tensor, cand_emb: torch.Tensor, cand_channel: torch.Tensor, cand_mask: torch.Tensor
    ) -> torch.Tensor:
        """Channel of the candidate most cosine-similar to the virtual channel embedding.

        action (..., A), cand_emb (..., N, A) or a shared pool (N, A), cand_channel/cand_mask
        (..., N) or (N,) -> channel ids (...). Item embeddings, not channel embeddings, stand for
        channels (paper 3.2).
        """
        scores = cosine_scores(action, cand_emb).masked_fill(~cand_mask, float("-inf"))
        best = scores.argmax(-1)
        if cand_channel.dim() == 1:  # one pool shared by every action
            return cand_channel[best]
        return cand_channel.gather(-1, best.unsqueeze(-1)).squeeze(-1)
