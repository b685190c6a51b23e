"""AFM: pairwise interactions weighted by an attention network (Xiao et al. 2017)."""

from __future__ import annotations

import torch
from torch import nn

from hrlrec.data.batches import ImpressionBatch
from hrlrec.models.baselines.common import FeatureSpec
from hrlrec.models.baselines.lr import LR


class AFM(nn.Module):
    def __init__(self, spec: FeatureSpec, attention: int = 16) -> None:
        super().__init__()
        self.features = spec  # what the training loop reads the behaviour window from
        self.linear = LR(spec)
        self.emb = spec.embedding()
        rows, cols = torch.triu_indices(spec.n_fields, spec.n_fields, offset=1)
        self.register_buffer("rows", rows, persistent=False)
        self.register_buffer("cols", cols, persistent=False)
        self.attn = nn.Sequential(nn.Linear(spec.dim, attention), nn.ReLU(), nn.Linear(attention, 1, bias=False))
        self.out = nn.Linear(spec.dim, 1, bias=False)

    def forward(self, batch: ImpressionBatch) -> torch.Tensor:
        emb = self.emb(batch)  # (B, n, d)
        pairs = emb[:, self.rows] * emb[:, self.cols]  # (B, P, d) element-wise products of field pairs
        weights = torch.softmax(self.attn(pairs), dim=1)  # (B, P, 1)
        return self.linear(batch) + self.out((weights * pairs).sum(1)).squeeze(-1)
