"""NFM: bi-interaction pooling of field embeddings fed to an MLP (He and Chua 2017)."""

from __future__ import annotations

import torch
from torch import nn

from hrlrec.data.batches import ImpressionBatch
from hrlrec.models.baselines.common import FeatureSpec, fm_pairwise
from hrlrec.models.baselines.lr import LR
from hrlrec.models.layers import mlp


class NFM(nn.Module):
    def __init__(self, spec: FeatureSpec, hidden: int = 64) -> None:
        super().__init__()
        self.features = spec  # what the training loop reads the behaviour window from
        self.linear = LR(spec)
        self.emb = spec.embedding()
        self.deep = mlp([spec.dim, hidden, hidden, 1])

    def forward(self, batch: ImpressionBatch) -> torch.Tensor:
        return self.linear(batch) + self.deep(fm_pairwise(self.emb(batch))).squeeze(-1)
