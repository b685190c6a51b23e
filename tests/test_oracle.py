"""The list oracle: the simulated world's true click model for any list of a logged request."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from hrlrec import simulator
from hrlrec.errors import BadInput
from hrlrec.simulator.oracle import NO_ITEM, DayOracle
from tests.conftest import DAY, tiny_config

BIG_DAY = "2026-11-03"
BIG = ("profiles.small.simulator_users=2000",)
SHOCK = "simulator.shock={channel: news, from_ds: '2026-11-02', logit_delta: -2.0}"


def _day_dir(root: Path, ds: str) -> Path:
    return root / f"ds={ds}"


def _truth_dir(root: Path, ds: str) -> Path:
    return root / "_truth" / f"ds={ds}"


@pytest.fixture(scope="module")
def oracle(landing_day: Path) -> DayOracle:
    return DayOracle(tiny_config(), _day_dir(landing_day, DAY))


@pytest.fixture(scope="module")
def big_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[DayOracle, pd.DataFrame]:
    """A day with enough users and clicks for statistical checks, and its logs in (session, position) order."""
    out = tmp_path_factory.mktemp("big-day")
    cfg = tiny_config(*BIG)
    simulator.run(cfg, BIG_DAY, 1, out)
    day_dir = _day_dir(out, BIG_DAY)
    logs = pq.read_table(day_dir, columns=["session_id", "position", "user_id", "channel", "clicked", "dwell_time_s"])
    return DayOracle(cfg, day_dir), logs.to_pandas().sort_values(["session_id", "position"], ignore_index=True)


def _sidecar_error(oracle: DayOracle, truth_dir: Path) -> np.ndarray:
    """|oracle - sidecar| p_click per logged impression, matched on (session_id, position)."""
    truth = pq.read_table(truth_dir).to_pandas()
    session_id, item_id, _ = oracle.logged_lists()
    p = oracle.p_click(session_id, item_id)  # (S, K)
    row = np.searchsorted(session_id, truth.session_id.to_numpy())
    assert (session_id[row] == truth.session_id.to_numpy()).all()
    return np.abs(p[row, truth.position.to_numpy()] - truth.p_click.to_numpy())


# -- (a) the oracle is the sidecar's truth ---------------------------------------------------------


def test_p_click_of_the_logged_lists_is_the_sidecars(oracle: DayOracle, landing_day: Path) -> None:
    err = _sidecar_error(oracle, _truth_dir(landing_day, DAY))
    assert len(err) == 10 * len(oracle.logged_lists()[0])
    assert err.max() < 1e-6  # the sidecar is float32
    assert oracle.check_truth() < 1e-6


@pytest.mark.parametrize(
    "overrides, ds",
    [
        # several files, so session ids run on across user groups, and a strong pull across many sessions
        (("simulator.users_per_file=150", "simulator.history_weight=1.5", "simulator.history_decay=0.9"), DAY),
        ((SHOCK,), "2026-11-07"),  # the shock, on a weekend
        (("list_len=6", "simulator.channel_fatigue=1.0", "simulator.tag_fatigue=1.0"), DAY),
    ],
    ids=["pull-over-files", "shock-weekend", "short-tiring-lists"],
)
def test_p_click_is_the_sidecars_in_other_worlds(tmp_path: Path, overrides: tuple[str, ...], ds: str) -> None:
    cfg = tiny_config(*overrides)
    simulator.run(cfg, ds, 1, tmp_path)
    oracle = DayOracle(cfg, _day_dir(tmp_path, ds))
    assert oracle.logged_lists()[1].shape[1] == cfg.list_len
    assert _sidecar_error(oracle, _truth_dir(tmp_path, ds)).max() < 1e-6


def test_another_configuration_is_refused_rather_than_silently_wrong(landing_day: Path) -> None:
    day_dir = _day_dir(landing_day, DAY)
    with pytest.raises(BadInput, match="do not match this configuration's world"):
        DayOracle(tiny_config("seed=8"), day_dir)  # other tags and channels mixes: caught on construction
    same_items = DayOracle(tiny_config("simulator.channel_fatigue=0.5"), day_dir)  # same catalog, other clicks
    with pytest.raises(BadInput, match="not the one that simulated this day"):
        same_items.check_truth()


# -- (c) fatigue and position bias ---------------------------------------------------------------------


def _disjoint_items(oracle: DayOracle, channel: int, n: int, taken: set[int]) -> list[int]:
    """`n` catalog items of `channel` whose tags overlap neither each other nor `taken` (updated)."""
    ids = oracle.catalog_item_ids()
    ids = ids[oracle.item_channel(ids) == channel]
    tags = oracle.item_tags(ids)
    picked = []
    for item, row in zip(ids, tags, strict=True):
        own = set(np.flatnonzero(row).tolist())
        if not own & taken:
            picked.append(int(item))
            taken |= own
            if len(picked) == n:
                return picked
    raise AssertionError(f"not enough tag-disjoint items in channel {channel}")


def _logit_of_relevance(oracle: DayOracle, p: np.ndarray, position: int) -> np.ndarray:
    """The click logit behind P(click) at `position`, with the position bias taken out."""
    q = p * (1.0 + position) ** oracle.world.sim.position_bias
    return np.log(q / (1 - q))


def test_an_earlier_item_of_the_same_channel_lowers_p_click_by_the_channel_fatigue(oracle: DayOracle) -> None:
    taken: set[int] = set()
    *same, target = _disjoint_items(oracle, 0, 4, taken)
    others = [_disjoint_items(oracle, c, 1, taken)[0] for c in (1, 2, 3)]  # one item of each other channel
    sessions = oracle.logged_lists()[0][:5]
    repeated = np.array([[*same, target]] * len(sessions))  # 3 earlier items of the target's channel
    interleaved = np.array([[*others, target]] * len(sessions))  # 3 earlier items of 3 other channels
    p_repeated = oracle.p_click(sessions, repeated)
    p_interleaved = oracle.p_click(sessions, interleaved)
    assert (p_repeated[:, 3] < p_interleaved[:, 3]).all()
    drop = _logit_of_relevance(oracle, p_interleaved[:, 3], 3) - _logit_of_relevance(oracle, p_repeated[:, 3], 3)
    np.testing.assert_allclose(drop, 3 * oracle.world.sim.channel_fatigue, rtol=1e-9)


def _echo_pair(oracle: DayOracle) -> tuple[int, int, int]:
    """A target item and two items of one other channel: `echo` shares exactly two of its tags, `fresh` none."""
    ids = oracle.catalog_item_ids()
    tags = oracle.item_tags(ids)  # (N, T)
    channel = oracle.item_channel(ids)
    for target in np.flatnonzero(tags.sum(1) >= 2):
        shared = (tags & tags[target]).sum(1)  # (N,) tags in common with the target
        for echo in np.flatnonzero((shared == 2) & (channel != channel[target])):
            fresh = np.flatnonzero((shared == 0) & (channel == channel[echo]))
            if len(fresh):
                return int(ids[target]), int(ids[echo]), int(ids[fresh[0]])
    raise AssertionError("no item shares two tags with an item of another channel")


def test_tags_shown_earlier_lower_p_click_by_the_tag_fatigue(oracle: DayOracle) -> None:
    target, echo, fresh = _echo_pair(oracle)
    sessions = oracle.logged_lists()[0][:5]
    p_echo = oracle.p_click(sessions, np.array([[echo, target]] * len(sessions)))[:, 1]
    p_fresh = oracle.p_click(sessions, np.array([[fresh, target]] * len(sessions)))[:, 1]
    drop = _logit_of_relevance(oracle, p_fresh, 1) - _logit_of_relevance(oracle, p_echo, 1)
    np.testing.assert_allclose(drop, 2 * oracle.world.sim.tag_fatigue, rtol=1e-9)


def test_a_later_position_lowers_p_click_by_the_position_bias_and_empty_slots_score_zero(oracle: DayOracle) -> None:
    sessions = oracle.logged_lists()[0][:20]
    item = oracle.catalog_item_ids()[:20]
    first = np.full((20, 10), NO_ITEM)
    first[:, 0] = item
    later = np.full((20, 10), NO_ITEM)
    later[:, 7] = item
    p_first, p_later = oracle.p_click(sessions, first), oracle.p_click(sessions, later)
    np.testing.assert_allclose(p_later[:, 7] / p_first[:, 0], 8.0**-oracle.world.sim.position_bias, rtol=1e-12)
    assert (p_first[:, 1:] == 0).all() and (p_later[:, :7] == 0).all() and (p_later[:, 8:] == 0).all()


def test_the_same_list_scores_the_same_for_the_same_request_and_differs_across_requests(oracle: DayOracle) -> None:
    session_id, item_id, _ = oracle.logged_lists()
    twice = oracle.p_click(np.r_[session_id[:3], session_id[:3]], np.r_[item_id[:3], item_id[:3]])
    assert (twice[:3] == twice[3:]).all()
    one_list = np.repeat(item_id[:1], 50, axis=0)  # one list, 50 requests: users, hours, devices, pulls differ
    assert len(np.unique(oracle.p_click(session_id[:50], one_list)[:, 0])) > 40


# -- (d) expected dwell reward -----------------------------------------------------------------------


def test_expected_dwell_reward_matches_the_logged_dwell_reward(big_day: tuple[DayOracle, pd.DataFrame]) -> None:
    """Over the logged impressions, mean E[click * log1p(dwell / 60)] equals the realised mean.

    Each impression's realised reward minus its expectation is a martingale
    difference (the pull depends only on earlier clicks), so their mean has
    standard error std / sqrt(n); 4 of them bound a false alarm at ~6e-5. The
    same holds for the dwell part alone, over the clicked impressions, which
    has far less noise and so checks the dwell model and the quadrature tightly.
    """
    oracle, logs = big_day
    session_id, item_id, _ = oracle.logged_lists()
    expected = oracle.expected_dwell_reward(session_id, item_id, 60.0).ravel()
    p = oracle.p_click(session_id, item_id).ravel()
    clicked = logs.clicked.to_numpy() == 1
    realised = clicked * np.log1p(logs.dwell_time_s.to_numpy() / 60.0)

    gap = realised - expected
    se = gap.std() / np.sqrt(len(gap))
    assert se < 0.03 * expected.mean()  # enough data for the check to mean something
    assert abs(gap.mean()) < 4 * se, (realised.mean(), expected.mean(), se)

    per_click = realised[clicked] - expected[clicked] / p[clicked]  # dwell value given a click
    se_click = per_click.std() / np.sqrt(len(per_click))
    assert se_click < 0.02 * realised[clicked].mean()
    assert abs(per_click.mean()) < 4 * se_click, (per_click.mean(), se_click)

    # With a tiny scale, log1p(dwell / s) = log(dwell) - log(s) to ~1e-5, so the reward exposes the mean
    # log dwell each clicked impression was drawn around: the logged log dwell must centre on it.
    tiny = 1e-6
    mean_log_dwell = oracle.expected_dwell_reward(session_id, item_id, tiny).ravel()[clicked] / p[clicked] + np.log(
        tiny
    )
    z = np.log(logs.dwell_time_s.to_numpy()[clicked]) - mean_log_dwell
    assert abs(z.mean()) < 4 * z.std() / np.sqrt(len(z)), (z.mean(), z.std())


def test_expected_dwell_reward_is_p_click_times_a_dwell_value_that_falls_with_the_scale(oracle: DayOracle) -> None:
    session_id, item_id, _ = oracle.logged_lists()
    p = oracle.p_click(session_id, item_id)
    short = oracle.expected_dwell_reward(session_id, item_id, 10.0)
    long = oracle.expected_dwell_reward(session_id, item_id, 600.0)
    assert (short > long).all() and (long > 0).all() and (short < 10 * p).all()
    hole = item_id.copy()
    hole[:, 4] = NO_ITEM
    assert (oracle.expected_dwell_reward(session_id, hole, 60.0)[:, 4] == 0).all()
    with pytest.raises(BadInput, match="dwell_scale_s"):
        oracle.expected_dwell_reward(session_id, item_id, 0.0)


# -- (e) bad input -------------------------------------------------------------------------------------


def test_unknown_sessions_items_and_users_raise_bad_input_naming_them(oracle: DayOracle) -> None:
    session_id, item_id, _ = oracle.logged_lists()
    with pytest.raises(BadInput, match=r"1 session_id\(s\) not logged on 2026-11-02, e.g. \[123\]"):
        oracle.p_click(np.r_[session_id[:2], 123], item_id[:3])
    bad_items = item_id[:2].copy()
    bad_items[1, 3] = 987654321
    bad_items[0, 0] = -7  # only -1 means an empty slot
    with pytest.raises(BadInput, match=r"2 item_id\(s\) not in the catalog of 2026-11-02, e.g. \[-7, 987654321\]"):
        oracle.p_click(session_id[:2], bad_items)
    with pytest.raises(BadInput, match="987654321"):
        oracle.expected_dwell_reward(session_id[:2], bad_items, 60.0)
    with pytest.raises(BadInput, match="987654321"):
        oracle.item_channel(np.array([987654321]))
    with pytest.raises(BadInput, match=r"user_id\(s\) not in the simulated population, e.g. \[42\]"):
        oracle.channel_preference(np.array([42]))
    with pytest.raises(BadInput, match="need session_id"):
        oracle.p_click(session_id[:2], item_id[:3])
    many = np.arange(1, 1001)
    with pytest.raises(BadInput) as err:
        oracle.p_click(many, np.full((1000, 1), NO_ITEM))
    assert "1000 session_id(s)" in str(err.value) and len(str(err.value)) < 200  # a few examples, not all


def test_a_folder_without_logs_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no Parquet files"):
        DayOracle(tiny_config(), tmp_path / f"ds={DAY}")


# -- (f) channel preference, and the metadata helpers ----------------------------------------------------


def test_channel_preference_tracks_each_users_logged_channel_share(big_day: tuple[DayOracle, pd.DataFrame]) -> None:
    """The logging policy ranks by an estimate that includes the user's channel preference, so the users
    who like a channel more see more of it (the real value is ~0.6-0.7; 0.2 leaves room for noise)."""
    oracle, logs = big_day
    share = pd.crosstab(logs.user_id, logs.channel, normalize="index").reindex(columns=oracle.channels, fill_value=0)
    assert len(share) > 1500
    pref = oracle.channel_preference(share.index.to_numpy())  # (U, C)
    assert pref.shape == (len(share), len(oracle.channels))
    for c, name in enumerate(oracle.channels):
        rho = share[name].corr(pd.Series(pref[:, c], index=share.index), method="spearman")
        assert rho > 0.2, (name, rho)


def test_logged_lists_and_item_metadata_agree_with_the_logs(oracle: DayOracle, landing_day: Path) -> None:
    logs = pq.read_table(_day_dir(landing_day, DAY)).to_pandas()
    logs = logs.sort_values(["session_id", "position"], ignore_index=True)
    session_id, item_id, channel = oracle.logged_lists()
    assert (np.diff(session_id) > 0).all() and item_id.shape == channel.shape == (len(session_id), 10)
    assert (item_id.ravel() == logs.item_id.to_numpy()).all()
    names = np.array(oracle.channels)
    assert (names[channel.ravel()] == logs.channel.to_numpy()).all()
    assert (oracle.item_channel(item_id) == channel).all()
    tags = oracle.item_tags(item_id[:20])  # (20, 10, T)
    logged = [sorted(t) for t in logs.item_tags[:200]]
    assert [sorted(np.array(oracle.tag_names)[row].tolist()) for row in tags.reshape(200, -1)] == logged
    assert oracle.item_channel(np.array([NO_ITEM])).tolist() == [NO_ITEM]
    assert not oracle.item_tags(np.array([NO_ITEM])).any()
