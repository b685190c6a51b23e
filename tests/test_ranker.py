"""The step-by-step ranker: no duplicates, channel constraint, exhaustion, exploration, batching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hrlrec.data import batches
from hrlrec.models import factory
from hrlrec.models.spec import ModelSpec
from hrlrec.serving.backends import TorchBackend
from hrlrec.serving.ranker import Ranker, pool_from_rows, requests_from_lists
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


def test_lists_have_no_duplicates_and_items_sit_in_their_channel(setup) -> None:
    stream, cfg, ranker, test, pool = setup
    requests = requests_from_lists(stream, test[:64], cfg.active.history_len)
    r = ranker.rank(requests, pool)
    assert r.items.shape == (64, cfg.list_len)
    for i in range(64):
        items = r.items[i][r.items[i] >= 0]
        assert len(set(items.tolist())) == len(items) == cfg.list_len
        assert (pool[items, stream.column("channel")] == r.channels[i][: len(items)]).all()
    assert ((r.scores > 0) & (r.scores < 1)).all()
    assert (r.margins >= 0).all()  # the chosen candidate is never worse than its runner-up
    assert not r.explored.any()


def test_pool_holds_the_top_items_per_channel(setup) -> None:
    stream, _, _, _, pool = setup
    channels = pool[:, stream.column("channel")]
    assert set(channels.tolist()) <= set(range(1, len(stream.channels) + 1))
    assert max((channels == c).sum() for c in np.unique(channels)) <= 30


def test_an_exhausted_pool_leaves_the_rest_of_the_list_empty(setup) -> None:
    stream, cfg, ranker, test, pool = setup
    small = pool[:4]
    r = ranker.rank(requests_from_lists(stream, test[:8], cfg.active.history_len), small)
    assert (r.items[:, :4] >= 0).all() and (r.items[:, 4:] == -1).all()
    assert (np.sort(r.items[:, :4], 1) == np.arange(4)).all()


def test_a_channel_without_candidates_is_skipped(setup) -> None:
    stream, cfg, ranker, test, pool = setup
    only = pool[pool[:, stream.column("channel")] == 2]
    r = ranker.rank(requests_from_lists(stream, test[:8], cfg.active.history_len), only)
    placed = r.channels[r.items >= 0]
    assert (placed == 2).all()


def test_exploration_rate_is_close_to_epsilon(setup) -> None:
    stream, cfg, ranker, test, pool = setup
    requests = requests_from_lists(stream, test[:400], cfg.active.history_len)
    r = ranker.rank(requests, pool, epsilon=0.3, rng=np.random.default_rng(1))
    rate = r.explored.mean()
    assert abs(rate - 0.3) < 0.03, rate  # 4,000 draws: 3 standard deviations is about 0.022
    for i in range(400):
        items = r.items[i][r.items[i] >= 0]
        assert len(set(items.tolist())) == len(items)  # exploring never repeats an item either


def test_batching_does_not_change_a_request_s_list(setup) -> None:
    stream, cfg, ranker, test, pool = setup
    together = ranker.rank(requests_from_lists(stream, test[:16], cfg.active.history_len), pool).items
    for i in (0, 7, 15):
        alone = ranker.rank(requests_from_lists(stream, test[i : i + 1], cfg.active.history_len), pool).items
        assert np.array_equal(alone[0], together[i])


def test_near_ties_go_to_the_earlier_pool_entry() -> None:
    from hrlrec.serving.ranker import TIE, _first_best

    scores = np.array(
        [
            [0.1, 0.5, 0.5, 0.2],  # exact tie: the earlier candidate
            [0.1, 0.5 - TIE / 2, 0.5, 0.2],  # within TIE of the best: still the earlier one
            [0.1, 0.5 - 2 * TIE, 0.5, 0.2],  # a real gap: the best
            [-np.inf, -np.inf, 0.3, -np.inf],  # only one available
        ]
    )
    assert _first_best(scores).tolist() == [1, 1, 2, 2]
