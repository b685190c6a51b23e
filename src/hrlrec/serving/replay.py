"""Replay logged lists through the serving policy: what an off-policy estimate needs of the target.

For each logged list, position by position, with the state advanced by the
*logged* items (teacher forcing), this computes under the serving policy of the
ranker (channel drawn from pi(c | s) or taken by argmax, then the item: the
best-scored of the channel, or with probability epsilon one of the channel's
available items uniformly):

- `target`: the sequential probability that the policy places the logged item
  at that position given the logged items before it (0 when the logged item is
  not among the policy's candidates, the day's pool, or was already placed);
- `expected`: the model's expected click probability of what the policy would
  place there, in expectation over its own channel and item choice (the direct
  method term of a cascade doubly robust estimate);
- `predicted`: the model's click probability of the logged item there.

This uses the same graphs as `Ranker.rank`, so the probabilities are those of
the lists the ranker serves (the same pool, availability and tie-breaking).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hrlrec.data.batches import Stream
from hrlrec.serving.ranker import (
    Ranker,
    Requests,
    ServingPolicy,
    _first_best,
    _softmax,
    requests_from_lists,
)


@dataclass(frozen=True)
class Replay:
    """(B, K) each; 0 where the logged list has no item."""

    target: np.ndarray
    expected: np.ndarray
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

    target, expected, predicted = (np.zeros((B, K)) for _ in range(3))
    pool_index = np.full((B, K), -1, dtype=np.int64)
    available = np.ones((B, N), dtype=bool)
    rows = np.arange(B)
    h_low, h_high = ranker.encode(requests)
    context = requests.context.copy()
    for t in range(K):
        context[:, col["position"]] = t + 1
        (logits,) = run("channel_policy", h_low)  # (B, C)
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
        (d,) = run("item_tower", pool, context, requests.context_dense)
        logged_channel = logged[:, t, ch_col]
        p_item_logged = np.zeros(B)
        for c in channel_ids:
            if c - 1 >= C:
                continue
            (logit,) = run("item_scores", h_low, h_high, np.full(B, c, dtype=np.int64), d)
            allowed = available & (pool_channel[None, :] == c)
            n_allowed = allowed.sum(1)
            click = _sigmoid(logit)
            greedy = _first_best(np.where(allowed, logit, -np.inf))
            greedy_click = click[rows, greedy]
            mean_click = np.where(allowed, click, 0.0).sum(1) / np.maximum(n_allowed, 1)
            ok = n_allowed > 0
            expected[:, t] += np.where(ok, pi[:, c - 1] * ((1 - eps) * greedy_click + eps * mean_click), 0.0)
            mine = (logged_channel == c) & (j >= 0)
            safe_j = np.maximum(j, 0)
            still = mine & allowed[rows, safe_j]
            p_in_channel = np.where(safe_j == greedy, 1.0 - eps, 0.0) + eps / np.maximum(n_allowed, 1)
            p_item_logged = np.where(still, pi[:, c - 1] * p_in_channel, p_item_logged)
        target[:, t] = np.where(placed[:, t], p_item_logged, 0.0)
        # The model's click probability of the logged item, under its own channel.
        (d_logged,) = run("item_tower", logged[:, t, :], context, requests.context_dense)  # (B, B, A)
        d_own = d_logged[rows, rows][:, None, :]
        (own,) = run("item_scores", h_low, h_high, np.maximum(logged_channel, 1).astype(np.int64), d_own)
        predicted[:, t] = np.where(placed[:, t], _sigmoid(own[:, 0]), 0.0)
        expected[:, t] = np.where(placed[:, t], expected[:, t], 0.0)
        available[rows[j >= 0], j[j >= 0]] = False
        if t + 1 == K:
            break
        # The state advances with the logged item, as the logging policy placed it.
        h_low, h_high = ranker.advance(h_low, h_high, requests, context, logged[:, t, :], placed[:, t])
    in_pool = (pool_index >= 0) & placed
    return Replay(target, expected, predicted, placed, in_pool)


def replay_lists(
    ranker: Ranker, stream: Stream, lists: np.ndarray, pool: np.ndarray, history_len: int, policy: ServingPolicy,
    batch: int = 256,
) -> Replay:  # fmt: skip
    """Replay the logged `lists` of `stream` in batches of `batch`; one Replay in `lists` order."""
    parts = []
    for i in range(0, len(lists), batch):
        part = lists[i : i + batch]
        logged, placed = logged_items(stream, part, ranker.K)
        parts.append(replay(ranker, requests_from_lists(stream, part, history_len), logged, placed, pool, policy))
    return Replay(*(np.concatenate([getattr(p, f) for p in parts]) for f in Replay.__dataclass_fields__))
