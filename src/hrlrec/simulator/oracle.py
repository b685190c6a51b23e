"""The simulated world's ground truth for any list: what policy evaluation scores against.

The logs say what the logging policy showed and what was clicked, and the truth
sidecar how likely each of those clicks was. Evaluating another policy needs
that probability for lists that were never shown, which only the world that
made the logs can give. `DayOracle` rebuilds, for every logged request of one
day, everything the click model conditions on (user, hour, device, and the
pull of the user's earlier sessions that day, replayed from the logged clicks)
and scores any list with the simulator's own `ClickModel`, so the oracle and
the simulator cannot disagree about the formula.

What a request is conditioned on is its *logged* past: the pull before a
session comes from the clicks the logging policy's earlier lists got. Under
another policy those earlier lists, and so their clicks, would have differed;
like any per-request off-policy evaluation, the oracle scores each request as
if only that request's list changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.polynomial.hermite_e import hermegauss

from hrlrec import layout
from hrlrec.config import Config
from hrlrec.errors import BadInput
from hrlrec.simulator.day import SECONDS_BETWEEN_POSITIONS, SECONDS_PER_DAY, ClickModel
from hrlrec.simulator.world import World, day_index

NO_ITEM = -1  # an empty slot in a list given to the oracle
LOG_COLUMNS = ["ds", "session_id", "position", "user_id", "item_id", "channel", "event_time", "device", "clicked"]
_EXAMPLES = 5  # ids named in an error message: enough to find the bug, short enough to read
_BLOCK = 8192  # sessions scored at once: bounds the (B, K, n_tags) and (B, K, nodes) temporaries
_QUADRATURE_NODES = 32  # Gauss-Hermite nodes for E[log1p(dwell / scale)]: exact to ~1e-12 for these smooth integrands
_TAG_SAMPLE = 2000  # logged impressions whose tags are compared with the world's catalog
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


@dataclass(frozen=True)
class _Sessions:
    """The logged requests of the day, in session_id order (which is each user's time order)."""

    session_id: np.ndarray  # (S,) int64, sorted
    user: np.ndarray  # (S,) world user index
    hour: np.ndarray  # (S,) request hour, as the simulator drew it
    device: np.ndarray  # (S,) index into cfg.simulator.devices
    item: np.ndarray  # (S, K) catalog index in list order, NO_ITEM where nothing was logged
    clicked: np.ndarray  # (S, K) bool


class DayOracle:
    """True click probabilities of any list for the logged requests of one simulated day.

    Built from the configuration that simulated the day (same seed and
    simulator settings) and the day's landing partition (`landing/ds=D`).
    """

    def __init__(self, cfg: Config, day_dir: Path) -> None:
        self.day_dir = Path(day_dir)
        logs = _read_logs(self.day_dir)
        self.ds = _day_of(logs, self.day_dir)
        self.day = day_index(self.ds)
        self.world = World(cfg)
        self.channels = list(cfg.channels)
        self.tag_names = list(self.world.tag_names)
        self.list_len = cfg.list_len
        self.catalog = self.world.catalog(self.day)
        self.model = ClickModel.for_day(self.world, self.day)
        self._item_order = np.argsort(self.catalog.item_id, kind="stable")
        self._user_order = np.argsort(self.world.user_id, kind="stable")
        self._sessions = self._sessions_of(logs, cfg)
        self._pull = self._replay_pull()  # (S, C) each session's pull before it started

    # -- public API ---------------------------------------------------------------------

    def p_click(self, session_id: np.ndarray, item_id: np.ndarray) -> np.ndarray:
        """True P(click) (B, K) of lists `item_id` (B, K) shown to logged requests `session_id` (B,).

        Position k of a list is position k of the feed; NO_ITEM (-1) leaves a
        slot empty (P = 0), and an empty slot tires no later item.
        """
        rows, item, placed = self._requests(session_id, item_id)
        out = np.zeros(item.shape)
        for part in _blocks(len(rows)):
            out[part] = self._score(rows[part], item[part], placed[part])[0]
        return out

    def expected_dwell_reward(self, session_id: np.ndarray, item_id: np.ndarray, dwell_scale_s: float) -> np.ndarray:
        """E[click * log1p(dwell / dwell_scale_s)] (B, K): the dwell reward each position is worth.

        A clicked item's log dwell is Normal(mu, sd) independently of the click,
        so the expectation is P(click) * E[log1p(exp(log dwell) / scale)]; the
        second factor has no closed form and is integrated by Gauss-Hermite.
        """
        if not dwell_scale_s > 0:
            raise BadInput(f"dwell_scale_s must be > 0, got {dwell_scale_s}")
        nodes, weights = hermegauss(_QUADRATURE_NODES)
        weights = weights / np.sqrt(2 * np.pi)  # the standard normal's expectation
        rows, item, placed = self._requests(session_id, item_id)
        out = np.zeros(item.shape)
        for part in _blocks(len(rows)):
            p, chan, match = self._score(rows[part], item[part], placed[part])
            mean, sd = self.model.log_dwell(chan, match)  # (b, K) each
            log_ratio = mean[..., None] + sd[..., None] * nodes - np.log(dwell_scale_s)  # (b, K, nodes)
            out[part] = p * (np.logaddexp(0.0, log_ratio) @ weights)  # log1p(e^x) without overflow
        return out

    def channel_preference(self, user_id: np.ndarray) -> np.ndarray:
        """Users' (U,) true channel preference (U, C) today, drift and age effect included, in cfg.channels order."""
        return self.model.chan_pref[self._user_index(np.asarray(user_id, dtype=np.int64).ravel())]

    def request_users(self, session_id: np.ndarray) -> np.ndarray:
        """World user index (B,) of each logged request (B,): which requests share a user."""
        return self._sessions.user[self._session_rows(np.asarray(session_id, dtype=np.int64))]

    def request_channel_preference(self, session_id: np.ndarray) -> np.ndarray:
        """True channel preference (B, C) of the user behind each logged request, in cfg.channels order."""
        return self.model.chan_pref[self.request_users(session_id)]

    def logged_lists(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The day's logged lists: session_id (S,), item_id (S, K) and channel index (S, K), -1 where empty."""
        s = self._sessions
        placed = s.item != NO_ITEM
        safe = np.where(placed, s.item, 0)
        item_id = np.where(placed, self.catalog.item_id[safe], NO_ITEM)
        channel = np.where(placed, self.catalog.channel[safe], NO_ITEM)
        return s.session_id.copy(), item_id, channel

    def catalog_item_ids(self) -> np.ndarray:
        """Every item that can be recommended today (N,), the pool a policy under evaluation ranks."""
        return self.catalog.item_id.copy()

    def item_channel(self, item_id: np.ndarray) -> np.ndarray:
        """Channel index of each item, same shape as `item_id`; -1 for NO_ITEM."""
        index, placed = self._item_index(item_id)
        return np.where(placed, self.catalog.channel[index], NO_ITEM)

    def item_tags(self, item_id: np.ndarray) -> np.ndarray:
        """Multi-hot tags (..., n_tags) bool of each item (columns follow `tag_names`); none for NO_ITEM."""
        index, placed = self._item_index(item_id)
        return self.catalog.tags[index] & placed[..., None]

    def check_truth(self, truth_dir: Path | None = None, atol: float = 1e-6) -> float:
        """Max |oracle - sidecar| p_click over the logged impressions; BadInput when above `atol`.

        A configuration other than the one that simulated the day (another
        seed, other traits) builds another world whose probabilities would be
        silently wrong; the sidecar is the one witness of the real world.
        """
        truth_dir = truth_dir or layout.truth_dir(self.day_dir.parent, self.ds)
        files = sorted(Path(truth_dir).glob("*.parquet"))
        if not files:
            raise BadInput(f"no truth sidecar for {self.ds} in {truth_dir}")
        truth = pa.concat_tables([pq.read_table(f, columns=["session_id", "position", "p_click"]) for f in files])
        sid = truth.column("session_id").to_numpy()
        pos = truth.column("position").to_numpy().astype(np.int64)
        rows = self._session_rows(sid)
        session_id, item_id, _ = self.logged_lists()
        p = self.p_click(session_id, item_id)[rows, pos]
        err = np.abs(p - truth.column("p_click").to_numpy())
        worst = int(np.argmax(err)) if len(err) else 0
        if len(err) and err[worst] > atol:
            raise BadInput(
                f"the oracle disagrees with the truth of {self.ds} by {err[worst]:.3g} (session {sid[worst]}, "
                f"position {pos[worst]}): the configuration is not the one that simulated this day"
            )
        return float(err.max()) if len(err) else 0.0

    # -- scoring -------------------------------------------------------------------------

    def _requests(self, session_id: np.ndarray, item_id: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Session rows (B,), catalog indices (B, K) (0 where empty) and the placed mask (B, K)."""
        session_id = np.asarray(session_id, dtype=np.int64)
        item_id = np.asarray(item_id, dtype=np.int64)
        if session_id.ndim != 1 or item_id.ndim != 2 or len(item_id) != len(session_id):
            raise BadInput(f"need session_id (B,) and item_id (B, K); got {session_id.shape} and {item_id.shape}")
        rows = self._session_rows(session_id)
        item, placed = self._item_index(item_id)
        return rows, item, placed

    def _score(self, rows: np.ndarray, item: np.ndarray, placed: np.ndarray) -> tuple[np.ndarray, ...]:
        """P(click), channel and taste match, each (b, K), of lists `item` for session rows `rows`."""
        s = self._sessions
        user = s.user[rows]
        match = self.model.match(user, self.catalog.latent[item])  # (b, K)
        relevance = self.model.relevance(user, s.hour[rows], s.device[rows], self.catalog, item, match, placed)
        chan = self.catalog.channel[item]
        p = np.where(placed, self.model.p_click(relevance, chan, self._pull[rows]), 0.0)
        return p, chan, match

    # -- lookups -------------------------------------------------------------------------

    def _session_rows(self, session_id: np.ndarray) -> np.ndarray:
        return _lookup(self._sessions.session_id, None, session_id, f"session_id(s) not logged on {self.ds}")

    def _user_index(self, user_id: np.ndarray) -> np.ndarray:
        return _lookup(self.world.user_id, self._user_order, user_id, "user_id(s) not in the simulated population")

    def _item_index(self, item_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Catalog indices (0 where NO_ITEM, so they can index arrays) and the placed mask, both `item_id`'s shape."""
        item_id = np.asarray(item_id, dtype=np.int64)
        placed = item_id != NO_ITEM
        index = np.zeros(item_id.shape, dtype=np.int64)
        what = f"item_id(s) not in the catalog of {self.ds}"
        index[placed] = _lookup(self.catalog.item_id, self._item_order, item_id[placed], what)
        return index, placed

    # -- reconstruction of the day -----------------------------------------------------

    def _sessions_of(self, logs: pa.Table, cfg: Config) -> _Sessions:
        """Each logged request's user, hour, device and list, from the contract columns."""
        sid = logs.column("session_id").to_numpy()
        pos = logs.column("position").to_numpy().astype(np.int64)
        order = np.lexsort((pos, sid))
        sid, pos = sid[order], pos[order]
        sessions, head, row_session = np.unique(sid, return_index=True, return_inverse=True)
        repeated = (np.diff(sid) == 0) & (np.diff(pos) == 0)
        if len(pos) and (pos.min() < 0 or repeated.any()):
            raise BadInput(f"the logs of {self.ds} have negative or repeated positions within a session")
        K = max(cfg.list_len, int(pos.max()) + 1 if len(pos) else 0)
        user_id = logs.column("user_id").to_numpy()[order]
        if (user_id != user_id[head][row_session]).any():
            raise BadInput(f"the logs of {self.ds} have sessions with more than one user")
        item = np.full((len(sessions), K), NO_ITEM, dtype=np.int64)
        item[row_session, pos] = self._item_index(logs.column("item_id").to_numpy()[order])[0]
        self._check_items(logs, order, item[row_session, pos])
        clicked = np.zeros((len(sessions), K), dtype=bool)
        clicked[row_session, pos] = logs.column("clicked").to_numpy()[order] == 1
        return _Sessions(
            session_id=sessions,
            user=self._user_index(user_id[head]),
            hour=self._hours(logs, order[head], pos[head]),
            device=_device_index(logs.column("device").take(pa.array(order[head])), cfg.simulator.devices),
            item=item,
            clicked=clicked,
        )

    def _hours(self, logs: pa.Table, rows: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Request hour (S,) of the sessions whose first logged impression is `rows` at positions `pos`.

        The simulator spaces positions SECONDS_BETWEEN_POSITIONS apart from the
        request's second, and its hour is that second // 3600.
        """
        column = logs.column("event_time")
        seconds = pc.cast(column, pa.int64()).to_numpy()[rows] // _PER_SECOND[column.type.unit]
        second_of_day = seconds - pos * SECONDS_BETWEEN_POSITIONS - np.int64(self.day) * SECONDS_PER_DAY
        if len(rows) and (second_of_day.min() < 0 or second_of_day.max() >= SECONDS_PER_DAY):
            raise BadInput(f"the logs of {self.ds} have requests outside that day")
        return second_of_day // 3600

    def _check_items(self, logs: pa.Table, order: np.ndarray, index: np.ndarray) -> None:
        """Refuse logs that another world made: their items' channels and tags must be this world's."""
        names = np.asarray(self.channels, dtype=object)[self.catalog.channel[index]]
        logged = logs.column("channel").to_numpy(zero_copy_only=False)[order]
        sample = np.linspace(0, len(order) - 1, min(_TAG_SAMPLE, len(order))).astype(np.int64)
        tag_names = np.asarray(self.tag_names, dtype=object)
        logged_tags = logs.column("item_tags").take(pa.array(order[sample])).to_pylist()
        world_tags = [sorted(tag_names[row]) for row in self.catalog.tags[index[sample]]]
        if (names != logged).any() or [sorted(t) for t in logged_tags] != world_tags:
            raise BadInput(
                f"the items logged on {self.ds} do not match this configuration's world "
                "(another seed, channel order or simulator settings?)"
            )

    def _replay_pull(self) -> np.ndarray:
        """Each session's pull (S, C) before it: the simulator's update, replayed over the logged clicks.

        Session ids follow the simulator's time order within a user, so a
        user's sessions are replayed in session_id order, one round per rank.
        """
        s = self._sessions
        S, C = len(s.session_id), len(self.channels)
        users, local = np.unique(s.user, return_inverse=True)
        order = np.lexsort((s.session_id, local))  # user by user, each in time order
        first = np.r_[True, local[order][1:] != local[order][:-1]]
        rank = np.arange(S) - np.maximum.accumulate(np.where(first, np.arange(S), 0))
        placed = s.item != NO_ITEM
        chan = self.catalog.channel[np.where(placed, s.item, 0)]
        before = np.zeros((S, C))
        pull = np.zeros((len(users), C))
        for r in range(int(rank.max()) + 1 if S else 0):
            rows = order[rank == r]
            who = local[rows]
            before[rows] = pull[who]
            pull[who] = self.model.next_pull(pull[who], chan[rows], s.clicked[rows] & placed[rows])
        return before


def _read_logs(day_dir: Path) -> pa.Table:
    """The columns the oracle needs from a landing partition (its Parquet files; `_SUCCESS` is ignored)."""
    files = sorted(day_dir.glob("*.parquet"))
    if not files:
        raise BadInput(f"no Parquet files in {day_dir}")
    return pa.concat_tables([pq.read_table(f, columns=[*LOG_COLUMNS, "item_tags"]) for f in files])


def _day_of(logs: pa.Table, day_dir: Path) -> str:
    """The day of the partition: the logs' `ds` column, which must agree with a `ds=` folder name."""
    days = set(pc.unique(logs.column("ds")).to_pylist())
    folder = day_dir.name.removeprefix("ds=") if day_dir.name.startswith("ds=") else None
    if len(days) > 1 or (folder and days and days != {folder}):
        raise BadInput(f"{day_dir} holds days {sorted(days)}; the oracle needs exactly one")
    ds = days.pop() if days else folder
    if ds is None:
        raise BadInput(f"cannot tell the day of {day_dir}: no rows and no ds= folder name")
    return ds


def _device_index(device: pa.ChunkedArray, devices: list[str]) -> np.ndarray:
    """Index of each device name in cfg.simulator.devices (the simulator's device x channel rows)."""
    names, inverse = np.unique(device.to_numpy(zero_copy_only=False).astype(str), return_inverse=True)
    known = {d: i for i, d in enumerate(devices)}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise BadInput(f"unknown device(s) {unknown[:_EXAMPLES]}; the simulator knows {devices}")
    return np.array([known[n] for n in names], dtype=np.int64)[inverse]


def _lookup(keys: np.ndarray, sorter: np.ndarray | None, query: np.ndarray, what: str) -> np.ndarray:
    """Index into `keys` of each `query` value (same shape); BadInput naming a few that are missing."""
    query = np.asarray(query, dtype=np.int64)
    if len(keys) == 0:
        found = np.zeros(query.shape, dtype=np.int64)
        missing = np.ones(query.shape, dtype=bool)
    else:
        at = np.minimum(np.searchsorted(keys, query, sorter=sorter), len(keys) - 1)
        found = sorter[at] if sorter is not None else at
        missing = keys[found] != query
    if missing.any():
        bad = np.unique(query[missing])
        raise BadInput(f"{len(bad)} {what}, e.g. {bad[:_EXAMPLES].tolist()}")
    return found


def _blocks(n: int) -> Iterator[slice]:
    for start in range(0, n, _BLOCK):
        yield slice(start, start + _BLOCK)
