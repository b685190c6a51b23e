"""Wide & Deep: a linear part and an MLP over concatenated embeddings (Cheng et al. 2016)."""

from __future__ import annotations

import torch
from torch import nn

from hrlrec.data.batches import ImpressionBatch
from hrlrec.models.baselines.common import FeatureSpec
from hrlrec.models.baselines.lr import LR
from hrlrec.models.layers import mlp


class WideDeep(nn.Module):
    def __init__(self, spec: FeatureSpec, hidden: int = 128) -> None:
        super().__init__()
        self.features = spec  # what the training loop reads the behaviour window from
        self.wide = LR(spec)
        self.emb = spec.embedding()
        self.deep = mlp([spec.n_fields * spec.dim, hidden, hidden, 1])

    def forward(self, batch: ImpressionBatch) -> torch.Tensor:
        return self.wide(batch) + self.deep(self.emb(batch).flatten(1)).squeeze(-1)
