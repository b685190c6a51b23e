"""Offline metrics: exact AUC (ties averaged), LogLoss, RelaImpr (paper 4.4)."""

from __future__ import annotations

import math

import numpy as np


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve, exact: Mann-Whitney U with tied scores sharing their mean rank.

    NaN when only one class is present (there is nothing to rank).
    """
    y = np.asarray(labels, dtype=np.float64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    n_pos = y.sum()
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    _values, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    # Ranks 1..n in sorted order; a tie group of size c starting at rank r gets r + (c - 1) / 2.
    first_rank = np.cumsum(counts) - counts + 1
    ranks = (first_rank + (counts - 1) / 2.0)[inverse]
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def logloss(labels: np.ndarray, probs: np.ndarray, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy of probabilities (clipped away from 0 and 1)."""
    y = np.asarray(labels, dtype=np.float64).ravel()
    p = np.clip(np.asarray(probs, dtype=np.float64).ravel(), eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def relaimpr(model_auc: float, base_auc: float) -> float:
    """RelaImpr = (AUC(model) - 0.5) / (AUC(base) - 0.5) - 1 (Yan et al. 2014), as a fraction."""
    return (model_auc - 0.5) / (base_auc - 0.5) - 1.0


def gap_closed(model_auc: float, base_auc: float, oracle_auc: float) -> float:
    """Share of the base-to-oracle AUC gap a model closes (1.0 = as good as the truth)."""
    gap = oracle_auc - base_auc
    return (model_auc - base_auc) / gap if gap > 0 else math.nan


def per_group_auc(
    labels: np.ndarray, scores: np.ndarray, groups: np.ndarray, names: dict[int, str]
) -> dict[str, float]:
    """AUC within each group (e.g. channel)."""
    return {name: auc(labels[groups == g], scores[groups == g]) for g, name in names.items() if (groups == g).any()}
