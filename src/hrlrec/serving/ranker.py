"""The HRL-Rec ranker: build a list of K items step by step for a batch of requests.

At each position t: the channel policy gives pi(c | s_l) over the channels that
still have a candidate (models/channel_policy.py); the channel is drawn from it
(`sample`, with uniforms drawn up front from a seed, so the same seed gives the
same lists on every runtime and batch size) or is its most probable channel
(`argmax`); inside that channel the item with the highest click logit
f(a_l, a_h(c), d) is placed (the HRA acts under the channel constraint), and
both states advance with it (the GRU sees the placed item, feedback unknown).
No item is placed twice; a request whose pool is exhausted gets -1 for the
remaining positions. With epsilon > 0, each position is, with that
probability, a uniformly random available item of the chosen channel
(exploration, paper 3.5), marked explored.

Every placement records its propensity, the probability with which this
item came out at this position given the list so far: pi(c | s) times
(1 - epsilon) [item is the greedy one] + epsilon / (items left in c). That is
the sequential choice probability an off-policy estimator needs.

Scores within TIE (1e-5) of the best are a tie, won by the earlier pool entry,
so every runtime breaks it alike. Each placement records its margin: how far
the runner-up was (the smaller of the channel and the item decision's gap;
for a drawn channel, how far the uniform was from a boundary of the policy's
cumulative distribution), so a list that differs between runtimes can be told
apart as a float-level tie or a real disagreement.

The loop is numpy over a backend that runs the serving graphs (PyTorch eager
or onnxruntime, see hrlrec.serving.backends), so the stability gate, export
parity and the serving benchmark all rank with the same code. One position
costs two graph calls: `item_logits` for the chosen channel's candidates, then
`advance` (both encoders with the placed item and the next position's channel
policy, fused). What depends on the pool alone is computed once by
`Ranker.prepare` and laid out by channel id (`ChannelTables`), so a position
reads the chosen channel's candidates, their item-tower halves, which of them
are still free and the placed item's columns with one gather each; a
channel's remaining entries are counted, not searched. At one request the
loop's numpy work is a quarter to two fifths of a request's time on onnxruntime
(docs/results.md), so every operation it saves counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hrlrec.data.batches import PAD, UNKNOWN, Stream, history_rows
from hrlrec.progress import batch_starts
from hrlrec.serving.backends import Backend

ITEM_COLUMNS = ("item", "channel")  # plus the tag columns: what a candidate brings
# Similarities within this of the best are a tie, won by the earlier pool entry (the more impressed
# item): below it PyTorch, onnxruntime, CPUs and GPUs disagree in the last bits, and a saturated item
# tower gives exact ties, which would otherwise go to whichever candidate's rounding came out higher.
TIE = 1e-5
_LOWEST = np.finfo(np.float32).min


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
    """What the ranker placed, (B, K) each unless said: pool indices (-1: none), channel ids, and why."""

    items: np.ndarray
    channels: np.ndarray
    explored: np.ndarray
    scores: np.ndarray  # click probability of the placed item
    margins: np.ndarray  # gap to the runner-up of the closer of the two decisions (inf: no rival)
    propensities: np.ndarray  # probability of this item at this position given the list so far (0: none placed)
    channel_probs: np.ndarray  # (B, K, C) the policy's pi(c | s) over available channels at each position


FIELDS = ("items", "channels", "explored", "scores", "margins", "propensities", "channel_probs")


@dataclass(frozen=True)
class ServingPolicy:
    """How scores become choices: channel drawn or argmax, and the exploration rate."""

    channel_choice: str = "argmax"  # "sample" or "argmax"
    epsilon: float = 0.0

    def __post_init__(self) -> None:
        if self.channel_choice not in ("sample", "argmax"):
            raise ValueError(f"channel_choice {self.channel_choice!r}: choose sample or argmax")
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValueError(f"epsilon {self.epsilon} must lie in [0, 1]")

    @classmethod
    def of(cls, serving: Any) -> ServingPolicy:
        """From the `serving:` section of params.yaml."""
        return cls(serving.channel_choice, serving.epsilon)

    @property
    def stochastic(self) -> bool:
        return self.channel_choice == "sample" or self.epsilon > 0


@dataclass(frozen=True)
class Draws:
    """The uniforms a stochastic ranking consumes, (B, K) each, fixed before ranking starts."""

    channel: np.ndarray  # which channel is drawn from pi
    explore: np.ndarray  # whether the position explores (< epsilon)
    pick: np.ndarray  # which item of the channel an exploring position takes

    @classmethod
    def seeded(cls, seed: int, n: int, K: int) -> Draws:
        rng = np.random.default_rng([seed, 49])
        return cls(*(rng.random((n, K)) for _ in range(3)))

    def take(self, index: slice) -> Draws:
        return Draws(self.channel[index], self.explore[index], self.pick[index])


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


def pool_rows(stream: Stream, rows: np.ndarray, per_channel: int) -> np.ndarray:
    """Stream rows (N,) of the `per_channel` most impressed items of each channel among `rows`.

    One row per item (its first impression among `rows`), channels in id order, items by impressions.
    """
    item_col, ch_col = stream.column("item"), stream.column("channel")
    rows = np.asarray(rows)
    cat = stream.cat[rows].cpu().numpy()
    picked = []
    for channel in np.unique(cat[:, ch_col]):
        if channel == 0:
            continue
        in_channel = np.flatnonzero(cat[:, ch_col] == channel)
        _, first, counts = np.unique(cat[in_channel, item_col], return_index=True, return_counts=True)
        top = np.argsort(-counts, kind="stable")[:per_channel]
        picked.append(rows[in_channel[first[top]]])
    return np.concatenate(picked)


def pool_from_rows(stream: Stream, rows: np.ndarray, per_channel: int) -> np.ndarray:
    """The `per_channel` most impressed items of each channel among `rows`: (N, F) candidate rows."""
    return stream.cat[pool_rows(stream, rows, per_channel)].cpu().numpy()


def channel_members(pool_channel: np.ndarray) -> np.ndarray:
    """(largest channel id + 1, W): row c holds the pool entries of channel c in pool order, -1 padded.

    Row 0 (no channel, or padding items) is empty. Scoring a request's chosen
    channel reads its row: pool order is kept, so ties still go to the earlier
    entry, and a pool of C channels costs 1/C of scoring it whole.
    """
    ids = np.asarray(pool_channel, dtype=np.int64)
    top = int(ids.max(initial=0))
    rows = [np.flatnonzero(ids == c) if c > 0 else np.empty(0, dtype=np.int64) for c in range(top + 1)]
    table = np.full((top + 1, max(1, *(len(r) for r in rows))), -1, dtype=np.int64)
    for c, r in enumerate(rows):
        table[c, : len(r)] = r
    return table


def members_of(members: np.ndarray, channel: np.ndarray) -> np.ndarray:
    """(B, W) pool entries of each request's `channel` (-1 padding; an id outside the pool: none)."""
    channel = np.asarray(channel, dtype=np.int64)
    return members[np.where((channel >= 0) & (channel < len(members)), channel, 0)]


def candidates_of(item_part: np.ndarray, pool_channel: np.ndarray, channel: np.ndarray) -> np.ndarray:
    """(B, W, H) `pool_items` rows of each request's channel (padding repeats entry 0; callers mask it)."""
    return item_part[members_of(channel_members(pool_channel), channel).clip(min=0)]


@dataclass(frozen=True)
class ChannelTables:
    """A prepared pool laid out by the model's channel ids 0..C, what each ranking position reads with one gather.

    Row c holds channel c's entries in pool order: row 0 and any id the pool
    lacks are empty, ids above C (never chosen) are left out. Scoring a
    request's chosen channel takes its row of `parts`; a placed item's row comes
    from `rows`, whose extra last row (a copy of entry 0) is what pool index -1
    reads: the row an encoder ignores at length 0, as entry 0 was before this
    table. Whether an entry is still free is `present`, copied per request and
    cleared where placed.
    """

    members: np.ndarray  # (C + 1, W) pool entries per channel id, -1 padding
    present: np.ndarray  # (C + 1, W) members >= 0
    parts: np.ndarray  # (C + 1, W, H) `pool_items` of each member (padding repeats entry 0; callers mask it)
    rows: np.ndarray  # (N + 1, F) the pool's rows; row N (index -1) = row 0
    sizes: np.ndarray  # (C,) entries per channel id 1..C


@dataclass(frozen=True)
class PreparedPool:
    """A candidate pool with everything that depends on it alone, computed once for every request ranked on it.

    In serving the pool is the day's; a request arrives one at a time, so the
    pool's half of the item tower (the `pool_items` graph over N candidates),
    each channel's member table and its size would otherwise be recomputed per
    request. Made by `Ranker.prepare` with that ranker's backend.
    """

    rows: np.ndarray  # (N, F) candidate rows
    channel: np.ndarray  # (N,) channel id of each entry
    members: np.ndarray  # channel_members(channel)
    item_part: np.ndarray  # (N, H) `pool_items` of the rows
    backend: Backend  # the backend whose `pool_items` made item_part
    _tables: dict[int, ChannelTables] = field(default_factory=dict, compare=False, repr=False)

    def sizes(self, n_channels: int) -> np.ndarray:
        """(C,) entries per channel id 1..C (ids outside that range are never chosen)."""
        return np.bincount(self.channel[(self.channel > 0) & (self.channel <= n_channels)] - 1,
                           minlength=n_channels)  # fmt: skip

    def tables(self, n_channels: int) -> ChannelTables:
        """The pool by channel id 0..`n_channels` (the model's C), made once per C and kept."""
        if n_channels not in self._tables:
            members = np.full((n_channels + 1, self.members.shape[1]), -1, dtype=np.int64)
            kept = min(n_channels + 1, len(self.members))
            members[:kept] = self.members[:kept]
            self._tables[n_channels] = ChannelTables(
                members=members,
                present=members >= 0,
                parts=self.item_part[np.maximum(members, 0)],
                rows=np.concatenate([self.rows, self.rows[:1]]),
                sizes=self.sizes(n_channels),
            )
        return self._tables[n_channels]


class Ranker:
    """Ranks a candidate pool for a batch of requests with the graphs of `backend`."""

    def __init__(self, backend: Backend, cat_columns: list[str], list_len: int) -> None:
        self.backend = backend
        self.K = list_len
        self.col = {c: i for i, c in enumerate(cat_columns)}
        self.item_cols = np.array([self.col[c] for c in ITEM_COLUMNS]
                                  + [i for c, i in self.col.items() if c.startswith("tag")])  # fmt: skip

    def prepare(self, pool: np.ndarray) -> PreparedPool:
        """`pool` (N, F) with its item-tower half and channel tables, for ranking many requests on it."""
        channel = pool[:, self.col["channel"]].astype(np.int64)
        (item_part,) = self.backend.run("pool_items", pool)
        return PreparedPool(pool, channel, channel_members(channel), item_part, self.backend)

    def rank(
        self,
        requests: Requests,
        pool: np.ndarray | PreparedPool,
        policy: ServingPolicy | None = None,
        draws: Draws | None = None,
    ) -> Ranking:
        """Rank `pool` (N, F, or prepared by `prepare`) for every request; returns (B, K) placements.

        A stochastic `policy` needs `draws` (B, K) (see `Draws.seeded`); argmax with epsilon 0 needs none.
        """
        policy = policy or ServingPolicy()
        prepared = pool if isinstance(pool, PreparedPool) else self.prepare(pool)
        if prepared.backend is not self.backend:
            raise ValueError("the pool was prepared by another ranker's backend; prepare it with this ranker")
        run, K = self.backend.run, self.K
        B = requests.size
        sample = policy.channel_choice == "sample"
        if policy.stochastic and (draws is None or draws.channel.shape != (B, K)):
            raise ValueError(f"a stochastic serving policy needs draws of shape {(B, K)}")
        rows = np.arange(B)
        # Every candidate is seen under the request's context at the position being filled.
        context = requests.context.copy()
        position = self.col["position"]
        context[:, position] = 1  # position ids start at 1 (0 is padding)
        h_low, h_high, logits = self.begin(requests, context)  # logits (B, C): channel id c at column c - 1
        C = logits.shape[1]
        tables = prepared.tables(C)
        out = _empty_ranking(B, K, C)
        left = np.broadcast_to(tables.sizes, (B, C)).copy()  # entries still available per channel
        free = np.broadcast_to(tables.present, (B, *tables.present.shape)).copy()  # (B, C + 1, W) not placed
        picked_logits = []  # (B,) per position: the placed item's click logit
        # Per position the loop is a few dozen small numpy operations: at one request each costs its call
        # overhead, so none is repeated and each table is read with one gather (`np.maximum(x, 0)`, not
        # `clip`, whose Python wrapper costs more).
        for t in range(K):
            is_left = left > 0
            has_any = is_left.any(1)
            masked = np.where(is_left, logits, -np.inf)
            probs = _softmax(masked)  # all zero where nothing is left
            if sample:
                index, channel_gap = _draw(probs, draws.channel[:, t])
            else:
                index, channel_gap = _best_and_gap(masked)
            # 0 (the empty row of every table) where nothing is left: such a request places -1 and changes nothing
            channel = np.where(has_any, index + 1, 0)
            (logit,) = run("item_logits", tables.parts[channel], context, requests.context_dense, h_low, h_high,
                           channel)  # fmt: skip
            allowed = free[rows, channel]  # (B, W) the chosen channel's entries not yet placed
            high = np.where(allowed, logit, -np.inf)
            pick, item_gap = _best_and_gap(high)  # the hard channel constraint; column of the channel's row
            out.margins[:, t] = np.minimum(channel_gap, item_gap)
            p_item = 1.0
            if policy.epsilon > 0:
                n_allowed = allowed.sum(1)
                explore = draws.explore[:, t] < policy.epsilon
                kth = np.minimum((draws.pick[:, t] * n_allowed).astype(np.int64), np.maximum(n_allowed - 1, 0))
                random_pick = np.argmax(np.cumsum(allowed, 1) > kth[:, None], axis=1)
                greedy = pick
                pick = np.where(explore, random_pick, greedy)
                share = policy.epsilon / np.maximum(n_allowed, 1)
                p_item = np.where(pick == greedy, 1.0 - policy.epsilon, 0.0) + share
                out.explored[:, t] = explore & has_any
            item = tables.members[channel, pick]  # -1 where nothing was left: channel 0's row is empty
            out.items[:, t] = item
            out.channels[:, t] = channel
            out.channel_probs[:, t] = probs
            # The channel's share of the propensity: pi(c | s) when drawn, 1 when taken by argmax.
            p_channel = probs[rows, index] if sample else 1.0
            out.propensities[:, t] = np.where(has_any, p_channel * p_item, 0.0)
            picked_logits.append(logit[rows, pick])
            # A request with nothing left changes nothing: it clears the empty row's slot and counts 0 less.
            free[rows, channel, pick] = False
            left[rows, index] -= has_any
            if t + 1 == K:
                break
            # `advance` with the placed item, read under this position's context, and the channel logits at the
            # next position; a request with nothing placed keeps its states (length 0).
            step = self._placed(requests, context, tables.rows[item], has_any)
            context[:, position] = t + 2
            h_low, h_high, logits = run("advance", *step, h_low, h_high, context)
        picked = np.stack(picked_logits, 1)
        out.scores[:] = np.where(out.items >= 0, 1.0 / (1.0 + np.exp(-picked)), 0.0)
        return out

    def begin(self, requests: Requests, context: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Both levels' states after each request's history and the channel logits at `context`: two calls."""
        h_low, h_high = self.backend.run("initial_state", requests.context)
        history = (requests.seq_cat, requests.seq_dense, requests.feedback, requests.hist_len)
        h_low, h_high, logits = self.backend.run("advance", *history, h_low, h_high, context)
        return h_low, h_high, logits

    def encode(self, requests: Requests) -> tuple[np.ndarray, np.ndarray]:
        """Both levels' states after each request's behaviour history."""
        run = self.backend.run
        h_low, h_high = run("initial_state", requests.context)
        history = (requests.seq_cat, requests.seq_dense, requests.feedback, requests.hist_len)
        (h_low,) = run("lra_encoder", *history, h_low)
        (h_high,) = run("hra_encoder", *history, h_high)
        return h_low, h_high

    def advance(
        self, h_low: np.ndarray, h_high: np.ndarray, requests: Requests, context: np.ndarray, items: np.ndarray,
        active: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """The states after placing `items` (B, F rows; their item columns count): feedback unknown.

        A request whose `active` is False (nothing placed) keeps its states (sequence length 0).
        """
        run = self.backend.run
        step = self._placed(requests, context, items, active)
        (h_low,) = run("lra_encoder", *step, h_low)
        (h_high,) = run("hra_encoder", *step, h_high)
        return h_low, h_high

    def _placed(
        self, requests: Requests, context: np.ndarray, items: np.ndarray, active: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """The one-behaviour chunk an encoder reads for placing `items` under `context` (their item columns),
        feedback unknown: ids, dense, feedback, length (0 where `active` is False)."""
        placed = context.copy()
        placed[:, self.item_cols] = items[:, self.item_cols]
        feedback = np.full((requests.size, 1), UNKNOWN, dtype=np.int64)
        return placed[:, None, :], requests.context_dense[:, None, :], feedback, np.asarray(active, dtype=np.int64)


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
               policy: ServingPolicy | None = None, seed: int = 0, batch: int = 256) -> Ranking:  # fmt: skip
    """Rank the requests behind `lists` in batches of `batch`; one Ranking, in `lists` order.

    A stochastic policy draws its uniforms from `seed` for all lists at once, so the
    lists do not depend on `batch`.
    """
    policy = policy or ServingPolicy()
    draws = Draws.seeded(seed, len(lists), ranker.K) if policy.stochastic else None
    starts = batch_starts(len(lists), batch, f"ranking {len(lists)} requests", "requests")
    prepared = ranker.prepare(pool)
    parts = [
        ranker.rank(requests_from_lists(stream, lists[i : i + batch], history_len), prepared, policy,
                    draws.take(slice(i, i + batch)) if draws else None)
        for i in starts
    ]  # fmt: skip
    return Ranking(*(np.concatenate([getattr(p, f) for p in parts]) for f in FIELDS))


def _empty_ranking(B: int, K: int, C: int) -> Ranking:
    return Ranking(
        items=np.full((B, K), -1, dtype=np.int64),
        channels=np.zeros((B, K), dtype=np.int64),
        explored=np.zeros((B, K), dtype=bool),
        scores=np.zeros((B, K), dtype=np.float32),
        margins=np.full((B, K), np.inf, dtype=np.float32),
        propensities=np.zeros((B, K), dtype=np.float64),
        channel_probs=np.zeros((B, K, C), dtype=np.float32),
    )


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax that leaves all -inf rows at zero.

    An all -inf row's max is raised to the lowest finite float32 (the graphs' logits are float32), so
    its exp is 0 throughout (not nan); a row with a finite best sums to at least 1 (the best contributes
    exp(0)), so only an empty row's 0 is divided by 1 instead. Logits are finite or -inf (unavailable).
    """
    top = np.maximum(logits.max(1, keepdims=True), _LOWEST)
    e = np.exp(logits - top)
    return e / np.maximum(e.sum(1, keepdims=True), 1)


def _draw(probs: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse-CDF draw of a column per row from `probs` (B, C) with uniforms `u` (B,).

    Returns the drawn columns and, per row, the distance of u from the nearest inner boundary
    of the cumulative distribution (how far the draw was from going another way).
    """
    cdf = np.cumsum(probs, 1)
    column, positive = np.arange(probs.shape[1]), probs > 0
    last = np.maximum(np.where(positive, column, -1).max(1), 0)
    index = np.minimum((cdf <= u[:, None]).sum(1), last)  # never a zero-probability column past the mass
    inner = np.where(positive & (column < last[:, None]), cdf, np.inf)
    gap = np.abs(inner - u[:, None]).min(1)
    return index, gap


def _runner_up_gap(scores: np.ndarray) -> np.ndarray:
    """Per row, best minus second-best score (inf when fewer than two are finite)."""
    if scores.shape[1] < 2:
        return np.full(scores.shape[0], np.inf, dtype=np.float32)
    return _gap(_top_two(scores))


def _top_two(scores: np.ndarray) -> np.ndarray:
    """(B, 2): each row's best and second-best score, from one partition (needs two columns or more)."""
    return -np.partition(-scores, 1, axis=1)[:, :2]


def _gap(top2: np.ndarray) -> np.ndarray:
    """Best minus second-best of each `_top_two` row (inf without a finite second)."""
    rival = np.isfinite(top2[:, 1])  # then the best is finite too; without one, -inf - -inf is never formed
    return np.where(rival, top2[:, 0] - np.where(rival, top2[:, 1], 0), np.inf)


def _first_best(scores: np.ndarray) -> np.ndarray:
    """Per row, the first index whose score is within TIE of the row's best (-inf rows give 0)."""
    best = scores.max(1, keepdims=True)
    return np.argmax(scores >= best - TIE, axis=1)


def _best_and_gap(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`_first_best` and `_runner_up_gap` of `scores` from one partition (the best is its first column)."""
    if scores.shape[1] < 2:
        return _first_best(scores), _runner_up_gap(scores)
    top2 = _top_two(scores)
    return np.argmax(scores >= top2[:, :1] - TIE, axis=1), _gap(top2)
