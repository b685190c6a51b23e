"""Blocks shared by HRL-Rec and the baselines: field embeddings, field self-attention, MLP."""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

PROFILE_FIELDS = ("user", "age", "gender", "region")  # user long-term profile (paper 3.2 (a))
CONTEXT_FIELDS = ("hour", "weekday", "device", "position")  # recommendation context (b)


def take_columns(x: torch.Tensor, cols: list[int]) -> torch.Tensor:
    """`x[..., cols]`, contiguous: a sliced copy when `cols` are adjacent and increasing, as the dataset
    lays out its tag columns; otherwise `index_select`. Indexing with a list ran PyTorch's general index
    kernel: 4.6 ms per (5120, 9, 13) batch, 1/8 of a baseline's training step.
    """
    if cols and cols == list(range(cols[0], cols[0] + len(cols))):
        return x[..., cols[0] : cols[0] + len(cols)].contiguous()
    return x.index_select(-1, torch.tensor(cols, dtype=torch.long, device=x.device))


def embed(table: nn.Embedding, ids: torch.Tensor, training: bool) -> torch.Tensor:
    """`table(ids)`; while training, the same values and gradients by `index_select`, faster.

    nn.Embedding's CPU backward adds the gradient row by row: for the one-wide
    tables of LR (5,120 impressions x 9 earlier items x 3 tags) it was 5.5 ms
    against 1.4 ms for index_select's vectorised index_add, with bit-identical
    gradients (tests). The padding row keeps its value (tables here are initialised
    after construction, so it is not zero) and gets no gradient, as in nn.Embedding:
    its outputs are taken from a detached copy. Outside training (evaluation, ONNX
    export) the table is called as it is.
    """
    if not training:
        return table(ids)
    out = table.weight.index_select(0, ids.reshape(-1)).view(*ids.shape, table.embedding_dim)
    if table.padding_idx is not None:
        out = torch.where((ids != table.padding_idx).unsqueeze(-1), out, out.detach())
    return out


class FieldEmbedding(nn.Module):
    """Turn a row's features into a matrix of fields, one `dim` vector per field.

    Categorical fields each have a table (0 is padding / unknown); the tag
    columns tag0..tagT share one table and pool into a single `tags` field; the
    dense cumulative channel features become one `dense` field through a linear
    map; `extra` fields (e.g. feedback) are ids passed separately.
    """

    def __init__(
        self,
        vocab: dict[str, int],
        cat_columns: list[str],
        fields: list[str],
        dense_dim: int,
        dim: int,
        extra: dict[str, int] | None = None,
    ) -> None:
        super().__init__()
        self.fields = list(fields)
        self.dim = dim
        self.extra = dict(extra or {})
        self.tag_cols = [i for i, c in enumerate(cat_columns) if c.startswith("tag")]
        self.col = {c: i for i, c in enumerate(cat_columns)}
        tables = {}
        for f in self.fields:
            if f == "dense":
                continue
            size = self.extra[f] if f in self.extra else vocab["tag" if f == "tags" else f]
            tables[f] = nn.Embedding(size, dim, padding_idx=0 if f not in self.extra else None)
        self.tables = nn.ModuleDict(tables)
        self.dense = nn.Linear(dense_dim, dim) if "dense" in self.fields else None
        for table in self.tables.values():
            nn.init.normal_(table.weight, std=0.05)

    @property
    def n_fields(self) -> int:
        return len(self.fields)

    def tags_of(self, cat: torch.Tensor) -> torch.Tensor:
        """The tag columns of (..., F) ids: (..., T)."""
        return take_columns(cat, self.tag_cols)

    def forward(
        self, cat: torch.Tensor, dense: torch.Tensor, extra: dict[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """(..., F) ids and (..., D) dense -> (..., n_fields, dim)."""
        out = []
        for f in self.fields:
            if f == "dense":
                out.append(self.dense(dense))
            elif f == "tags":
                ids = self.tags_of(cat)  # (..., T)
                emb = embed(self.tables[f], ids, self.training)  # (..., T, dim); padding rows are zero
                count = (ids > 0).sum(-1, keepdim=True).clamp(min=1)
                out.append(emb.sum(-2) / count)
            elif f in self.extra:
                out.append(embed(self.tables[f], extra[f], self.training))
            else:
                out.append(embed(self.tables[f], cat[..., self.col[f]], self.training))
        return torch.stack(out, dim=-2)


def self_attention(attn: nn.MultiheadAttention, x: torch.Tensor) -> torch.Tensor:
    """`attn(x, x, x)` (batch first, no mask), computed with the layer's own weights, faster.

    nn.MultiheadAttention splits its packed q/k/v projection with three `select`s,
    whose backward each allocates and zero-fills the whole packed tensor: with
    thousands of tiny sequences (one per behaviour, a dozen fields each) that
    was the largest single cost of an HRL-Rec training step (profile in
    docs/results.md). One view and `unbind` give the same numbers (tests check
    against nn.MultiheadAttention) and the same state dict.

    Sizes are never read from `x` but for the field count and size, which the
    model fixes (Python ints here), and the scale is passed, not derived from
    q's shape: in an exported graph every size read from a tensor is a chain of
    Shape, Gather, Unsqueeze and Concat nodes run at every call. The same
    numbers either way (1 / sqrt(head size) is SDPA's own default).
    """
    length, dim = (int(size) for size in x.shape[-2:])
    heads = attn.num_heads
    qkv = F.linear(x, attn.in_proj_weight, attn.in_proj_bias).view(-1, length, 3, heads, dim // heads)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (n, heads, length, dim / heads)
    dropout = attn.dropout if attn.training else 0.0
    mixed = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, scale=1.0 / math.sqrt(dim // heads))
    return attn.out_proj(mixed.transpose(1, 2).reshape(-1, length, dim))


class FieldSelfAttention(nn.Module):
    """Multi-head self-attention over the fields of one behaviour, concatenated (eq. 1).

    With `enabled=False` (the ablation of Table 4) the fields are only
    concatenated and passed through a dense layer.
    """

    def __init__(self, n_fields: int, dim: int, heads: int, enabled: bool = True) -> None:
        super().__init__()
        self.enabled = enabled
        if enabled:
            self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
            self.norm = nn.LayerNorm(dim)
        else:
            self.dense = nn.Sequential(nn.Linear(n_fields * dim, n_fields * dim), nn.ReLU())
        self.out_dim = n_fields * dim

    def forward(self, fields: torch.Tensor) -> torch.Tensor:
        """(N, n, d) -> (N, n * d)."""
        if not self.enabled:
            return self.dense(fields.reshape(-1, self.out_dim))
        return self.norm(fields + self_attention(self.attn, fields)).reshape(-1, self.out_dim)


def mlp(sizes: list[int], dropout: float = 0.0) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)
