"""The simulated world: users, items, tags and the ground-truth click model's parts.

Everything is a pure function of the seed and the day, so any day can be
generated alone, in any order, and always comes out the same. Nothing here
knows the channel names: channel behaviour comes from `simulator.traits`.

What each model component has to learn is planted on purpose:

- channel preferences per user, shifted by age bucket (the LRA);
- a taste vector per user matched against item vectors built from tags (the HRA);
- hour x channel and device x channel effects (field self-attention);
- a within-day pull towards channels clicked in earlier sessions (the GRU);
- fatigue from repeated channels and tags in one list (the diversity reward).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from hrlrec.config import Config

EPOCH = dt.date(1970, 1, 1)
AGE_BUCKETS = 8  # 0 = unknown, 1..7 known buckets
GENDERS = 3  # 0 = unknown, 1, 2

# Streams of randomness, so that adding one kind of draw never shifts another.
_TAGS, _USERS, _INTERACTIONS, _ITEMS, _SESSIONS = range(5)


def day_index(ds: str) -> int:
    """Days since 1970-01-01 for a `YYYY-MM-DD` day."""
    return (dt.date.fromisoformat(ds) - EPOCH).days


def _rng(seed: int, stream: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, *keys])


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def mask_user_id(index: np.ndarray) -> np.ndarray:
    """A bijective scramble of user indices into 40-bit ids (the logs carry masked ids)."""
    return (index.astype(np.int64) * 2654435761 + 97) % (1 << 40)


@dataclass(frozen=True)
class Catalog:
    """The items that can be recommended on one day, across all channels."""

    item_id: np.ndarray  # (N,) int64
    channel: np.ndarray  # (N,) int index into cfg.channels
    latent: np.ndarray  # (N, D) float32 unit vectors
    quality: np.ndarray  # (N,) intrinsic appeal, part of the click logit
    age_days: np.ndarray  # (N,) float, days since publication
    popularity: np.ndarray  # (N,) > 0, what the logging policy's retrieval favours
    tags: np.ndarray  # (N, T) bool multi-hot

    def __len__(self) -> int:
        return len(self.item_id)


class World:
    """Fixed population and interaction effects for one seed and configuration."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.sim = cfg.simulator
        self.channels = list(cfg.channels)
        self.traits = [self.sim.traits_for(c) for c in self.channels]
        self.n_users = max(1, round(cfg.active.simulator_users * self.sim.scale))
        self._build_tags()
        self._build_users()
        self._build_interactions()

    # -- construction ---------------------------------------------------------------

    def _build_tags(self) -> None:
        sim, C = self.sim, len(self.channels)
        rng = _rng(self.cfg.seed, _TAGS)
        self.tag_names = [f"tag_{i:03d}" for i in range(sim.n_tags)]
        self.tag_emb = _unit(rng.normal(size=(sim.n_tags, sim.latent_dim))).astype(np.float32)
        # Each channel covers topics in its own mix: a sparse Dirichlet over tags.
        self.channel_tag_p = rng.dirichlet(np.full(sim.n_tags, 0.3), size=C)

    def _build_users(self) -> None:
        sim, U, C, D = self.sim, self.n_users, len(self.channels), self.sim.latent_dim
        rng = _rng(self.cfg.seed, _USERS)
        self.user_id = mask_user_id(np.arange(U))
        self.age = np.where(rng.random(U) < 0.08, 0, rng.integers(1, AGE_BUCKETS, U)).astype(np.int8)
        self.gender = np.where(rng.random(U) < 0.1, 0, rng.integers(1, GENDERS, U)).astype(np.int8)
        self.region = np.where(rng.random(U) < 0.05, 0, rng.integers(1, sim.regions + 1, U)).astype(np.int32)
        self.primary_device = rng.choice(len(sim.devices), U, p=_device_mix(len(sim.devices)))
        self.activity = sim.sessions_per_user_day * rng.lognormal(-0.18, 0.6, U)
        self.taste0 = _unit(rng.normal(size=(U, D))).astype(np.float32)
        self.taste_dir = _unit(rng.normal(size=(U, D))).astype(np.float32)
        self.chan_pref0 = rng.normal(0.0, sim.channel_pref_sd, size=(U, C))
        self.chan_dir = rng.normal(0.0, sim.channel_pref_sd, size=(U, C))
        lo, hi = sim.drift_period_days
        self.drift_freq = 2 * np.pi / rng.uniform(lo, hi, U)
        self.drift_phase = rng.uniform(0, 2 * np.pi, U)

    def _build_interactions(self) -> None:
        sim, C = self.sim, len(self.channels)
        rng = _rng(self.cfg.seed, _INTERACTIONS)
        hours = np.arange(24)[:, None]
        peaks = np.array([t.peak_hour for t in self.traits])[None, :]
        self.hour_channel = sim.hour_effect * np.cos(2 * np.pi * (hours - peaks) / 24)  # (24, C)
        self.device_channel = rng.normal(0.0, sim.device_effect, size=(len(sim.devices), C))
        self.age_channel = rng.normal(0.0, sim.age_effect, size=(AGE_BUCKETS, C))
        self.age_channel[0] = 0.0  # unknown age carries no signal
        ctr = np.array([t.base_ctr for t in self.traits])
        self.base_logit = np.log(ctr / (1 - ctr))

    # -- per day --------------------------------------------------------------------

    def user_state(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """Users' taste vectors (U, D) and channel preferences (U, C) on `day`, after drift."""
        wave = np.sin(self.drift_freq * day + self.drift_phase)[:, None]  # (U, 1)
        amp = self.sim.drift_amplitude
        taste = _unit(self.taste0 + amp * wave * self.taste_dir).astype(np.float32)
        chan_pref = self.chan_pref0 + 0.5 * amp * wave * self.chan_dir
        chan_pref = chan_pref + self.age_channel[self.age]
        return taste, chan_pref

    def channel_shift(self, day: int) -> np.ndarray:
        """Extra click logit per channel on `day` (a configured sudden shock, else zeros)."""
        shift = np.zeros(len(self.channels))
        shock = self.sim.shock
        if shock is not None and day >= day_index(shock.from_ds):
            shift[self.channels.index(shock.channel)] = shock.logit_delta
        return shift

    def catalog(self, day: int) -> Catalog:
        """Items live on `day`: each channel's items published in its lifetime window."""
        parts = []
        for c, traits in enumerate(self.traits):
            for born in range(day - traits.item_lifetime_days + 1, day + 1):
                parts.append(self._items_born(c, born, day))
        return Catalog(*(np.concatenate(cols) for cols in zip(*parts, strict=True)))

    @cached_property
    def _tag_count_p(self) -> np.ndarray:
        k = self.sim.tags_per_item_max
        p = 0.5 ** np.arange(k)
        return p / p.sum()

    def _items_born(self, c: int, born: int, today: int) -> tuple[np.ndarray, ...]:
        """The items channel `c` published on day `born`, as seen on day `today`."""
        sim = self.sim
        n = self.traits[c].new_items_per_day
        rng = _rng(self.cfg.seed, _ITEMS, c, born)
        n_tags = 1 + rng.choice(sim.tags_per_item_max, n, p=self._tag_count_p)
        tags = np.zeros((n, sim.n_tags), dtype=bool)
        for k in range(sim.tags_per_item_max):
            pick = rng.choice(sim.n_tags, n, p=self.channel_tag_p[c])
            tags[np.arange(n)[n_tags > k], pick[n_tags > k]] = True
        noise = rng.normal(0, 0.6 / np.sqrt(sim.latent_dim), size=(n, sim.latent_dim))
        latent = _unit(tags @ self.tag_emb / tags.sum(1, keepdims=True) + noise).astype(np.float32)
        quality = rng.normal(0.0, 0.5, n)
        popularity = np.exp(quality + rng.normal(0.0, 0.5, n))
        age = (today - born) + rng.random(n)
        # ids: (day, channel, serial), readable and never reused across days or channels
        item_id = (np.int64(born) * 1000 + c) * 1_000_000 + np.arange(n, dtype=np.int64)
        return item_id, np.full(n, c), latent, quality, age, popularity, tags


def _device_mix(n: int) -> np.ndarray:
    # The first device is the most common, as phones usually are.
    p = 0.6 ** np.arange(n)
    return p / p.sum()
