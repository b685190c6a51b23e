"""NFM: bi-interaction pooling of field embeddings fed to an MLP (He and Chua 2017)."""

from __future__ import annotations

import torch
from torch import nn

from hrlrec.models.baselines.common import FeatureSpec, fm_pairwise
from hrlrec.models.baselines.lr import LR
from hrlrec.models.layers import mlp


class NFM(nn.Module):
    def __init__(self, spec: FeatureSpec, hidden: int = 64) -> None:
        super().__init__()
        self.linear = LR(spec)
        self.emb = spec.embedding()
        self.deep = mlp([spec.dim, hidden, hidden, 1])

    def forward(self, cat: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        return self.linear(cat, dense) + self.deep(fm_pairwise(self.emb(cat, dense))).squeeze(-1)
