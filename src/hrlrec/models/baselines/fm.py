"""Factorization machine: LR plus pairwise field interactions (Rendle 2010)."""

from __future__ import annotations

import torch
from torch import nn

from hrlrec.models.baselines.common import FeatureSpec, fm_pairwise
from hrlrec.models.baselines.lr import LR


class FM(nn.Module):
    def __init__(self, spec: FeatureSpec) -> None:
        super().__init__()
        self.linear = LR(spec)
        self.emb = spec.embedding()

    def forward(self, cat: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        return self.linear(cat, dense) + fm_pairwise(self.emb(cat, dense)).sum(-1)
