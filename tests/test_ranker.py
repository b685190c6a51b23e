"""The step-by-step ranker: the served channel policy, exploration and propensities, duplicates, exhaustion."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from hrlrec.candidates import load_candidate
from hrlrec.data import batches
from hrlrec.models import factory
from hrlrec.models.spec import ModelSpec
from hrlrec.serving.backends import TorchBackend
from hrlrec.serving.ranker import (
    FIELDS,
    Draws,
    Ranker,
    ServingPolicy,
    _draw,
    pool_from_rows,
    rank_lists,
    requests_from_lists,
)  # fmt: skip
from hrlrec.train import channel_mix, features_of
from hrlrec.train import step as train_step
from tests.conftest import TRAIN_DAYS, model_config, workspace

SAMPLE = ServingPolicy("sample")


@pytest.fixture(scope="module")
def setup(trained_workspace: Path):
    """An untrained model (any weights will do for the ranker's bookkeeping) and a day's pool."""
    stream = batches.load(workspace(trained_workspace).layout.dataset_day(TRAIN_DAYS[-1]))
    cfg = model_config()
    torch.manual_seed(0)
    model = factory.build("hrlrec", ModelSpec.of(cfg), features_of(stream))
    test = stream.lists("test")
    pool = pool_from_rows(stream, stream.rows(test), per_channel=30)
    return stream, cfg, model, Ranker(TorchBackend(model), stream.cat_columns, cfg.list_len), test, pool


def _workspace_copy(source: Path, parent: Path, *overrides: str):
    """A writable copy of the read-only fixture workspace `source`, under `parent`, with `overrides`."""
    root = parent / "ws"
    shutil.copytree(source, root)
    return workspace(root, model_config(*overrides))


@pytest.fixture(scope="module")
def trained(trained_workspace: Path, tmp_path_factory: pytest.TempPathFactory):
    """A tiny HRL-Rec trained for real (one epoch) on the fixture's days, its mix anchored to the logs."""
    ws = _workspace_copy(trained_workspace, tmp_path_factory.mktemp("ranker-ws"))
    train_step.run(ws, TRAIN_DAYS[-1], models=["hrlrec"], progress=False)
    return load_candidate(ws, TRAIN_DAYS[-1])


def _requests(stream, cfg, lists):
    return requests_from_lists(stream, lists, cfg.active.history_len)


def _assert_valid_lists(r, pool, channel_col: int, K: int) -> None:
    for i in range(len(r.items)):
        items = r.items[i][r.items[i] >= 0]
        assert len(set(items.tolist())) == len(items)  # never an item twice
        assert (pool[items, channel_col] == r.channels[i][: len(items)]).all()  # in the chosen channel


@pytest.mark.parametrize("policy", [ServingPolicy("argmax"), SAMPLE, ServingPolicy("sample", 0.2)])
def test_trained_model_lists_have_no_duplicates_and_items_sit_in_their_channel(trained, policy) -> None:
    stream, spec = trained.stream, trained.spec
    test = stream.lists("test")
    pool = pool_from_rows(stream, stream.rows(test), per_channel=30)
    ranker = Ranker(TorchBackend(trained.model), stream.cat_columns, spec.list_len)
    r = rank_lists(ranker, stream, test[:96], pool, spec.history_len, policy, seed=3, batch=32)
    assert (r.items >= 0).all()
    _assert_valid_lists(r, pool, stream.column("channel"), spec.list_len)
    assert ((r.scores > 0) & (r.scores < 1)).all()
    assert ((r.propensities > 0) & (r.propensities <= 1)).all()
    np.testing.assert_allclose(r.channel_probs.sum(-1), 1.0, atol=1e-5)
    assert (r.margins >= 0).all()


def test_trained_model_respects_exhausted_channels(trained) -> None:
    stream, spec = trained.stream, trained.spec
    test = stream.lists("test")
    pool = pool_from_rows(stream, stream.rows(test), per_channel=2)  # 2 items per channel: 8 < K = 10
    ranker = Ranker(TorchBackend(trained.model), stream.cat_columns, spec.list_len)
    r = rank_lists(ranker, stream, test[:32], pool, spec.history_len, SAMPLE, seed=1)
    n = len(pool)
    assert (r.items[:, :n] >= 0).all() and (r.items[:, n:] == -1).all()
    assert (np.sort(r.items[:, :n], 1) == np.arange(n)).all()
    channel_col = stream.column("channel")
    for i in range(len(r.items)):  # once a channel's two items are placed, it gets probability 0
        for t in range(n):
            used = np.bincount(r.channels[i, :t], minlength=len(spec.channels) + 1)[1:]
            exhausted = used >= np.bincount(pool[:, channel_col], minlength=len(spec.channels) + 1)[1:]
            assert (r.channel_probs[i, t][exhausted] == 0).all()
    assert (r.propensities[:, n:] == 0).all() and (r.channels[:, n:] == 0).all()


def test_daily_mix_anchoring_sets_one_set_of_offsets_and_the_card_records_them(trained_workspace: Path, tmp_path):
    ws = _workspace_copy(trained_workspace, tmp_path, "model.channel_mix_hours=24")
    train_step.run(ws, TRAIN_DAYS[-1], models=["hrlrec"], progress=False)
    daily = load_candidate(ws, TRAIN_DAYS[-1])
    mix = daily.loaded.card["channel_mix"]
    assert mix is not None and mix["hours"] == 24 and len(mix["offset"]) == 1
    assert len(mix["offset"][0]) == len(daily.spec.channels)
    np.testing.assert_allclose(mix["served"], mix["target"], atol=1e-4)
    table = daily.model.policy.mix_offset.numpy()  # (24, C): the day's offsets in every hour
    np.testing.assert_allclose(table, np.repeat(mix["offset"], 24, axis=0), atol=1e-6)


def test_the_default_anchors_each_4_hour_bucket_and_thin_buckets_keep_the_days_offsets(trained) -> None:
    mix = trained.loaded.card["channel_mix"]
    assert mix is not None and mix["hours"] == 4 and len(mix["offset"]) == 6
    table = trained.model.policy.mix_offset.numpy()
    np.testing.assert_allclose(table, np.repeat(mix["offset"], 4, axis=0), atol=1e-6)
    thin = [b for b, fitted in enumerate(mix["fitted"]) if not fitted]
    for b in set(range(6)) - set(thin):
        np.testing.assert_allclose(mix["served"][b], mix["target"][b], atol=1e-4)
    for b in thin:  # buckets thinner than MIN_BUCKET_STATES all keep one set: the day's offsets
        assert mix["states"][b] < channel_mix.MIN_BUCKET_STATES
        np.testing.assert_allclose(mix["offset"][b], mix["offset"][thin[0]], atol=1e-9)


def test_hourly_mix_anchoring_pins_each_bucket_and_serves_by_the_requests_hour(trained_workspace: Path, tmp_path):
    ws = _workspace_copy(trained_workspace, tmp_path, "model.channel_mix_hours=4")
    with pytest.MonkeyPatch.context() as mp:  # the tiny world's buckets are too thin for the production minimum
        mp.setattr(channel_mix, "MIN_BUCKET_STATES", 30)
        train_step.run(ws, TRAIN_DAYS[-1], models=["hrlrec"], progress=False)
    cand = load_candidate(ws, TRAIN_DAYS[-1])
    mix = cand.loaded.card["channel_mix"]
    assert mix["hours"] == 4 and len(mix["offset"]) == 6 and sum(mix["fitted"]) >= 3
    for b in np.flatnonzero(mix["fitted"]):
        np.testing.assert_allclose(mix["served"][b], mix["target"][b], atol=1e-4)
    table = cand.model.policy.mix_offset.numpy()
    np.testing.assert_allclose(table, np.repeat(mix["offset"], 4, axis=0), atol=1e-6)
    # the ranker's channel logits move with the request's hour, by that hour's offsets
    stream = batches.load(ws.layout.dataset_day(TRAIN_DAYS[-1]))
    requests = requests_from_lists(stream, stream.lists("test")[:8], ws.cfg.active.history_len)
    backend, hour_col = TorchBackend(cand.model), stream.column("hour")
    h_low, _ = backend.run("initial_state", requests.context)
    a, b = (4 * int(i) + 1 for i in np.flatnonzero(mix["fitted"])[:2])  # an hour of two fitted buckets
    assert not np.allclose(table[a], table[b])  # their offsets differ, so the check below can fail
    at = {}
    for hour in (a, b):
        context = requests.context.copy()
        context[:, hour_col] = hour + 1
        (at[hour],) = backend.run("channel_policy", h_low, context)
    np.testing.assert_allclose(at[a] - at[b], np.broadcast_to(table[b] - table[a], at[a].shape), atol=1e-5)


def test_a_channel_head_that_prefers_one_channel_serves_that_channel(setup) -> None:
    stream, cfg, model, ranker, test, pool = setup
    requests = _requests(stream, cfg, test[:64])
    with torch.no_grad():
        saved = model.policy.mix_offset.clone()
        model.policy.mix_offset.copy_(torch.tensor([0.0, 0.0, -30.0, 0.0]))  # channel id 3 dominates
        r_arg = ranker.rank(requests, pool)
        draws = Draws.seeded(0, 64, cfg.list_len)
        r_sample = ranker.rank(requests, pool, SAMPLE, draws)
        model.policy.mix_offset.copy_(saved)
    # pool has 30 items per channel, so channel 3 never runs out in a list of 10
    assert (r_arg.channels == 3).all()
    assert (r_sample.channels == 3).all()


def test_a_prepared_pool_ranks_as_the_raw_pool_and_belongs_to_its_ranker(setup) -> None:
    stream, cfg, model, ranker, test, pool = setup
    requests = _requests(stream, cfg, test[:48])
    draws = Draws.seeded(6, 48, cfg.list_len)
    policy = ServingPolicy("sample", 0.2)
    raw = ranker.rank(requests, pool, policy, draws)
    prepared = ranker.rank(requests, ranker.prepare(pool), policy, draws)
    for field in FIELDS:
        assert np.array_equal(getattr(raw, field), getattr(prepared, field)), field
    other = Ranker(TorchBackend(model), stream.cat_columns, cfg.list_len)
    with pytest.raises(ValueError, match="prepared by another ranker's backend"):
        other.rank(requests, ranker.prepare(pool))


def test_sampled_channel_shares_follow_the_policy(setup) -> None:
    stream, cfg, _model, ranker, test, pool = setup
    requests = _requests(stream, cfg, test[:200])
    r = ranker.rank(requests, pool, SAMPLE, Draws.seeded(4, 200, cfg.list_len))
    first = r.channel_probs[:, 0]  # the policy at position 0, before any channel is used up
    expected = first.mean(0)
    observed = np.bincount(r.channels[:, 0] - 1, minlength=first.shape[1]) / len(first)
    se = np.sqrt(expected * (1 - expected) / len(first))
    assert (np.abs(observed - expected) < 4 * se + 1e-9).all(), (observed, expected)


def test_epsilon_zero_is_deterministic_and_draws_fix_the_lists(setup) -> None:
    stream, cfg, _model, ranker, test, pool = setup
    requests = _requests(stream, cfg, test[:32])
    a, b = ranker.rank(requests, pool), ranker.rank(requests, pool)
    assert np.array_equal(a.items, b.items) and not a.explored.any()
    draws = Draws.seeded(9, 32, cfg.list_len)
    c, d = ranker.rank(requests, pool, SAMPLE, draws), ranker.rank(requests, pool, SAMPLE, draws)
    assert np.array_equal(c.items, d.items)
    with pytest.raises(ValueError, match="needs draws"):
        ranker.rank(requests, pool, SAMPLE)


def test_exploration_rate_and_propensities_match_the_frequencies(setup) -> None:
    """One request ranked under 4,000 independent draws: how often each first item comes out is its propensity."""
    stream, cfg, _model, ranker, test, pool = setup
    eps, n = 0.3, 4000
    one = _requests(stream, cfg, test[:1])
    many = one.take(np.zeros(n, dtype=np.int64))
    r = ranker.rank(many, pool, ServingPolicy("sample", eps), Draws.seeded(2, n, cfg.list_len))
    rate = r.explored.mean()
    assert abs(rate - eps) < 0.015, rate  # 40,000 draws: 3 standard deviations is about 0.007
    _assert_valid_lists(r, pool, stream.column("channel"), cfg.list_len)
    items, counts = np.unique(r.items[:, 0], return_counts=True)
    for item, count in zip(items, counts, strict=True):
        p = r.propensities[r.items[:, 0] == item, 0]
        assert np.allclose(p, p[0])  # the same item at the same state: one propensity
        se = np.sqrt(p[0] * (1 - p[0]) / n)
        assert abs(count / n - p[0]) < 4 * se + 1e-4, (item, count / n, p[0])
    # every item that could come out at position 0 and did not has a propensity too small to be seen
    assert counts.sum() == n


def test_batching_does_not_change_a_request_s_list(setup) -> None:
    stream, cfg, _model, ranker, test, pool = setup
    lists = test[:16]
    together = rank_lists(ranker, stream, lists, pool, cfg.active.history_len, SAMPLE, seed=5, batch=16).items
    apart = rank_lists(ranker, stream, lists, pool, cfg.active.history_len, SAMPLE, seed=5, batch=3).items
    assert np.array_equal(together, apart)


def test_pool_holds_the_top_items_per_channel(setup) -> None:
    stream, _, _, _, _, pool = setup
    channels = pool[:, stream.column("channel")]
    assert set(channels.tolist()) <= set(range(1, len(stream.channels) + 1))
    assert max((channels == c).sum() for c in np.unique(channels)) <= 30


def test_inverse_cdf_draw_skips_channels_without_mass() -> None:
    probs = np.array([[0.5, 0.0, 0.5], [0.5, 0.0, 0.5], [0.0, 1.0, 0.0], [0.3, 0.7, 0.0]])
    u = np.array([0.2, 0.6, 0.99, 0.9999999999])
    index, gap = _draw(probs, u)
    assert index.tolist() == [0, 2, 1, 1]
    np.testing.assert_allclose(gap[:2], [0.3, 0.1])
    assert gap[2] == np.inf  # one channel: no boundary to be near


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


def test_hourly_offsets_are_fitted_on_lists_of_every_hour(trained_workspace: Path) -> None:
    stream = batches.load(workspace(trained_workspace).layout.dataset_day(TRAIN_DAYS[-1]))
    val = stream.lists("val")
    assert (channel_mix.calibration_lists(stream, 24, seed=0) == val).all()
    hour = stream.cat[:, stream.column("hour")].numpy()
    assert len(np.unique(hour[stream.offset[val]])) < 24  # the validation slice: the window's last hours
    lists = channel_mix.calibration_lists(stream, 4, seed=0)
    assert np.isin(lists, np.union1d(stream.lists("train"), val)).all()
    assert len(np.unique((hour[stream.offset[lists]] - 1) // 4)) == 6
    # A daily anchor fitted on the window samples the same lists as the buckets do.
    assert np.array_equal(channel_mix.calibration_lists(stream, 24, seed=0, fit="window"), lists)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(channel_mix, "CALIBRATION_LISTS", 50)
        a, b = (channel_mix.calibration_lists(stream, 4, seed=s) for s in (0, 1))
    assert len(a) == 50 and (np.diff(a) > 0).all() and not np.array_equal(a, b)


def test_channel_members_keep_pool_order_and_pad_and_an_unknown_channel_has_none() -> None:
    from hrlrec.serving.ranker import channel_members, members_of

    pool_channel = np.array([2, 1, 2, 0, 4, 2])
    table = channel_members(pool_channel)
    assert table.tolist() == [[-1, -1, -1], [1, -1, -1], [0, 2, 5], [-1, -1, -1], [4, -1, -1]]
    assert members_of(table, np.array([2, 0, 9, -1, 4])).tolist() == [
        [0, 2, 5], [-1, -1, -1], [-1, -1, -1], [-1, -1, -1], [4, -1, -1]
    ]  # fmt: skip


def test_scoring_only_the_chosen_channel_gives_the_whole_pools_logits_for_those_items(setup) -> None:
    """item_logits on each request's own candidates equals the graph over the whole pool, gathered."""
    from hrlrec.serving.ranker import candidates_of, channel_members, members_of

    stream, cfg, _model, ranker, test, pool = setup
    requests = _requests(stream, cfg, test[:16])
    run = ranker.backend.run
    h_low, h_high = ranker.encode(requests)
    (item_part,) = run("pool_items", pool)
    pool_channel = pool[:, ranker.col["channel"]]
    channel = np.unique(pool_channel)[np.arange(16) % len(np.unique(pool_channel))].astype(np.int64)
    whole = np.broadcast_to(item_part, (16, *item_part.shape)).copy()
    (full,) = run("item_logits", whole, requests.context, requests.context_dense, h_low, h_high, channel)
    cand = members_of(channel_members(pool_channel), channel)
    (own,) = run("item_logits", candidates_of(item_part, pool_channel, channel), requests.context,
                 requests.context_dense, h_low, h_high, channel)  # fmt: skip
    real = cand >= 0
    np.testing.assert_allclose(own[real], full[np.nonzero(real)[0], cand[real]], rtol=1e-5, atol=1e-6)
    assert (pool_channel[cand[real]] == np.repeat(channel, real.sum(1))).all()


def test_one_partition_gives_the_first_best_and_the_runner_up_gap() -> None:
    from hrlrec.serving.ranker import TIE, _best_and_gap, _first_best, _runner_up_gap

    inf = np.inf
    scores = np.array(
        [
            [0.1, 0.5, 0.5, 0.2],  # exact tie: the earlier entry, gap 0
            [0.1, 0.5 - TIE / 2, 0.5, 0.2],  # within TIE: the earlier entry, gap TIE / 2
            [0.7, 0.5, -inf, 0.2],  # a real gap
            [-inf, -inf, 0.3, -inf],  # only one available: no rival
            [-inf, -inf, -inf, -inf],  # nothing available (a request whose pool ran out)
        ],
        dtype=np.float32,
    )
    first, gap = _best_and_gap(scores)
    assert first.tolist() == [1, 1, 0, 2, 0]
    np.testing.assert_allclose(gap[:3], [0.0, TIE / 2, 0.2], atol=1e-7)
    assert gap[3] == gap[4] == inf
    assert np.array_equal(first, _first_best(scores)) and np.array_equal(gap, _runner_up_gap(scores))
    one = scores[:, 2:3]  # a channel of one entry
    first, gap = _best_and_gap(one)
    assert first.tolist() == [0] * 5 and (gap == inf).all()


def test_softmax_leaves_rows_without_a_channel_at_zero() -> None:
    from hrlrec.serving.ranker import _softmax

    logits = np.array([[1.0, -np.inf, 3.0, 0.5], [-np.inf] * 4, [-2.0, -np.inf, -np.inf, -np.inf]], np.float32)
    with np.errstate(all="raise"):  # no nan, no overflow on the empty row
        probs = _softmax(logits)
    e = np.exp(np.array([1.0, 3.0, 0.5]) - 3.0)
    np.testing.assert_allclose(probs[0], [e[0] / e.sum(), 0.0, e[1] / e.sum(), e[2] / e.sum()], rtol=1e-6)
    assert probs[1].tolist() == [0.0] * 4 and probs[2].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert probs.dtype == np.float32


def test_channel_tables_lay_the_pool_out_by_the_models_channel_ids() -> None:
    from hrlrec.serving.ranker import PreparedPool, channel_members

    channel = np.array([2, 1, 2, 0, 4, 2])
    rows = np.arange(6 * 5).reshape(6, 5)
    rows[:, 1] = channel
    item_part = np.arange(6 * 2, dtype=np.float32).reshape(6, 2)
    pool = PreparedPool(rows, channel, channel_members(channel), item_part, backend=None)
    three = pool.tables(3)  # the model has 3 channels: id 4 is never chosen, id 3 has no entry
    assert three.members.tolist() == [[-1, -1, -1], [1, -1, -1], [0, 2, 5], [-1, -1, -1]]
    assert np.array_equal(three.present, three.members >= 0)
    assert np.array_equal(three.parts[2], item_part[[0, 2, 5]])
    assert np.array_equal(three.parts[1], item_part[[1, 0, 0]])  # padding repeats entry 0 (masked by `present`)
    assert three.sizes.tolist() == [1, 3, 0]
    assert np.array_equal(three.rows[:6], rows)
    assert np.array_equal(three.rows[-1], rows[0])  # what pool index -1 (nothing placed) reads
    assert pool.tables(3) is three  # made once per channel count
    six = pool.tables(6)  # more channels than the pool has: empty rows
    assert six.members.shape == (7, 3) and six.members[4].tolist() == [4, -1, -1] and not six.present[5:].any()
    assert six.sizes.tolist() == [1, 3, 0, 1, 0, 0]
