"""The HRL-Rec ranker: build a list of K items step by step for a batch of requests.

At each position t: the LRA's action picks the channel of the most similar
available candidate, the HRA's action picks the most similar available item
inside that channel (paper 3.2-3.3), the item is placed, and the state
advances with it (the GRU sees the placed items, feedback unknown). No item
is placed twice; a channel with no candidate left can no longer be chosen; a
request whose pool is exhausted gets -1 for the remaining positions. With
epsilon > 0, each position is, with that probability, a uniformly random
available candidate instead ("surprising" items, paper 3.5), marked explored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hrlrec.data.batches import PAD, UNKNOWN, Stream, history_rows
from hrlrec.models.channel_selector import ChannelSelector
from hrlrec.models.hrlrec import HRLRec
from hrlrec.models.item_recommender import ItemRecommender

ITEM_COLUMNS = ("item", "channel")  # plus the tag columns: what a candidate brings


@dataclass
class Requests:
    """B requests: the user's last m impressions and the request's own context row."""

    seq_cat: torch.Tensor  # (B, m, F) history rows (padding after hist_len)
    seq_dense: torch.Tensor  # (B, m, 2C)
    feedback: torch.Tensor  # (B, m) NOT_CLICKED / CLICKED / PAD
    hist_len: torch.Tensor  # (B,)
    context: torch.Tensor  # (B, F) a row with the request's user and context fields
    context_dense: torch.Tensor  # (B, 2C) cumulative channel features at request time

    @property
    def size(self) -> int:
        return self.context.shape[0]


@dataclass
class Ranking:
    """What the ranker placed: pool indices, channels, explored flags and click scores, (B, K) each."""

    items: torch.Tensor
    channels: torch.Tensor
    explored: torch.Tensor
    scores: torch.Tensor


def requests_from_lists(stream: Stream, lists: np.ndarray, history_len: int) -> Requests:
    """The requests behind logged lists: their history and their first row's context."""
    s0, n_hist, rows, valid = history_rows(stream, lists, history_len)
    feedback = torch.where(valid, stream.clicked[rows].long(), torch.full_like(rows, PAD))
    return Requests(
        seq_cat=stream.cat[rows],
        seq_dense=stream.dense[rows] * valid[..., None],
        feedback=feedback,
        hist_len=n_hist,
        context=stream.cat[s0],
        context_dense=stream.dense[s0],
    )


def pool_from_rows(stream: Stream, rows: np.ndarray, per_channel: int) -> torch.Tensor:
    """The `per_channel` most impressed items of each channel among `rows`: (N, F) candidate rows."""
    item_col, ch_col = stream.column("item"), stream.column("channel")
    cat = stream.cat[torch.as_tensor(rows, device=stream.cat.device)].cpu().numpy()
    picked = []
    for channel in np.unique(cat[:, ch_col]):
        if channel == 0:
            continue
        in_channel = cat[cat[:, ch_col] == channel]
        _, first, counts = np.unique(in_channel[:, item_col], return_index=True, return_counts=True)
        top = np.argsort(-counts, kind="stable")[:per_channel]
        picked.append(in_channel[first[top]])
    return torch.as_tensor(np.concatenate(picked), device=stream.cat.device)


class Ranker:
    """Wraps a trained HRLRec; `rank` is batched over requests."""

    def __init__(self, model: HRLRec, cat_columns: list[str], list_len: int) -> None:
        self.model = model.eval()
        self.K = list_len
        self.col = {c: i for i, c in enumerate(cat_columns)}
        self.item_cols = [self.col[c] for c in ITEM_COLUMNS] + [i for c, i in self.col.items() if c.startswith("tag")]

    @torch.no_grad()
    def rank(
        self, requests: Requests, pool: torch.Tensor, epsilon: float = 0.0, generator: torch.Generator | None = None
    ) -> Ranking:
        """Rank `pool` (N, F) for every request; returns (B, K) placements."""
        model, K = self.model, self.K
        B, m = requests.seq_cat.shape[:2]
        N, F = pool.shape
        device = pool.device
        pool_channel = pool[:, self.col["channel"]].expand(B, N)
        available = torch.ones(B, N, dtype=torch.bool, device=device)
        seq_cat = torch.cat([requests.seq_cat, requests.context[:, None].expand(B, K, F).clone()], 1)  # (B, m+K, F)
        seq_dense = torch.cat([requests.seq_dense, requests.context_dense[:, None].expand(B, K, -1).clone()], 1)
        feedback = torch.cat([requests.feedback, torch.full((B, K), PAD, device=device, dtype=torch.long)], 1)
        # History rows sit before the list rows: move each request's rows so the list starts at hist_len.
        order = _left_packed(requests.hist_len, m, K, device)
        seq_cat, seq_dense, feedback = (x.gather(1, _expand(order, x)) for x in (seq_cat, seq_dense, feedback))
        rows = torch.arange(B, device=device)
        out_items = torch.full((B, K), -1, dtype=torch.long, device=device)
        out_channels = torch.zeros((B, K), dtype=torch.long, device=device)
        explored = torch.zeros((B, K), dtype=torch.bool, device=device)
        scores = torch.zeros((B, K), device=device)
        for t in range(K):
            placed = torch.full((B,), t, dtype=torch.long, device=device)
            s_low = model.low_encoder(seq_cat, seq_dense, feedback, requests.hist_len, placed, t)[:, t]
            s_high = model.high_encoder(seq_cat, seq_dense, feedback, requests.hist_len, placed, t)[:, t]
            cand = self._candidates(pool, requests, t, seq_dense[rows, requests.hist_len + t])  # (B, N, A)
            a_low, a_high = model.lra.act(s_low), model.hra.act(s_high)
            channel = ChannelSelector.select(a_low, cand, pool_channel, available)
            item = ItemRecommender.select(a_high, cand, pool_channel, available, channel)
            if epsilon > 0:
                explore = torch.rand(B, generator=generator, device=device) < epsilon
                noise = torch.rand(B, N, generator=generator, device=device).masked_fill(~available, -1.0)
                item = torch.where(explore, noise.argmax(-1), item)
                explored[:, t] = explore
            has_any = available.any(-1)
            item = torch.where(has_any, item, torch.full_like(item, -1))
            safe = item.clamp(min=0)
            out_items[:, t] = item
            out_channels[:, t] = torch.where(has_any, pool_channel[rows, safe], torch.zeros_like(safe))
            d = cand[rows, safe]
            scores[:, t] = torch.where(has_any, torch.sigmoid(model.click_logit(a_low, a_high, d)), 0.0)
            available[rows[has_any], safe[has_any]] = False
            # The state advances with the placed item: its row joins the sequence, feedback unknown.
            at = requests.hist_len + t
            row = seq_cat[rows, at].clone()
            row[:, self.item_cols] = pool[safe][:, self.item_cols]
            row[:, self.col["position"]] = t + 1  # position ids start at 1 (0 is padding)
            seq_cat[rows[has_any], at[has_any]] = row[has_any]
            feedback[rows[has_any], at[has_any]] = UNKNOWN
        return Ranking(out_items, out_channels, explored, scores)

    def _candidates(self, pool: torch.Tensor, requests: Requests, t: int, dense: torch.Tensor) -> torch.Tensor:
        """Candidate embeddings d under each request's context at position t: (B, N, A)."""
        B, (N, F) = requests.size, pool.shape
        cat = requests.context[:, None, :].expand(B, N, F).clone()
        cat[..., self.item_cols] = pool[None, :, self.item_cols].expand(B, N, len(self.item_cols))
        cat[..., self.col["position"]] = t + 1
        return self.model.items(cat, dense[:, None, :].expand(B, N, dense.shape[-1]))


def _left_packed(hist_len: torch.Tensor, m: int, K: int, device: torch.device) -> torch.Tensor:
    """Index map that puts history rows first (0..hist_len-1), then the K list rows, then padding."""
    j = torch.arange(m + K, device=device)[None, :]
    h = hist_len[:, None]
    src = torch.where(j < h, j, torch.where(j < h + K, m + (j - h), j - K))
    return src.clamp(max=m + K - 1)


def _expand(index: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return index.view(*index.shape, *([1] * (x.dim() - 2))).expand(*index.shape, *x.shape[2:])
