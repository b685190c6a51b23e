"""What every baseline is built from: the feature spec and the pairwise FM interaction."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hrlrec.models.layers import CONTEXT_FIELDS, PROFILE_FIELDS, FieldEmbedding

# One impression's fields: the same groups HRL-Rec sees for the current behaviour.
BASELINE_FIELDS = [*PROFILE_FIELDS, *CONTEXT_FIELDS, "channel", "item", "tags", "dense"]


@dataclass(frozen=True)
class FeatureSpec:
    """Sizes a baseline needs to build its embeddings."""

    vocab: dict[str, int]
    cat_columns: list[str]
    dense_dim: int
    dim: int  # embedding size per field

    def embedding(self, dim: int | None = None) -> FieldEmbedding:
        return FieldEmbedding(self.vocab, self.cat_columns, BASELINE_FIELDS, self.dense_dim, dim or self.dim)

    @property
    def n_fields(self) -> int:
        return len(BASELINE_FIELDS)


def fm_pairwise(emb: torch.Tensor) -> torch.Tensor:
    """Sum over field pairs of <v_i, v_j>, per dimension: 0.5 * ((sum v)^2 - sum v^2). (B, n, d) -> (B, d)."""
    return 0.5 * (emb.sum(1).pow(2) - emb.pow(2).sum(1))
