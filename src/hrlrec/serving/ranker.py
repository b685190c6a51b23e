"""The HRL-Rec ranker: build a list of K items step by step for a batch of requests.

At each position t: the LRA's action picks the channel of the most similar
available candidate, the HRA's action picks the most similar available item
inside that channel (paper 3.2-3.3), the item is placed, and both states
advance with it (the GRU sees the placed item, feedback unknown). No item is
placed twice; a channel with no candidate left can no longer be chosen; a
request whose pool is exhausted gets -1 for the remaining positions. With
epsilon > 0, each position is, with that probability, a uniformly random
available candidate instead ("surprising" items, paper 3.5), marked explored.
Similarities within TIE (1e-5) of the best are a tie, won by the earlier
pool entry, so every runtime breaks it alike. Each placement records its margin: how far the runner-up was (the smaller
of the channel and the item decision's gap), so a list that differs between
runtimes can be told apart as a float-level tie or a real disagreement.

The loop is numpy over a backend that runs the serving graphs (PyTorch eager
or onnxruntime, see hrlrec.serving.backends), so the stability gate, export
parity and the serving benchmark all rank with the same code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hrlrec.data.batches import PAD, UNKNOWN, Stream, history_rows
from hrlrec.serving.backends import Backend

ITEM_COLUMNS = ("item", "channel")  # plus the tag columns: what a candidate brings
# Similarities within this of the best are a tie, won by the earlier pool entry (the more impressed
# item): below it PyTorch, onnxruntime, CPUs and GPUs disagree in the last bits, and a saturated item
# tower gives exact ties, which would otherwise go to whichever candidate's rounding came out higher.
TIE = 1e-5


@dataclass
class Requests:
    """B requests: the user's last m impressions and the request's own context row (numpy)."""

    seq_cat: np.ndarray  # (B, m, F) int64 history rows (padding after hist_len)
    seq_dense: np.ndarray  # (B, m, D) float32
    feedback: np.ndarray  # (B, m) int64 NOT_CLICKED / CLICKED / PAD
    hist_len: np.ndarray  # (B,) int64
    context: np.ndarray  # (B, F) a row with the request's user and context fields
    context_dense: np.ndarray  # (B, D) cumulative channel features at request time

    @property
    def size(self) -> int:
        return self.context.shape[0]

    def take(self, index: np.ndarray | slice) -> Requests:
        return Requests(*(x[index] for x in (self.seq_cat, self.seq_dense, self.feedback, self.hist_len,
                                             self.context, self.context_dense)))  # fmt: skip


@dataclass
class Ranking:
    """What the ranker placed: pool indices (-1: none), channels, explored flags, click scores, margins; (B, K)."""

    items: np.ndarray
    channels: np.ndarray
    explored: np.ndarray
    scores: np.ndarray
    margins: np.ndarray  # similarity gap to the runner-up of the closer of the two decisions (inf: no rival)


def requests_from_lists(stream: Stream, lists: np.ndarray, history_len: int) -> Requests:
    """The requests behind logged lists: their history and their first row's context."""
    s0, n_hist, rows, valid = history_rows(stream, lists, history_len)
    feedback = np.where(valid.cpu().numpy(), stream.clicked[rows].long().cpu().numpy(), PAD)
    return Requests(
        seq_cat=stream.cat[rows].cpu().numpy(),
        seq_dense=(stream.dense[rows] * valid[..., None]).cpu().numpy(),
        feedback=feedback.astype(np.int64),
        hist_len=n_hist.cpu().numpy().astype(np.int64),
        context=stream.cat[s0].cpu().numpy(),
        context_dense=stream.dense[s0].cpu().numpy(),
    )


def pool_from_rows(stream: Stream, rows: np.ndarray, per_channel: int) -> np.ndarray:
    """The `per_channel` most impressed items of each channel among `rows`: (N, F) candidate rows."""
    item_col, ch_col = stream.column("item"), stream.column("channel")
    cat = stream.cat[rows].cpu().numpy()
    picked = []
    for channel in np.unique(cat[:, ch_col]):
        if channel == 0:
            continue
        in_channel = cat[cat[:, ch_col] == channel]
        _, first, counts = np.unique(in_channel[:, item_col], return_index=True, return_counts=True)
        top = np.argsort(-counts, kind="stable")[:per_channel]
        picked.append(in_channel[first[top]])
    return np.concatenate(picked)


class Ranker:
    """Ranks a candidate pool for a batch of requests with the graphs of `backend`."""

    def __init__(self, backend: Backend, cat_columns: list[str], list_len: int) -> None:
        self.backend = backend
        self.K = list_len
        self.col = {c: i for i, c in enumerate(cat_columns)}
        self.item_cols = [self.col[c] for c in ITEM_COLUMNS] + [i for c, i in self.col.items() if c.startswith("tag")]

    def rank(
        self, requests: Requests, pool: np.ndarray, epsilon: float = 0.0, rng: np.random.Generator | None = None
    ) -> Ranking:
        """Rank `pool` (N, F) for every request; returns (B, K) placements."""
        run, K = self.backend.run, self.K
        B, N = requests.size, pool.shape[0]
        rows = np.arange(B)
        pool_channel = pool[:, self.col["channel"]]
        available = np.ones((B, N), dtype=bool)
        h_low, h_high = run("initial_state", requests.context)
        history = (requests.seq_cat, requests.seq_dense, requests.feedback, requests.hist_len)
        (h_low,) = run("lra_encoder", *history, h_low)
        (h_high,) = run("hra_encoder", *history, h_high)
        # Every candidate is seen under the request's context at the position being filled.
        context = requests.context.copy()
        step_dense = requests.context_dense[:, None, :]
        step_feedback = np.full((B, 1), UNKNOWN, dtype=np.int64)
        one = np.ones(B, dtype=np.int64)
        out = Ranking(
            items=np.full((B, K), -1, dtype=np.int64),
            channels=np.zeros((B, K), dtype=np.int64),
            explored=np.zeros((B, K), dtype=bool),
            scores=np.zeros((B, K), dtype=np.float32),
            margins=np.full((B, K), np.inf, dtype=np.float32),
        )
        for t in range(K):
            context[:, self.col["position"]] = t + 1  # position ids start at 1 (0 is padding)
            a_low, a_high = run("actors", h_low, h_high)
            (d,) = run("item_tower", pool, context, requests.context_dense)
            sim_low, sim_high, logit = run("scores", a_low, a_high, d)
            low = np.where(available, sim_low, -np.inf)
            best = _first_best(low)
            channel = pool_channel[best]  # eq. (3): the channel of the most similar candidate
            allowed = available & (pool_channel[None, :] == channel[:, None])
            high = np.where(allowed, sim_high, -np.inf)
            item = _first_best(high)  # the hard channel constraint
            rival_channel = np.where(pool_channel[None, :] != channel[:, None], low, -np.inf).max(1)
            with np.errstate(invalid="ignore"):  # -inf - -inf where nothing is left
                channel_gap = low.max(1) - rival_channel
            channel_gap = np.where(np.isnan(channel_gap), np.inf, channel_gap)
            out.margins[:, t] = np.minimum(channel_gap, _runner_up_gap(high))
            if epsilon > 0:
                rng = rng or np.random.default_rng()
                explore = rng.random(B) < epsilon
                noise = np.where(available, rng.random((B, N)), -1.0)
                item = np.where(explore, noise.argmax(1), item)
                out.explored[:, t] = explore
            has_any = available.any(1)
            item = np.where(has_any, item, -1)
            safe = item.clip(min=0)
            out.items[:, t] = item
            out.channels[:, t] = np.where(has_any, pool_channel[safe], 0)
            out.scores[:, t] = np.where(has_any, 1.0 / (1.0 + np.exp(-logit[rows, safe])), 0.0)
            available[rows[has_any], safe[has_any]] = False
            if t + 1 == K:
                break
            # The state advances with the placed item: its row joins the sequence, feedback unknown.
            placed = context.copy()
            placed[:, self.item_cols] = pool[safe][:, self.item_cols]
            step = (placed[:, None, :], step_dense, step_feedback, np.where(has_any, one, 0))
            (h_low,) = run("lra_encoder", *step, h_low)
            (h_high,) = run("hra_encoder", *step, h_high)
        return out


def day_requests(stream: Stream, seed: int, max_requests: int, per_channel: int) -> tuple[np.ndarray, np.ndarray]:
    """What the gates rank for a day: a seeded sample of its lists (sorted) and its candidate pool.

    The pool is the day's `per_channel` most impressed items per channel; the
    stability gate and export parity draw the same sample for the same seed.
    """
    lists = stream.lists("test")
    rng = np.random.default_rng([seed, 48])
    sample = np.sort(rng.choice(lists, size=min(max_requests, len(lists)), replace=False))
    return sample, pool_from_rows(stream, stream.rows(lists), per_channel)


def rank_lists(ranker: Ranker, stream: Stream, lists: np.ndarray, pool: np.ndarray, history_len: int,
               batch: int = 256) -> Ranking:  # fmt: skip
    """Rank the requests behind `lists` in batches of `batch`; one Ranking, in `lists` order."""
    parts = [
        ranker.rank(requests_from_lists(stream, lists[i : i + batch], history_len), pool)
        for i in range(0, len(lists), batch)
    ]
    fields = ("items", "channels", "explored", "scores", "margins")
    return Ranking(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))


def _runner_up_gap(scores: np.ndarray) -> np.ndarray:
    """Per row, best minus second-best score (inf when fewer than two are finite)."""
    if scores.shape[1] < 2:
        return np.full(scores.shape[0], np.inf, dtype=np.float32)
    top2 = -np.partition(-scores, 1, axis=1)[:, :2]
    with np.errstate(invalid="ignore"):
        gap = top2[:, 0] - top2[:, 1]
    return np.where(np.isfinite(gap), gap, np.inf)


def _first_best(scores: np.ndarray) -> np.ndarray:
    """Per row, the first index whose score is within TIE of the row's best (-inf rows give 0)."""
    best = scores.max(1, keepdims=True)
    return np.argmax(scores >= best - TIE, axis=1)
