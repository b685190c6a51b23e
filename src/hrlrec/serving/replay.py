"""Replay logged lists through the serving policy: what an off-policy estimate needs of the target.

For each logged list, position by position, with the state advanced by the
*logged* items (teacher forcing), this computes under the serving policy of the
ranker (channel drawn from pi(c | s) or taken by argmax, then the item: the
best-scored of the channel, or with probability epsilon one of the channel's
available items uniformly):

- `target`: the sequential probability that the policy places the logged item
  at that position given the logged items before it (0 when the logged item is
  not among the policy's candidates, the day's pool, or was already placed);
- `predicted`: the model's click probability of the logged item there.

`list_clicks` gives the same model click probabilities for any lists (a
policy's own rolled-out lists, for the direct-method term of a doubly robust
estimate).

This uses the same graphs as `Ranker.rank`, so the probabilities are those of
the lists the ranker serves (the same pool, availability and tie-breaking).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hrlrec.data.batches import Stream
from hrlrec.progress import batch_starts
from hrlrec.serving.ranker import (
    Ranker,
    Requests,
    ServingPolicy,
    _first_best,
    _softmax,
    channel_members,
    members_of,
    requests_from_lists,
)


@dataclass(frozen=True)
class Replay:
    """(B, K) each; 0 where the logged list has no item."""

    target: np.ndarray
    predicted: np.ndarray
    placed: np.ndarray  # bool: the logged list has an item here
    in_pool: np.ndarray  # bool: the logged item is one of the policy's candidates


def _first_available(candidates: list[int] | tuple[()], available: np.ndarray) -> int:
    """The first of the pool entries `candidates` still available, or -1."""
    return next((j for j in candidates if available[j]), -1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def logged_items(stream: Stream, lists: np.ndarray, K: int) -> tuple[np.ndarray, np.ndarray]:
    """The logged lists' rows (B, K, F) and which positions hold an item (B, K)."""
    length = np.minimum(stream.length[lists], K)
    placed = np.arange(K)[None, :] < length[:, None]
    first = stream.offset[lists][:, None]
    rows = np.where(placed, first + np.arange(K)[None, :], first)
    return stream.cat[rows.ravel()].cpu().numpy().reshape(len(lists), K, -1), placed


def replay(
    ranker: Ranker, requests: Requests, logged: np.ndarray, placed: np.ndarray, pool: np.ndarray,
    policy: ServingPolicy,
) -> Replay:  # fmt: skip
    """Replay the lists `logged` (B, K, F) of `requests` through `ranker`'s policy over `pool` (module doc)."""
    run, K, col = ranker.backend.run, ranker.K, ranker.col
    B, N = requests.size, pool.shape[0]
    ch_col = col["channel"]
    # A logged item is a pool entry when all its item features match (hashed ids can collide, so the
    # id alone is not enough); identical entries are interchangeable: the first still available is it.
    entries: dict[bytes, list[int]] = {}
    for j, row in enumerate(pool[:, ranker.item_cols]):
        entries.setdefault(row.tobytes(), []).append(j)
    keys = [[logged[b, t, ranker.item_cols].tobytes() for t in range(K)] for b in range(B)]
    pool_channel = pool[:, ch_col]
    channel_ids = [int(c) for c in np.unique(pool_channel[pool_channel > 0])]
    eps = policy.epsilon

    target, predicted = np.zeros((B, K)), np.zeros((B, K))
    pool_index = np.full((B, K), -1, dtype=np.int64)
    available = np.ones((B, N), dtype=bool)
    rows = np.arange(B)
    h_low, h_high = ranker.encode(requests)
    (item_part,) = run("pool_items", pool)
    members = channel_members(pool_channel)
    context = requests.context.copy()
    for t in range(K):
        context[:, col["position"]] = t + 1
        (logits,) = run("channel_policy", h_low, context)  # (B, C)
        C = logits.shape[1]
        left = np.zeros((B, C), dtype=bool)
        for c in channel_ids:
            if c - 1 < C:
                left[:, c - 1] = (available & (pool_channel == c)[None, :]).any(1)
        has_any = left.any(1)
        masked = np.where(left, logits, -np.inf)
        if policy.channel_choice == "sample":
            pi = _softmax(masked)
        else:
            pi = np.zeros((B, C))
            pi[rows[has_any], _first_best(masked)[has_any]] = 1.0
        pi = np.where(has_any[:, None], pi, 0.0)
        j = np.array([_first_available(entries.get(keys[b][t], ()), available[b]) if placed[b, t] else -1
                      for b in range(B)], dtype=np.int64)  # fmt: skip
        pool_index[:, t] = j
        # Only the logged item's channel matters for its probability: score the pool under that channel
        # (one call per position, whatever the number of channels).
        logged_channel = logged[:, t, ch_col].astype(np.int64)
        scored = (j >= 0) & (logged_channel >= 1) & (logged_channel <= C)
        channel = np.where(scored, logged_channel, 1)
        cand = members_of(members, channel)  # (B, W) the channel's pool entries
        (logit,) = run("item_logits", item_part[cand.clip(min=0)], context, requests.context_dense, h_low, h_high,
                       channel)  # fmt: skip
        allowed = (cand >= 0) & available[rows[:, None], cand.clip(min=0)]
        n_allowed = allowed.sum(1)
        greedy = cand[rows, _first_best(np.where(allowed, logit, -np.inf))]
        safe_j = np.maximum(j, 0)
        still = scored & available[rows, safe_j] & (pool_channel[safe_j] == channel)
        p_in_channel = np.where(safe_j == greedy, 1.0 - eps, 0.0) + eps / np.maximum(n_allowed, 1)
        p_item_logged = np.where(still, pi[rows, channel - 1] * p_in_channel, 0.0)
        target[:, t] = np.where(placed[:, t], p_item_logged, 0.0)
        predicted[:, t] = np.where(placed[:, t], _click(ranker, h_low, h_high, requests, context, logged[:, t, :]), 0.0)
        available[rows[j >= 0], j[j >= 0]] = False
        if t + 1 == K:
            break
        # The state advances with the logged item, as the logging policy placed it.
        h_low, h_high = ranker.advance(h_low, h_high, requests, context, logged[:, t, :], placed[:, t])
    in_pool = (pool_index >= 0) & placed
    return Replay(target, predicted, placed, in_pool)


def _click(
    ranker: Ranker, h_low: np.ndarray, h_high: np.ndarray, requests: Requests, context: np.ndarray, items: np.ndarray
) -> np.ndarray:
    """(B,) the model's click probability of each request's item `items` (B, F) here, under the item's channel."""
    run = ranker.backend.run
    (item_part,) = run("pool_items", items)
    channel = np.maximum(items[:, ranker.col["channel"]], 1).astype(np.int64)
    # Each request scores its own item alone: candidates (B, 1, H).
    (logit,) = run("item_logits", item_part[:, None, :], context, requests.context_dense, h_low, h_high, channel)
    return _sigmoid(logit[:, 0])


def list_clicks(ranker: Ranker, requests: Requests, lists: np.ndarray, placed: np.ndarray) -> np.ndarray:
    """(B, K) the model's click probability of each item of `lists` (B, K, F rows) after the items before it.

    Teacher-forced like `replay`: the state advances with the list's own items. 0 where `placed` is False.
    """
    K = ranker.K
    out = np.zeros((requests.size, K))
    h_low, h_high = ranker.encode(requests)
    context = requests.context.copy()
    for t in range(K):
        context[:, ranker.col["position"]] = t + 1
        out[:, t] = np.where(placed[:, t], _click(ranker, h_low, h_high, requests, context, lists[:, t, :]), 0.0)
        if t + 1 < K:
            h_low, h_high = ranker.advance(h_low, h_high, requests, context, lists[:, t, :], placed[:, t])
    return out


def replay_lists(
    ranker: Ranker, stream: Stream, lists: np.ndarray, pool: np.ndarray, history_len: int, policy: ServingPolicy,
    batch: int = 256,
) -> Replay:  # fmt: skip
    """Replay the logged `lists` of `stream` in batches of `batch`; one Replay in `lists` order."""
    parts = []
    for i in batch_starts(len(lists), batch, f"replaying {len(lists)} logged lists", "lists"):
        part = lists[i : i + batch]
        logged, placed = logged_items(stream, part, ranker.K)
        parts.append(replay(ranker, requests_from_lists(stream, part, history_len), logged, placed, pool, policy))
    return Replay(*(np.concatenate([getattr(p, f) for p in parts]) for f in Replay.__dataclass_fields__))


def list_clicks_of(
    ranker: Ranker, stream: Stream, lists: np.ndarray, rows: np.ndarray, placed: np.ndarray, history_len: int,
    batch: int = 256,
) -> np.ndarray:  # fmt: skip
    """`list_clicks` for the requests behind logged `lists`, whose lists are `rows` (B, K, F), in batches."""
    return np.concatenate([
        list_clicks(ranker, requests_from_lists(stream, lists[i : i + batch], history_len), rows[i : i + batch],
                    placed[i : i + batch])
        for i in batch_starts(len(lists), batch, f"scoring {len(lists)} lists", "lists")
    ]) if len(lists) else np.zeros((0, ranker.K))  # fmt: skip
