"""Factorization machine: LR plus pairwise field interactions (Rendle 2010)."""

from __future__ import annotations

import torch
from torch import nn

from hrlrec.data.batches import ImpressionBatch
from hrlrec.models.baselines.common import FeatureSpec, fm_pairwise
from hrlrec.models.baselines.lr import LR


class FM(nn.Module):
    def __init__(self, spec: FeatureSpec) -> None:
        super().__init__()
        self.features = spec  # what the training loop reads the behaviour window from
        self.linear = LR(spec)
        self.emb = spec.embedding()

    def forward(self, batch: ImpressionBatch) -> torch.Tensor:
        return self.linear(batch) + fm_pairwise(self.emb(batch)).sum(-1)
