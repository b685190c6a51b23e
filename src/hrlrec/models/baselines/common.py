"""What every baseline is built from: the feature spec, the fields of an impression, the FM interaction.

The baselines see what HRL-Rec sees where a point-wise model can use it, so a
win of HRL-Rec over them is a win of the method, not of its inputs (paper 4.2
compares on the same features). Besides the impression's own fields (profile,
context, channel, item, tags, the cumulative channel features), every baseline
gets the list the impression is part of, as HRL-Rec's state has it before the
position: the items and the tags already placed above it (two pooled fields)
and how many of them share its channel or one of its tags (two counts, in the
dense field). DIN also reads the user's behaviours before the list (din.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hrlrec.data.batches import UNKNOWN, ImpressionBatch
from hrlrec.models.layers import CONTEXT_FIELDS, PROFILE_FIELDS, FieldEmbedding, embed, take_columns

# One impression's own fields: the same groups HRL-Rec sees for the current behaviour.
BASELINE_FIELDS = [*PROFILE_FIELDS, *CONTEXT_FIELDS, "channel", "item", "tags", "dense"]
# Fields of the list above the impression: mean embedding of the items and of the tags placed earlier.
LIST_FIELDS = ["earlier_items", "earlier_tags"]
LIST_COUNTS = 2  # earlier positions with the impression's channel, with one of its tags (each / K)


@dataclass(frozen=True)
class FeatureSpec:
    """Sizes a baseline needs to build its embeddings, and the window of behaviours it reads."""

    vocab: dict[str, int]
    cat_columns: list[str]
    dense_dim: int
    dim: int  # embedding size per field
    history_len: int  # m: the user's impressions before the list that DIN attends over
    list_len: int  # K: positions per list

    def embedding(self, dim: int | None = None) -> ImpressionFields:
        return ImpressionFields(self, dim or self.dim)

    @property
    def n_fields(self) -> int:
        return len(BASELINE_FIELDS) + len(LIST_FIELDS)


def behaviour_window(model: nn.Module) -> tuple[int, int]:
    """(m, K) of the behaviours gathered before each impression for `model`.

    DIN attends over the user's last m impressions and the list above (the whole
    m + K - 1 window); every other baseline reads only the list above, so it gets
    m = 0 and never gathers (B, m, F) history rows it would weight by zero.
    """
    spec: FeatureSpec = model.features
    return (spec.history_len if getattr(model, "reads_history", False) else 0, spec.list_len)


def earlier_in_list(batch: ImpressionBatch) -> torch.Tensor:
    """(B, L) bool: the behaviours before each impression that are earlier positions of its own list."""
    return batch.before_feedback == UNKNOWN


def list_counts(batch: ImpressionBatch, channel_col: int, tag_cols: list[int], list_len: int) -> torch.Tensor:
    """(B, 2): earlier positions of the list with the impression's channel, and with one of its tags, / K."""
    earlier = earlier_in_list(batch)
    same_channel = (batch.before_cat[..., channel_col] == batch.cat[:, None, channel_col]) & earlier
    own_tags, tags = take_columns(batch.cat, tag_cols), take_columns(batch.before_cat, tag_cols)  # (B, T), (B, L, T)
    real, shared = tags > 0, torch.zeros_like(earlier)
    for j in range(own_tags.shape[1]):  # one own tag at a time: half the time of one (B, L, T, T) comparison
        shared |= ((tags == own_tags[:, None, j : j + 1]) & real).any(-1)
    counts = torch.stack([same_channel.sum(-1), (shared & earlier).sum(-1)], -1)
    return counts.to(batch.dense.dtype) / list_len


class ImpressionFields(nn.Module):
    """An impression as a matrix of fields (B, n_fields, dim): its own fields, then the list above it.

    The pooled list fields have tables of their own (an item above this one is
    evidence of another kind than this item itself: for LR, another weight); a
    position with nothing above it gets zeros there.
    """

    def __init__(self, spec: FeatureSpec, dim: int) -> None:
        super().__init__()
        self.own = FieldEmbedding(spec.vocab, spec.cat_columns, BASELINE_FIELDS, spec.dense_dim + LIST_COUNTS, dim)
        self.channel_col = spec.cat_columns.index("channel")
        self.item_col = spec.cat_columns.index("item")
        self.list_len = spec.list_len
        self.earlier_items = nn.Embedding(spec.vocab["item"], dim, padding_idx=0)
        self.earlier_tags = nn.Embedding(spec.vocab["tag"], dim, padding_idx=0)
        for table in (self.earlier_items, self.earlier_tags):
            nn.init.normal_(table.weight, std=0.05)
            with torch.no_grad():
                table.weight[0].zero_()

    @property
    def n_fields(self) -> int:
        return len(BASELINE_FIELDS) + len(LIST_FIELDS)

    def forward(self, batch: ImpressionBatch) -> torch.Tensor:
        counts = list_counts(batch, self.channel_col, self.own.tag_cols, self.list_len)
        own = self.own(batch.cat, torch.cat([batch.dense, counts], -1))  # (B, n_own, d)
        earlier = earlier_in_list(batch)
        weight = (earlier / earlier.sum(-1, keepdim=True).clamp(min=1)).unsqueeze(-1)  # (B, L, 1) mean
        items = embed(self.earlier_items, batch.before_cat[..., self.item_col], self.training)  # (B, L, d)
        tag_ids = self.own.tags_of(batch.before_cat)  # (B, L, T)
        tag_sum = embed(self.earlier_tags, tag_ids, self.training).sum(-2)
        tags = tag_sum / (tag_ids > 0).sum(-1, keepdim=True).clamp(min=1)
        pooled = torch.stack([(weight * items).sum(1), (weight * tags).sum(1)], 1)  # (B, 2, d)
        return torch.cat([own, pooled], 1)


def fm_pairwise(emb: torch.Tensor) -> torch.Tensor:
    """Sum over field pairs of <v_i, v_j>, per dimension: 0.5 * ((sum v)^2 - sum v^2). (B, n, d) -> (B, d)."""
    return 0.5 * (emb.sum(1).pow(2) - emb.pow(2).sum(1))
