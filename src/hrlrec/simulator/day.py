"""One simulated day: requests, the logging policy's lists, and the users' clicks.

A request (session) is one list of `list_len` items. The *logging policy*, the
simulated world's current production ranker, retrieves candidates by
popularity, scores them with a noisy estimate of the user's taste, and draws
the list from a Plackett-Luce distribution; every impression's propensity is
recorded in the ground-truth sidecar. Clicks then follow the true click model:

    P(click) = examine(position) * sigmoid(relevance)

where relevance adds the channel's base rate, the user's channel preference,
taste match, item quality and freshness, hour x channel and device x channel
effects, the pull of channels clicked earlier today, and list fatigue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from hrlrec import contract
from hrlrec.simulator.world import _SESSIONS, EPOCH, Catalog, World, _rng

SECONDS_PER_DAY = 86_400
SECONDS_BETWEEN_POSITIONS = 2  # a user scrolls past one impression every ~2 s

TRUTH_SCHEMA = pa.schema(
    [
        pa.field("session_id", pa.int64()),
        pa.field("position", pa.int16()),
        pa.field("p_click", pa.float32()),  # true click probability
        pa.field("p_examine", pa.float32()),  # probability the position is looked at
        pa.field("propensity", pa.float32()),  # logging policy's probability of this item here
    ]
)


def _hour_profile(weekend: bool) -> np.ndarray:
    """Request volume by UTC hour: a night trough, a morning and an evening peak."""
    h = np.arange(24)
    morning, evening = (10.0, 20.5) if weekend else (8.0, 20.5)
    p = (
        0.25
        + 0.6 * np.exp(-((h - morning) ** 2) / (2 * 1.5**2))
        + 0.4 * np.exp(-((h - 12.5) ** 2) / 2)
        + 1.2 * np.exp(-((h - evening) ** 2) / (2 * 2.0**2))
        + (0.3 if weekend else 0.0) * np.exp(-((h - 15.0) ** 2) / (2 * 3.0**2))
    )
    p[1:7] *= 0.2  # most people sleep
    return p / p.sum()


@dataclass(frozen=True)
class DayChunk:
    """Impressions (contract schema) and their ground truth for a group of users."""

    impressions: pa.Table
    truth: pa.Table


def simulate_day(world: World, ds: str) -> Iterator[DayChunk]:
    """Yield the day's impressions user group by user group (bounded memory)."""
    day = (dt.date.fromisoformat(ds) - EPOCH).days
    catalog = world.catalog(day)
    taste, chan_pref = world.user_state(day)
    shift = world.channel_shift(day)
    step = world.sim.users_per_file
    next_session = 0
    for chunk, start in enumerate(range(0, world.n_users, step)):
        users = np.arange(start, min(start + step, world.n_users))
        out = _simulate_users(world, ds, day, chunk, users, catalog, taste, chan_pref, shift, next_session)
        next_session += out.impressions.num_rows // world.cfg.list_len
        yield out


def _simulate_users(
    world: World,
    ds: str,
    day: int,
    chunk: int,
    users: np.ndarray,
    catalog: Catalog,
    taste: np.ndarray,
    chan_pref: np.ndarray,
    shift: np.ndarray,
    first_session: int,
) -> DayChunk:
    cfg, sim = world.cfg, world.sim
    K = cfg.list_len
    rng = _rng(cfg.seed, _SESSIONS, day, chunk)
    weekend = dt.date.fromisoformat(ds).weekday() >= 5

    # -- requests: who, when, on which device ------------------------------------------
    volume = sim.weekend_volume if weekend else 1.0
    n_req = rng.poisson(world.activity[users] * volume)
    s_user = np.repeat(users, n_req)  # (S,) global user index
    S = len(s_user)
    hour = rng.choice(24, S, p=_hour_profile(weekend))
    second = np.minimum(hour * 3600 + rng.integers(0, 3600, S), SECONDS_PER_DAY - K * SECONDS_BETWEEN_POSITIONS)
    order = np.lexsort((second, s_user))  # a user's requests in time order
    s_user, hour, second = s_user[order], hour[order], second[order]
    own = rng.random(S) < 0.85
    device = np.where(own, world.primary_device[s_user], rng.integers(0, len(sim.devices), S))

    # -- logging policy: retrieve, score, draw a Plackett-Luce list ------------------------
    cand = _retrieve(rng, catalog, S, max(sim.candidates_per_request, K), K)  # (S, Kc), -1 = dup
    valid = cand >= 0
    ci = np.where(valid, cand, 0)
    u_taste = taste[s_user]  # (S, D)
    match = np.einsum("sd,skd->sk", u_taste, catalog.latent[ci])  # (S, Kc) taste match
    c_chan = catalog.channel[ci]
    estimate = (
        sim.taste_weight * match
        + chan_pref[s_user[:, None], c_chan]
        + rng.normal(0.0, sim.logging_noise_sd, match.shape)
    )
    score = (estimate + np.log(catalog.popularity[ci])) / sim.logging_temperature
    score = np.where(valid, score, -np.inf)
    gumbel = rng.gumbel(size=score.shape)
    rank = np.argsort(-(score + gumbel), axis=1)[:, :K]  # (S, K) candidate slots, in list order
    chosen_score = np.take_along_axis(score, rank, 1)
    weight = np.exp(score - score.max(1, keepdims=True))
    chosen_w = np.exp(chosen_score - score.max(1, keepdims=True))
    remaining = weight.sum(1, keepdims=True) - np.cumsum(chosen_w, 1) + chosen_w
    propensity = chosen_w / remaining  # (S, K) P(item at k | items before k)

    item = np.take_along_axis(ci, rank, 1)  # (S, K) catalog index
    chan = catalog.channel[item]  # (S, K)
    item_match = np.take_along_axis(match, rank, 1)

    # -- true click model ----------------------------------------------------------------
    same_before = np.triu(chan[:, :, None] == chan[:, None, :], 1).sum(1)  # (S, K) earlier same channel
    tags = catalog.tags[item]  # (S, K, T)
    seen_before = np.cumsum(tags, 1) - tags  # tags shown at earlier positions
    repeated_tags = (tags & (seen_before > 0)).sum(2)
    traits = world.traits
    decay = np.array([t.freshness_decay for t in traits])
    relevance = (
        world.base_logit[chan]
        + shift[chan]
        + chan_pref[s_user[:, None], chan]
        + sim.taste_weight * item_match
        + catalog.quality[item]
        - decay[chan] * catalog.age_days[item]
        + world.hour_channel[hour[:, None], chan]
        + world.device_channel[device[:, None], chan]
        - sim.channel_fatigue * same_before
        - sim.tag_fatigue * repeated_tags
    )
    examine = 1.0 / (1.0 + np.arange(K)) ** sim.position_bias  # (K,)

    # Earlier sessions today pull the user towards the channels clicked there, so
    # clicks are drawn session by session in each user's time order.
    draw = rng.random((S, K))
    first = np.r_[True, s_user[1:] != s_user[:-1]]
    session_rank = np.arange(S) - np.maximum.accumulate(np.where(first, np.arange(S), 0))
    pull = np.zeros((len(users), len(world.channels)))
    local = s_user - users[0]
    p_click = np.zeros((S, K))
    for r in range(int(session_rank.max()) + 1 if S else 0):
        rows = np.flatnonzero(session_rank == r)
        who = local[rows]
        rel = relevance[rows] + sim.history_weight * np.take_along_axis(pull[who], chan[rows], 1)
        p_click[rows] = examine * _sigmoid(rel)
        clicks = draw[rows] < p_click[rows]
        per_channel = np.zeros((len(rows), len(world.channels)))
        np.add.at(per_channel, (np.repeat(np.arange(len(rows)), K), chan[rows].ravel()), clicks.ravel())
        pull[who] = sim.history_decay * pull[who] + np.minimum(per_channel, 2.0)
    clicked = draw < p_click

    medians = np.log([t.dwell_median_s for t in traits])
    sigmas = np.array([t.dwell_sigma for t in traits])
    log_dwell = medians[chan] + 0.3 * item_match + sigmas[chan] * rng.normal(size=(S, K))
    dwell = np.where(clicked, np.exp(log_dwell), 0.0)

    session_id = np.int64(day) * 100_000_000 + first_session + np.arange(S, dtype=np.int64)
    event_s = np.int64(day) * SECONDS_PER_DAY + second[:, None] + SECONDS_BETWEEN_POSITIONS * np.arange(K)
    return DayChunk(
        impressions=_impressions_table(world, ds, catalog, s_user, session_id, event_s, item, clicked, dwell, device),
        truth=pa.table(
            {
                "session_id": np.repeat(session_id, K),
                "position": np.tile(np.arange(K, dtype=np.int16), S),
                "p_click": p_click.ravel().astype(np.float32),
                "p_examine": np.tile(examine.astype(np.float32), S),
                "propensity": propensity.ravel().astype(np.float32),
            },
            schema=TRUTH_SCHEMA,
        ),
    )


def _retrieve(rng: np.random.Generator, catalog: Catalog, S: int, width: int, need: int) -> np.ndarray:
    """Popularity-weighted candidates per request, duplicates marked -1.

    Draws with replacement (fast), marks repeats, and redraws the rare request
    that ends up with fewer than `need` distinct items.
    """
    p = catalog.popularity / catalog.popularity.sum()
    cand = rng.choice(len(catalog), (S, width), p=p)
    cand = _mark_duplicates(cand)
    short = np.flatnonzero((cand >= 0).sum(1) < need)
    while len(short):
        redo = _mark_duplicates(rng.choice(len(catalog), (len(short), width), p=p))
        cand[short] = redo
        short = short[(redo >= 0).sum(1) < need]
    return cand


def _mark_duplicates(cand: np.ndarray) -> np.ndarray:
    srt = np.sort(cand, 1)
    dup_sorted = np.c_[np.zeros(len(cand), bool), srt[:, 1:] == srt[:, :-1]]
    out = np.where(dup_sorted, -1, srt)
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _impressions_table(
    world: World,
    ds: str,
    catalog: Catalog,
    s_user: np.ndarray,
    session_id: np.ndarray,
    event_s: np.ndarray,
    item: np.ndarray,
    clicked: np.ndarray,
    dwell: np.ndarray,
    device: np.ndarray,
) -> pa.Table:
    """Assemble the contract table, types exactly as the contract says."""
    K = item.shape[1]
    flat_item = item.ravel()
    row_user = np.repeat(s_user, K)
    tags = catalog.tags[flat_item]
    _, tag_cols = np.nonzero(tags)  # row-major, so each row's tags stay together
    offsets = np.r_[0, np.cumsum(tags.sum(1))].astype(np.int32)
    tag_values = pa.array(np.array(world.tag_names, dtype=object)[tag_cols], pa.string())
    channel_names = np.array(world.channels, dtype=object)
    device_names = np.array(world.sim.devices, dtype=object)
    n = len(flat_item)
    columns = {
        "ds": pa.array(np.full(n, ds, dtype=object), pa.string()),
        "event_time": pa.array((event_s.ravel() * 1_000_000).astype("datetime64[us]"), contract.TIMESTAMP),
        "user_id": pa.array(world.user_id[row_user], pa.int64()),
        "session_id": pa.array(np.repeat(session_id, K), pa.int64()),
        "position": pa.array(np.tile(np.arange(K, dtype=np.int16), len(s_user)), pa.int16()),
        "channel": pa.array(channel_names[catalog.channel[flat_item]], pa.string()),
        "item_id": pa.array(catalog.item_id[flat_item], pa.int64()),
        "item_tags": pa.ListArray.from_arrays(pa.array(offsets), tag_values),
        "clicked": pa.array(clicked.ravel().astype(np.int8), pa.int8()),
        "dwell_time_s": pa.array(dwell.ravel().astype(np.float32), pa.float32()),
        "user_age_bucket": pa.array(world.age[row_user], pa.int8()),
        "user_gender": pa.array(world.gender[row_user], pa.int8()),
        "user_region": pa.array(world.region[row_user], pa.int32()),
        "device": pa.array(device_names[np.repeat(device, K)], pa.string()),
    }
    return pa.table(columns, schema=contract.SCHEMA)
