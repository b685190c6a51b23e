"""Logistic regression: one weight per feature value, the RelaImpr base (Peng et al. 2002)."""

from __future__ import annotations

import torch
from torch import nn

from hrlrec.data.batches import ImpressionBatch
from hrlrec.models.baselines.common import FeatureSpec


class LR(nn.Module):
    def __init__(self, spec: FeatureSpec) -> None:
        super().__init__()
        self.features = spec  # what the training loop reads the behaviour window from
        self.weights = spec.embedding(dim=1)  # a 1-d "embedding" is a per-value weight
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, batch: ImpressionBatch) -> torch.Tensor:
        return self.weights(batch).sum((1, 2)) + self.bias
