"""Replaying lists through the serving policy gives the probabilities the ranker itself recorded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hrlrec.data import batches
from hrlrec.models import factory
from hrlrec.models.spec import ModelSpec
from hrlrec.serving.backends import TorchBackend
from hrlrec.serving.ranker import Draws, Ranker, ServingPolicy, pool_from_rows, requests_from_lists
from hrlrec.serving.replay import list_clicks, logged_items, replay, replay_lists
from hrlrec.train import features_of
from tests.conftest import TRAIN_DAYS, model_config, workspace


@pytest.fixture(scope="module")
def setup(trained_workspace: Path):
    stream = batches.load(workspace(trained_workspace).layout.dataset_day(TRAIN_DAYS[-1]))
    cfg = model_config()
    torch.manual_seed(0)
    model = factory.build("hrlrec", ModelSpec.of(cfg), features_of(stream))
    test = stream.lists("test")
    pool = pool_from_rows(stream, stream.rows(test), per_channel=30)
    return stream, cfg, Ranker(TorchBackend(model), stream.cat_columns, cfg.list_len), test, pool


POLICIES = [ServingPolicy("sample", 0.2), ServingPolicy("sample"), ServingPolicy("argmax", 0.1)]


@pytest.mark.parametrize("policy", POLICIES)
def test_replaying_the_rankers_own_lists_gives_back_its_propensities_and_scores(setup, policy) -> None:
    stream, cfg, ranker, test, pool = setup
    lists = test[:48]
    requests = requests_from_lists(stream, lists, cfg.active.history_len)
    ranked = ranker.rank(requests, pool, policy, Draws.seeded(4, len(lists), cfg.list_len))
    placed = ranked.items >= 0
    logged = pool[np.maximum(ranked.items, 0)]  # the served lists, as a log would hold them
    back = replay(ranker, requests, logged, placed, pool, policy)
    assert back.in_pool[placed].all()
    np.testing.assert_allclose(back.target[placed], ranked.propensities[placed], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(back.predicted[placed], ranked.scores[placed], rtol=1e-5, atol=1e-6)
    # The model's clicks of the served lists, scored teacher-forced, are the scores the ranker recorded.
    np.testing.assert_allclose(list_clicks(ranker, requests, logged, placed)[placed], ranked.scores[placed],
                               rtol=1e-5, atol=1e-6)  # fmt: skip


def test_logged_lists_outside_the_pool_get_zero_probability(setup) -> None:
    stream, cfg, ranker, test, _ = setup
    small_pool = pool_from_rows(stream, stream.rows(test), per_channel=2)
    out = replay_lists(ranker, stream, test[:40], small_pool, cfg.active.history_len, ServingPolicy("sample", 0.1),
                       batch=16)  # fmt: skip
    _, placed = logged_items(stream, test[:40], cfg.list_len)
    assert (out.placed == placed).all()
    assert (out.target[~out.in_pool] == 0).all() and (out.target[out.in_pool & placed] >= 0).all()
    assert ((out.target >= 0) & (out.target <= 1)).all()
    assert out.in_pool.sum() < placed.sum()  # most logged items are not among 8 candidates
