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

That formula lives in `ClickModel` alone: the simulator draws clicks from it
and `simulator.oracle` scores any other list with it, so the ground truth used
to evaluate policies can never drift away from the world that made the logs.
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
PULL_CLICK_CAP = 2.0  # clicks per channel in one session that count towards the day's pull
DWELL_TASTE_WEIGHT = 0.3  # log dwell grows with taste match: liked items are read longer

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
class ClickModel:
    """The true click model of one day, for any request and any list.

    Users' tastes, channel preferences and the shock are fixed for the day, so
    they are computed once; everything that depends on the request (user,
    hour, device, the pull of earlier sessions) or on the list is an argument.
    The order of the floating-point operations is part of the contract: the
    simulator's output must not change when this class is reused elsewhere.
    """

    world: World
    taste: np.ndarray  # (U, D) users' taste vectors today (after drift)
    chan_pref: np.ndarray  # (U, C) users' channel preferences today (drift and age effect included)
    shift: np.ndarray  # (C,) today's extra logit per channel (the configured shock)

    @classmethod
    def for_day(cls, world: World, day: int) -> ClickModel:
        taste, chan_pref = world.user_state(day)
        return cls(world=world, taste=taste, chan_pref=chan_pref, shift=world.channel_shift(day))

    def match(self, user: np.ndarray, latent: np.ndarray) -> np.ndarray:
        """Taste match (S, K) of each request's user (S,) with item vectors (S, K, D); float32 like the vectors."""
        return np.einsum("sd,skd->sk", self.taste[user], latent)

    def relevance(
        self,
        user: np.ndarray,
        hour: np.ndarray,
        device: np.ndarray,
        catalog: Catalog,
        item: np.ndarray,
        match: np.ndarray,
        placed: np.ndarray | None = None,
    ) -> np.ndarray:
        """Click logit (S, K) of each list before today's pull: everything but the earlier sessions.

        `user`, `hour`, `device` are (S,) indices; `item` (S, K) catalog indices in
        list order and `match` their taste match. `placed` (S, K) marks real items
        when a list has empty slots: an empty slot tires no later item (its own
        value is meaningless and the caller masks it).
        """
        sim = self.world.sim
        chan = catalog.channel[item]  # (S, K)
        same = chan[:, :, None] == chan[:, None, :]  # (S, K, K)
        tags = catalog.tags[item]  # (S, K, T)
        if placed is not None:
            same = same & placed[:, :, None]
            tags = tags & placed[:, :, None]
        same_before = np.triu(same, 1).sum(1)  # (S, K) earlier same channel
        seen_before = np.cumsum(tags, 1) - tags  # tags shown at earlier positions
        repeated_tags = (tags & (seen_before > 0)).sum(2)
        decay = np.array([t.freshness_decay for t in self.world.traits])
        return (
            self.world.base_logit[chan]
            + self.shift[chan]
            + self.chan_pref[user[:, None], chan]
            + sim.taste_weight * match
            + catalog.quality[item]
            - decay[chan] * catalog.age_days[item]
            + self.world.hour_channel[hour[:, None], chan]
            + self.world.device_channel[device[:, None], chan]
            - sim.channel_fatigue * same_before
            - sim.tag_fatigue * repeated_tags
        )

    def examine(self, K: int) -> np.ndarray:
        """P(a position is looked at), (K,): the position bias."""
        return 1.0 / (1.0 + np.arange(K)) ** self.world.sim.position_bias

    def p_click(self, relevance: np.ndarray, chan: np.ndarray, pull: np.ndarray) -> np.ndarray:
        """True P(click) (S, K) from `relevance` (S, K), item channels (S, K) and the user's pull (S, C) so far."""
        pulled = relevance + self.world.sim.history_weight * np.take_along_axis(pull, chan, 1)
        return self.examine(chan.shape[1]) * _sigmoid(pulled)

    def next_pull(self, pull: np.ndarray, chan: np.ndarray, clicked: np.ndarray) -> np.ndarray:
        """The pull (S, C) after a session with items of channels `chan` (S, K) and `clicked` (S, K) bool."""
        n, K = chan.shape
        per_channel = np.zeros((n, len(self.world.channels)))
        np.add.at(per_channel, (np.repeat(np.arange(n), K), chan.ravel()), clicked.ravel())
        return self.world.sim.history_decay * pull + np.minimum(per_channel, PULL_CLICK_CAP)

    def log_dwell(self, chan: np.ndarray, match: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and sd (S, K) of the log dwell time of a clicked item (log-normal dwell)."""
        traits = self.world.traits
        medians = np.log([t.dwell_median_s for t in traits])
        sigmas = np.array([t.dwell_sigma for t in traits])
        return medians[chan] + DWELL_TASTE_WEIGHT * match, sigmas[chan]


@dataclass(frozen=True)
class DayChunk:
    """Impressions (contract schema) and their ground truth for a group of users."""

    impressions: pa.Table
    truth: pa.Table


def simulate_day(world: World, ds: str) -> Iterator[DayChunk]:
    """Yield the day's impressions user group by user group (bounded memory)."""
    day = (dt.date.fromisoformat(ds) - EPOCH).days
    catalog = world.catalog(day)
    model = ClickModel.for_day(world, day)
    step = world.sim.users_per_file
    next_session = 0
    for chunk, start in enumerate(range(0, world.n_users, step)):
        users = np.arange(start, min(start + step, world.n_users))
        out = _simulate_users(world, ds, day, chunk, users, catalog, model, next_session)
        next_session += out.impressions.num_rows // world.cfg.list_len
        yield out


def _simulate_users(
    world: World,
    ds: str,
    day: int,
    chunk: int,
    users: np.ndarray,
    catalog: Catalog,
    model: ClickModel,
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
    match = model.match(s_user, catalog.latent[ci])  # (S, Kc) taste match
    c_chan = catalog.channel[ci]
    estimate = (
        sim.taste_weight * match
        + model.chan_pref[s_user[:, None], c_chan]
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
    relevance = model.relevance(s_user, hour, device, catalog, item, item_match)  # (S, K)
    examine = model.examine(K)  # (K,)

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
        p_click[rows] = model.p_click(relevance[rows], chan[rows], pull[who])
        pull[who] = model.next_pull(pull[who], chan[rows], draw[rows] < p_click[rows])
    clicked = draw < p_click

    dwell_mean, dwell_sd = model.log_dwell(chan, item_match)  # (S, K) each
    log_dwell = dwell_mean + dwell_sd * rng.normal(size=(S, K))
    dwell = np.where(clicked, np.exp(log_dwell), 0.0)

    session_id = np.int64(day) * 100_000_000 + first_session + np.arange(S, dtype=np.int64)
    event_s = np.int64(day) * SECONDS_PER_DAY + second[:, None] + SECONDS_BETWEEN_POSITIONS * np.arange(K)
    return DayChunk(
        impressions=_impressions_table(
            world, ds, catalog, s_user, session_id, event_s, item, clicked, dwell, device, propensity
        ),
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
    propensity: np.ndarray,
) -> pa.Table:
    """Assemble the contract table, types exactly as the contract says, with the logged propensity.

    The propensity is the logging policy's sequential choice probability, as a logging service
    would record it; float32 rounding never takes it to 0 (the contract's range is (0, 1]).
    """
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
        "propensity": pa.array(
            np.clip(propensity.ravel(), np.finfo(np.float32).tiny, 1.0).astype(np.float32), pa.float32()
        ),
    }
    return pa.table(columns, schema=contract.schema_with(["propensity"]))
