from __future__ import annotations

import math

import numpy as np
import pytest

from hrlrec import metrics


def _pairwise_auc(y: np.ndarray, s: np.ndarray) -> float:
    pos, neg = s[y == 1], s[y == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


def test_auc_on_a_hand_computed_example() -> None:
    # positives 0.4 and 0.8; negatives 0.1 and 0.35: 0.8 beats both, 0.4 beats both -> 1.0
    assert metrics.auc(np.array([0, 1, 0, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == 1.0
    # one inversion out of four pairs
    assert metrics.auc(np.array([0, 1, 0, 1]), np.array([0.1, 0.3, 0.35, 0.8])) == 0.75


def test_ties_count_half() -> None:
    assert metrics.auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5
    assert metrics.auc(np.array([0, 1, 1, 0]), np.array([0.2, 0.2, 0.9, 0.1])) == pytest.approx(
        _pairwise_auc(np.array([0, 1, 1, 0]), np.array([0.2, 0.2, 0.9, 0.1]))
    )


def test_auc_equals_pairwise_counting_on_random_tied_scores() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    s = rng.integers(0, 20, 500).astype(float)  # many ties
    assert metrics.auc(y, s) == pytest.approx(_pairwise_auc(y, s), abs=1e-12)


def test_auc_with_one_class_is_nan() -> None:
    assert math.isnan(metrics.auc(np.array([1, 1]), np.array([0.1, 0.2])))


def test_logloss_and_relaimpr() -> None:
    assert metrics.logloss(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(math.log(2))
    assert metrics.relaimpr(0.8097, 0.7311) == pytest.approx(0.3401, abs=1e-3)  # paper's Table 2 HRL-Rec row
    assert metrics.gap_closed(0.8, 0.7, 0.9) == pytest.approx(0.5)
