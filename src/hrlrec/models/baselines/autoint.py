"""AutoInt: stacked multi-head self-attention over fields with residuals (Song et al. 2019)."""

from __future__ import annotations

import torch
from torch import nn

from hrlrec.data.batches import ImpressionBatch
from hrlrec.models.baselines.common import FeatureSpec
from hrlrec.models.baselines.lr import LR
from hrlrec.models.layers import self_attention


class InteractingLayer(nn.Module):
    """One AutoInt layer: field self-attention plus a projected residual, then ReLU."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.residual = nn.Linear(dim, dim, bias=False)

    def forward(self, fields: torch.Tensor) -> torch.Tensor:
        return torch.relu(self_attention(self.attn, fields) + self.residual(fields))


class AutoInt(nn.Module):
    def __init__(self, spec: FeatureSpec, layers: int = 2, heads: int = 2) -> None:
        super().__init__()
        self.features = spec  # what the training loop reads the behaviour window from
        self.linear = LR(spec)
        self.emb = spec.embedding()
        self.layers = nn.Sequential(*[InteractingLayer(spec.dim, heads) for _ in range(layers)])
        self.out = nn.Linear(spec.n_fields * spec.dim, 1)

    def forward(self, batch: ImpressionBatch) -> torch.Tensor:
        fields = self.layers(self.emb(batch))  # (B, n, d)
        return self.linear(batch) + self.out(fields.flatten(1)).squeeze(-1)
