from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from hrlrec import contract, simulator
from hrlrec.layout import SUCCESS, TRUTH, day_dir
from hrlrec.simulator.day import simulate_day
from hrlrec.simulator.world import World, day_index
from tests.conftest import DAY, tiny_config


def _day(cfg, ds: str = DAY):
    world = World(cfg)
    chunks = list(simulate_day(world, ds))
    imp = [c.impressions for c in chunks]
    truth = [c.truth for c in chunks]
    import pyarrow as pa

    return pa.concat_tables(imp), pa.concat_tables(truth)


def test_writes_the_contract_exactly_with_success_marker(landing_day: Path) -> None:
    folder = day_dir(landing_day, DAY)
    assert (folder / SUCCESS).is_file()
    table = pq.read_table(folder)
    assert table.schema.remove_metadata().equals(contract.schema_with(["propensity"])), table.schema
    propensity = table.column("propensity").to_numpy()
    assert (propensity > 0).all() and (propensity <= 1).all()
    assert pc.all(pc.equal(table.column("ds"), DAY)).as_py()
    assert (day_dir(landing_day / TRUTH, DAY) / "part-00000.parquet").is_file()


def test_same_seed_and_day_give_the_same_logs() -> None:
    a, ta = _day(tiny_config())
    b, tb = _day(tiny_config())
    assert a.equals(b) and ta.equals(tb)


def test_a_day_does_not_depend_on_the_days_simulated_before_it(tmp_path: Path) -> None:
    cfg = tiny_config()
    simulator.run(cfg, "2026-11-01", 2, tmp_path / "two")
    simulator.run(cfg, "2026-11-02", 1, tmp_path / "one")
    two = pq.read_table(day_dir(tmp_path / "two", "2026-11-02"))
    one = pq.read_table(day_dir(tmp_path / "one", "2026-11-02"))
    assert two.equals(one)


def test_another_seed_gives_another_world() -> None:
    a, _ = _day(tiny_config())
    b, _ = _day(tiny_config("seed=8"))
    assert not a.equals(b)


def test_every_list_has_list_len_distinct_positions_one_user_and_no_repeated_item() -> None:
    table, truth = _day(tiny_config())
    df = table.select(["session_id", "position", "user_id", "item_id"]).to_pandas()
    per_session = df.groupby("session_id").agg(
        n=("position", "size"),
        pos=("position", "nunique"),
        users=("user_id", "nunique"),
        n_items=("item_id", "nunique"),
    )
    assert (per_session.n == 10).all() and (per_session.pos == 10).all()
    assert (per_session.users == 1).all() and (per_session.n_items == 10).all()
    assert df.position.min() == 0 and df.position.max() == 9
    assert truth.num_rows == table.num_rows
    assert truth.column("session_id").equals(table.column("session_id"))


def test_list_length_follows_config() -> None:
    table, _ = _day(tiny_config("list_len=6"))
    assert table.column("position").to_numpy().max() == 5


def test_clicks_dwell_time_and_event_time_are_consistent() -> None:
    table, truth = _day(tiny_config())
    clicked = table.column("clicked").to_numpy()
    dwell = table.column("dwell_time_s").to_numpy()
    assert set(np.unique(clicked)) <= {0, 1}
    assert (dwell[clicked == 0] == 0).all() and (dwell[clicked == 1] > 0).all()
    start = dt.datetime.fromisoformat(DAY).replace(tzinfo=dt.UTC)
    times = table.column("event_time").to_pylist()
    assert min(times) >= start and max(times) < start + dt.timedelta(days=1)
    p = truth.column("p_click").to_numpy()
    assert ((p > 0) & (p < 1)).all()
    tags = pc.list_value_length(table.column("item_tags")).to_numpy()
    assert tags.min() >= 1


def test_marginals_are_realistic_and_channels_differ_as_their_traits_say() -> None:
    cfg = tiny_config("profiles.small.simulator_users=2000")
    df = _day(cfg)[0].select(["channel", "clicked", "dwell_time_s", "event_time"]).to_pandas()
    ctr = df.clicked.mean()
    assert 0.02 <= ctr <= 0.15, ctr
    by_channel = df.groupby("channel").clicked.mean()
    dwell = df[df.clicked == 1].groupby("channel").dwell_time_s.median()
    traits = {c: cfg.simulator.traits_for(c) for c in cfg.channels}
    assert by_channel.idxmax() == max(traits, key=lambda c: traits[c].base_ctr)
    assert dwell.idxmax() == max(traits, key=lambda c: traits[c].dwell_median_s)
    hours = df.event_time.dt.hour.value_counts()
    assert hours[20] > 3 * hours[4]  # evening peak, night trough


def test_weekends_bring_more_requests() -> None:
    cfg = tiny_config("profiles.small.simulator_users=2000")
    monday, _ = _day(cfg, "2026-11-02")
    saturday, _ = _day(cfg, "2026-11-07")
    assert saturday.num_rows > 1.05 * monday.num_rows


def _ctr(table) -> float:
    return float(np.mean(table.column("clicked").to_numpy()))


def test_list_fatigue_makes_diversity_pay() -> None:
    base = "profiles.small.simulator_users=2000"
    tired, _ = _day(tiny_config(base, "simulator.channel_fatigue=1.0", "simulator.tag_fatigue=1.0"))
    fresh, _ = _day(tiny_config(base, "simulator.channel_fatigue=0.0", "simulator.tag_fatigue=0.0"))
    assert _ctr(tired) < 0.9 * _ctr(fresh)


def test_history_shapes_later_sessions() -> None:
    cfg_off = tiny_config("profiles.small.simulator_users=2000", "simulator.history_weight=0")
    cfg_on = tiny_config("profiles.small.simulator_users=2000", "simulator.history_weight=1.5")
    _, off = _day(cfg_off)
    _, on = _day(cfg_on)
    # The first session of a user is unaffected; later ones are pulled towards clicked channels.
    assert on.column("p_click").to_numpy().mean() > off.column("p_click").to_numpy().mean()


def test_oracle_beats_position_alone() -> None:
    table, truth = _day(tiny_config("profiles.small.simulator_users=2000"))
    y = table.column("clicked").to_numpy()
    assert _auc(y, truth.column("p_click").to_numpy()) > _auc(y, -table.column("position").to_numpy()) + 0.05


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    order = np.argsort(score, kind="stable")
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    # average ranks of ties
    s = score[order]
    for v in np.unique(s[np.r_[False, s[1:] == s[:-1]]]):
        tie = score == v
        ranks[tie] = ranks[tie].mean()
    n1 = y.sum()
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * (len(y) - n1)))


def test_tastes_drift_slowly() -> None:
    world = World(tiny_config())
    d = day_index(DAY)
    t0, _ = world.user_state(d)
    t1, _ = world.user_state(d + 1)
    t60, _ = world.user_state(d + 60)
    step = np.linalg.norm(t1 - t0, axis=1).mean()
    far = np.linalg.norm(t60 - t0, axis=1).mean()
    assert 0 < step < far


def test_channel_shock_hits_its_channel_from_its_day() -> None:
    base = ("profiles.small.simulator_users=2000",)
    shock = "simulator.shock={channel: news, from_ds: '2026-11-02', logit_delta: -2.0}"
    calm, _ = _day(tiny_config(*base))
    hit, _ = _day(tiny_config(*base, shock))
    before, _ = _day(tiny_config(*base, shock), "2026-11-01")
    calm_before, _ = _day(tiny_config(*base), "2026-11-01")

    def news_ctr(t) -> float:
        df = t.select(["channel", "clicked"]).to_pandas()
        return df[df.channel == "news"].clicked.mean()

    assert news_ctr(hit) < 0.6 * news_ctr(calm)
    assert before.equals(calm_before)


def test_channels_come_from_config() -> None:
    cfg = tiny_config("channels=[podcast, live, blog]", "simulator.traits={}", "model.reward_weights={}")
    table, _ = _day(cfg)
    assert set(table.column("channel").unique().to_pylist()) == {"podcast", "live", "blog"}


def test_a_failed_day_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(simulator.pq, "write_table", boom)
    with pytest.raises(RuntimeError):
        simulator.run(tiny_config(), DAY, 1, tmp_path)
    assert list(tmp_path.rglob("*")) == [tmp_path / "_truth"] or not any(p.is_file() for p in tmp_path.rglob("*"))
