"""DeepFM: FM and an MLP sharing the field embeddings (Guo et al. 2017)."""

from __future__ import annotations

import torch
from torch import nn

from hrlrec.data.batches import ImpressionBatch
from hrlrec.models.baselines.common import FeatureSpec, fm_pairwise
from hrlrec.models.baselines.lr import LR
from hrlrec.models.layers import mlp


class DeepFM(nn.Module):
    def __init__(self, spec: FeatureSpec, hidden: int = 128) -> None:
        super().__init__()
        self.features = spec  # what the training loop reads the behaviour window from
        self.linear = LR(spec)
        self.emb = spec.embedding()
        self.deep = mlp([spec.n_fields * spec.dim, hidden, hidden, 1])

    def forward(self, batch: ImpressionBatch) -> torch.Tensor:
        emb = self.emb(batch)  # (B, n, d), shared by the FM and the deep part
        fm = fm_pairwise(emb).sum(-1)
        return self.linear(batch) + fm + self.deep(emb.flatten(1)).squeeze(-1)
