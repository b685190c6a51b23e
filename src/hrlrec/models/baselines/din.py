"""DIN: the candidate attends over the user's behaviours before it (Zhou et al. 2018).

The sequence-aware baseline: it reads the same behaviours as HRL-Rec's state
before the position (the user's last m impressions before the list, with their
clicks, then the list's earlier positions), each as its channel, item and tags
plus whether it was clicked, not clicked, or is in the list being built. DIN's
local activation unit weighs each behaviour by an MLP of (behaviour, candidate,
their difference and product); the weights are not normalised (the paper keeps
the intensity of interest), and the pooled interest joins the impression's
fields in the MLP, beside an LR part like the other deep baselines.
"""

from __future__ import annotations

import torch
from torch import nn

from hrlrec.data.batches import FEEDBACK_CODES, PAD, ImpressionBatch
from hrlrec.models.baselines.common import FeatureSpec
from hrlrec.models.baselines.lr import LR
from hrlrec.models.layers import FieldEmbedding, mlp

ITEM_SIDE = ["channel", "item", "tags"]  # what a behaviour and the candidate are described by


class DIN(nn.Module):
    reads_history = True  # the user's last m impressions, not only the list above (common.behaviour_window)

    def __init__(self, spec: FeatureSpec, hidden: int = 128, attention: int = 32) -> None:
        super().__init__()
        self.features = spec  # what the training loop reads the behaviour window from
        self.linear = LR(spec)
        self.emb = spec.embedding()
        self.items = FieldEmbedding(spec.vocab, spec.cat_columns, ITEM_SIDE, spec.dense_dim, spec.dim)  # (B, L, 3d)
        width = len(ITEM_SIDE) * spec.dim
        self.feedback = nn.Embedding(FEEDBACK_CODES, width)
        nn.init.normal_(self.feedback.weight, std=0.05)
        self.activation = mlp([4 * width, attention, 1])
        self.deep = mlp([spec.n_fields * spec.dim + width, hidden, hidden, 1])

    def interest(self, batch: ImpressionBatch) -> torch.Tensor:
        """Sum of the behaviours weighted by their relevance to the candidate: (B, 3d)."""
        # ITEM_SIDE has no dense field: the dense argument is never read
        query = self.items(batch.cat, batch.dense).flatten(-2)  # (B, 3d)
        keys = self.items(batch.before_cat, batch.dense).flatten(-2) + self.feedback(batch.before_feedback)
        q = query.unsqueeze(1).expand_as(keys)
        weight = self.activation(torch.cat([keys, q, keys - q, keys * q], -1))  # (B, L, 1)
        weight = weight * (batch.before_feedback != PAD).unsqueeze(-1)
        return (weight * keys).sum(1)

    def forward(self, batch: ImpressionBatch) -> torch.Tensor:
        fields = self.emb(batch).flatten(1)
        return self.linear(batch) + self.deep(torch.cat([fields, self.interest(batch)], -1)).squeeze(-1)
