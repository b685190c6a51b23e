"""HRL-Rec's rewards (paper 3.2 and 3.3), computed per list position from logged lists.

- LRA: r_l = click of position t (eq. 4).
- HRA: r_h = sum_i (r_i + b_i) * lambda_i^{c_t} over click, dwell, diversity and
  novelty (eq. 7), with channel-specific weights lambda from params.yaml.

Diversity counts the tags of item t that no earlier item of the list carried;
novelty counts its tags absent from the user's long-term profile, taken as the
tags of items the user clicked in the history window. Both are divided by the
number of tag slots so that the four rewards share a scale.
"""

from __future__ import annotations

import torch


def _first_occurrence(tags: torch.Tensor) -> torch.Tensor:
    """True for a tag slot that is real and not a repeat of an earlier slot of the same item: (..., T)."""
    T = tags.shape[-1]
    earlier = torch.tril(torch.ones(T, T, dtype=torch.bool, device=tags.device), diagonal=-1)
    repeat = ((tags[..., :, None] == tags[..., None, :]) & earlier).any(-1)
    return (tags > 0) & ~repeat


def new_tags_in_list(tags: torch.Tensor) -> torch.Tensor:
    """For each position, how many of its tags appear at no earlier position: (B, K, T) -> (B, K)."""
    _B, K, _T = tags.shape
    same = tags[:, :, :, None, None] == tags[:, None, None, :, :]  # (B, K, T, K, T)
    earlier = torch.tril(torch.ones(K, K, dtype=torch.bool, device=tags.device), diagonal=-1)  # [t, t'] t' < t
    seen = (same & earlier[None, :, None, :, None]).flatten(-2).any(-1)  # (B, K, T)
    return (_first_occurrence(tags) & ~seen).sum(-1).float()


def tags_outside_profile(tags: torch.Tensor, profile_tags: torch.Tensor, profile_mask: torch.Tensor) -> torch.Tensor:
    """How many of each position's tags are absent from the profile: (B, K, T), (B, P, T), (B, P) -> (B, K)."""
    known = profile_tags * profile_mask[..., None].long()  # masked-out entries become padding (0)
    hit = (tags[:, :, :, None, None] == known[:, None, None, :, :]) & (known[:, None, None] > 0)
    seen = hit.flatten(-2).any(-1)  # (B, K, T)
    return (_first_occurrence(tags) & ~seen).sum(-1).float()


def high_level_reward(
    clicked: torch.Tensor,
    dwell: torch.Tensor,
    diversity: torch.Tensor,
    novelty: torch.Tensor,
    channel: torch.Tensor,
    weights: torch.Tensor,
    bias: torch.Tensor,
    dwell_scale: float,
) -> torch.Tensor:
    """Eq. (7): sum_i (r_i + b_i) * lambda_i^{c_t}. weights (C+1, 4) indexed by channel id, bias (4,)."""
    r = torch.stack([clicked, torch.log1p(dwell / dwell_scale), diversity, novelty], dim=-1)  # (B, K, 4)
    return ((r + bias) * weights[channel]).sum(-1)
