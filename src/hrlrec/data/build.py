"""The dataset step: validated days -> one event stream plus an index of lists.

Every impression of the lookback days, the training window and the test day
is laid out in one *stream*, sorted by (user, time, list, position), with
integer feature ids. A training sample is a list (session): its rows are
contiguous in the stream and the user's previous impressions are the rows
just before it, so "the last m impressions before the list" is index
arithmetic at batch time, never a copy per sample.

Feature ids are hashes (user, item, tag, region, device) or fixed codes
(channel order of params.yaml, hour, weekday), so they mean the same on every
day and yesterday's model can score today's data; an unseen id lands in some
bucket, never in an error. Channels outside `channels` map to 0 ("unknown").

A window larger than `dataset.shard_rows` impressions is built in K user-hash
shards (K = rows / shard_rows, rounded up, counted from the Parquet footers):
the days are read one at a time and split by user into scratch files, then
each shard is built on its own and appended to the stream. Every feature of a
row reads only its own user's earlier rows, so a shard needs nothing from
another and the rows are the same as an unsharded build's; only the order of
the users in the stream changes. The validation slice (the window's latest
lists) is chosen over all shards at once, so it is the same slice too. Peak
memory then follows `shard_rows`, not the number of days (issue 15, item 1).
K = 1 is the in-memory build as before: the same stream and lists files, byte
for byte (meta.json says "shards": 1).

Outputs under `data/datasets/ds=D/` (written atomically):
    stream.parquet   one row per impression, features + labels (one or more row groups per shard)
    lists.parquet    one row per list: stream offset, length, user's first row, split
    meta.json        sizes, days used and skipped, split counts, shards
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from hrlrec import atomic
from hrlrec.config import Config
from hrlrec.errors import BadInput
from hrlrec.layout import DATASET_LISTS as LISTS
from hrlrec.layout import DATASET_META as META
from hrlrec.layout import DATASET_STREAM as STREAM
from hrlrec.layout import Window
from hrlrec.progress import track

log = logging.getLogger(__name__)

SPLITS = {"history": 0, "train": 1, "val": 2, "test": 3}

READ_COLUMNS = [
    "event_time", "user_id", "session_id", "position", "channel", "item_id", "item_tags", "clicked",
    "dwell_time_s", "user_age_bucket", "user_gender", "user_region", "device",
]  # fmt: skip
# Every categorical id reserves 0 for padding / unknown, so real values start at 1
# (position 0 is id 1, hour 0 is id 1, ...): a real value must never share the
# frozen zero vector of the padding row.
AGE_CODES = 17  # age buckets 0..15 -> ids 1..16
GENDER_CODES = 5  # genders 0..3 -> ids 1..4
SHARD_SALT = 4  # _stable_hash salt of the user -> shard map (1..3 are the feature hashes)


@dataclass(frozen=True)
class DatasetResult:
    """What the dataset step built."""

    ds: str
    out_dir: Path
    rows: int
    lists: dict[str, int]
    train_days: list[str]
    skipped_days: dict[str, str]
    seconds: float
    shards: int = 1  # user-hash shards the window was built in (dataset.shard_rows)


LIST_COLUMNS = ["offset", "length", "user_start", "split", "day"]


@dataclass
class _Built:
    """One built stream (a whole window or one user shard) and its lists, before the validation split.

    The list keys beyond `LIST_COLUMNS` only order the lists in time for the
    validation split, exactly as the stream orders them within one user.
    """

    stream: pa.Table | None
    lists: dict[str, np.ndarray]  # LIST_COLUMNS, split without "val" yet
    first_time: np.ndarray  # per list: event time (us) of its first row
    start_time: np.ndarray  # per list: earliest event time (us) of its rows (the stream's sort key)
    user_id: np.ndarray  # per list: raw user id
    session_id: np.ndarray  # per list: logged list id

    def without_stream(self) -> _Built:
        return _Built(None, self.lists, self.first_time, self.start_time, self.user_id, self.session_id)

    def rebased(self, base: int) -> _Built:
        """The same lists with stream rows counted from `base` (the shard's first row in the whole stream)."""
        lists = dict(self.lists, offset=self.lists["offset"] + base, user_start=self.lists["user_start"] + base)
        return _Built(self.stream, lists, self.first_time, self.start_time, self.user_id, self.session_id)


def _concat(parts: list[_Built]) -> _Built:
    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])

    lists = {k: np.concatenate([p.lists[k] for p in parts]) for k in LIST_COLUMNS}
    return _Built(None, lists, cat("first_time"), cat("start_time"), cat("user_id"), cat("session_id"))


def _assign_validation(built: _Built, val_fraction: float) -> dict[str, np.ndarray]:
    """Mark the window's latest `val_fraction` of training lists (by time, over every shard) as "val".

    Ties are broken as the stream orders one user's lists (user, start time, day,
    session), so a sharded build picks exactly the lists an unsharded one does.
    """
    split = built.lists["split"].copy()
    train_idx = np.flatnonzero(split == SPLITS["train"])
    if len(train_idx):
        keys = (built.session_id, built.lists["day"], built.start_time, built.user_id, built.first_time)
        order = np.lexsort(tuple(k[train_idx] for k in keys))
        n_val = max(1, round(len(train_idx) * val_fraction))
        split[train_idx[order[-n_val:]]] = SPLITS["val"]
    return dict(built.lists, split=split)


def _stable_hash(values: np.ndarray, buckets: int, salt: int) -> np.ndarray:
    """splitmix64 of int64 ids, folded into [1, buckets): the same on every machine and day (0 = padding)."""
    x = values.astype(np.uint64) + np.uint64((salt * 0x9E3779B97F4A7C15) % 2**64)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return (x % np.uint64(buckets - 1)).astype(np.int64) + 1


def _encode(array: pa.Array | pa.ChunkedArray) -> tuple[list, np.ndarray]:
    """Distinct values and, per row, the index of its value (len(values) for null)."""
    encoded = pc.dictionary_encode(array)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    values = encoded.dictionary.to_pylist()
    return values, pc.fill_null(encoded.indices, len(values)).to_numpy(zero_copy_only=False)


def _hash_strings(array: pa.Array | pa.ChunkedArray, buckets: int) -> np.ndarray:
    """Bucket of each string, hashed once per distinct value (few), never once per row in Python."""
    values, idx = _encode(array)
    digest = [int.from_bytes(hashlib.blake2b(str(v).encode(), digest_size=8).digest(), "little") for v in values]
    table = np.array([1 + h % (buckets - 1) for h in digest] + [0], dtype=np.int64)
    return table[idx]


def _channel_codes(array: pa.ChunkedArray, channels: list[str]) -> np.ndarray:
    """1.. in the order of params.yaml `channels`; 0 for a channel not configured."""
    values, idx = _encode(array)
    code = {c: i + 1 for i, c in enumerate(channels)}
    return np.array([code.get(v, 0) for v in values] + [0], dtype=np.int64)[idx]


def build(
    cfg: Config, ds: str, window: Window, usable: dict[str, Path], skipped: dict[str, str],
    fingerprints: dict[str, str], out: Path,
) -> DatasetResult:  # fmt: skip
    """Build the stream and lists for test day `ds` from the day folders in `usable`; write them to `out`.

    `usable` holds the test day and the window days that may be read (the
    caller decides which: validated days only); `skipped` says why the others
    were left out; `fingerprints` identify the data read, for lineage.
    """
    t0 = time.perf_counter()
    lookback, train = window.lookback, window.train
    train_used = [d for d in train if d in usable]
    if not train_used:
        reasons = "; ".join(f"{d}: {r}" for d, r in skipped.items() if d in train)
        raise BadInput(f"no validated day in the training window {train[0]}..{train[-1]} of {ds}: {reasons}")
    for day, why in skipped.items():
        log.warning("dataset %s: skipping %s (%s)", ds, day, why)

    days = [d for d in [*lookback, *train] if d in usable] + [ds]
    split_of_day = {d: SPLITS["history"] for d in lookback} | {d: SPLITS["train"] for d in train} | {ds: SPLITS["test"]}
    window_rows = sum(_row_count(usable[day]) for day in days)
    shards = max(1, math.ceil(window_rows / cfg.dataset.shard_rows))

    # The build runs outside the writer's lock of data/datasets (other days' builds may run meanwhile);
    # only the finished files are moved in under it.
    with atomic.scratch_dir(out) as scratch:
        stream: pa.Table | None = None
        if shards == 1:
            reading = track(days, f"dataset {ds}: reading {len(days)} days", unit="days")
            tables = [_read_day(usable[day], day) for day in reading]
            raw = pa.concat_tables(tables)
            del tables
            part = _build(cfg, raw, split_of_day)
            del raw
            stream, parts, rows = part.stream, [part.without_stream()], part.stream.num_rows
        else:
            log.info("dataset %s: %d impressions > shard_rows %d: building %d user shards", ds, window_rows,
                     cfg.dataset.shard_rows, shards)  # fmt: skip
            parts, rows = _build_sharded(cfg, ds, days, usable, split_of_day, shards, scratch)
        lists = _assign_validation(_concat(parts), cfg.dataset.val_fraction)
        counts = {name: int(np.sum(lists["split"] == code)) for name, code in SPLITS.items() if name != "history"}
        if counts["train"] == 0 or counts["test"] == 0:
            raise BadInput(f"dataset {ds}: no lists to train on or to test ({counts})")
        meta = {
            "ds": ds,
            "channels": list(cfg.channels),
            "list_len": cfg.list_len,
            "days": days,
            "train_days": train_used,
            "lookback_days": [d for d in lookback if d in usable],
            "skipped_days": skipped,
            "rows": rows,
            "lists": counts,
            "shards": shards,
            "vocab": vocab_sizes(cfg),
            "fingerprints": {d: fingerprints[d] for d in days},
        }
        with atomic.atomic_dir(out) as tmp:
            if stream is not None:
                pq.write_table(stream, tmp / STREAM, compression="zstd")
            else:
                os.rename(scratch / STREAM, tmp / STREAM)  # siblings: the same filesystem
            pq.write_table(pa.table({k: lists[k] for k in LIST_COLUMNS}), tmp / LISTS, compression="zstd")
            (tmp / META).write_text(json.dumps(meta, indent=2) + "\n")
    seconds = time.perf_counter() - t0
    log.info("dataset %s: %d rows in %d shard(s), lists %s in %.1fs", ds, rows, shards, counts, seconds)
    return DatasetResult(ds, out, rows, counts, train_used, skipped, seconds, shards)


def _row_count(folder: Path) -> int:
    """Impressions of a day folder, from the Parquet footers (nothing is read)."""
    return pads.dataset(folder, format="parquet").count_rows()


def _read_day(folder: Path, day: str) -> pa.Table:
    t = pq.read_table(folder, columns=READ_COLUMNS)
    return t.append_column("day", pa.array(np.full(t.num_rows, _day_number(day), np.int32)))


def shard_of(user_id: np.ndarray, shards: int) -> np.ndarray:
    """The shard (0..shards-1) of each raw user id: a user's rows always land in one shard."""
    return _stable_hash(user_id, shards + 1, SHARD_SALT) - 1


def _build_sharded(
    cfg: Config, ds: str, days: list[str], usable: dict[str, Path], split_of_day: dict[str, int], shards: int,
    scratch: Path,
) -> tuple[list[_Built], int]:  # fmt: skip
    """Split the days by user into `shards` folders under `scratch`, build each, append each to scratch/STREAM.

    One day and then one shard are in memory at a time; a shard's split files
    are deleted as soon as it is built, so the scratch holds about one copy of
    the window at a time.
    """
    pieces = scratch / "shards"
    for day in track(days, f"dataset {ds}: splitting {len(days)} days into {shards} shards", unit="days"):
        table = _read_day(usable[day], day)
        shard = shard_of(_ints(table, "user_id"), shards)
        order = np.argsort(shard, kind="stable")
        bounds = np.searchsorted(shard[order], np.arange(shards + 1))
        table = table.take(pa.array(order))
        for s in range(shards):
            if bounds[s + 1] > bounds[s]:
                (pieces / f"{s:05d}").mkdir(parents=True, exist_ok=True)
                piece = table.slice(bounds[s], bounds[s + 1] - bounds[s])
                pq.write_table(piece, pieces / f"{s:05d}" / f"{day}.parquet", compression="lz4")
        del table
    parts: list[_Built] = []
    base = 0
    writer: pq.ParquetWriter | None = None
    try:
        for s in track(range(shards), f"dataset {ds}: building {shards} shards", unit="shards"):
            folder = pieces / f"{s:05d}"
            if not folder.is_dir():
                continue
            raw = pa.concat_tables([pq.read_table(f) for f in sorted(folder.glob("*.parquet"))])
            shutil.rmtree(folder)
            part = _build(cfg, raw, split_of_day)
            del raw
            if writer is None:
                writer = pq.ParquetWriter(scratch / STREAM, part.stream.schema, compression="zstd")
            writer.write_table(part.stream)
            parts.append(part.without_stream().rebased(base))
            base += part.stream.num_rows
            del part
    finally:
        if writer is not None:
            writer.close()
    return parts, base


def _day_number(ds: str) -> int:
    return (dt.date.fromisoformat(ds) - dt.date(1970, 1, 1)).days


def vocab_sizes(cfg: Config) -> dict[str, int]:
    """Embedding table sizes of every categorical field (0 is padding / unknown in each)."""
    d = cfg.dataset
    return {
        "user": d.user_buckets,
        "age": AGE_CODES,
        "gender": GENDER_CODES,
        "region": d.region_buckets,
        "hour": 25,
        "weekday": 8,
        "device": d.device_buckets,
        "channel": len(cfg.channels) + 1,
        "item": d.item_buckets,
        "tag": d.tag_buckets,
        "position": cfg.list_len + 1,
    }


def _build(cfg: Config, raw: pa.Table, split_of_day: dict[str, int]) -> _Built:
    """Features, labels and list index of the rows of `raw` (whole users: a state reads only its user's rows)."""
    d = cfg.dataset

    def column(name: str) -> np.ndarray:
        return _ints(raw, name)

    # Order: user, list start time, list, position; every list is then a contiguous run of
    # rows (sorting by row time would interleave a user's overlapping lists). A list is
    # (day, user, session_id): sources may reuse session ids across days or users.
    times = pc.cast(raw.column("event_time"), pa.int64()).to_numpy(zero_copy_only=False)
    key_order = np.lexsort((column("session_id"), column("user_id"), column("day")))
    keys = np.stack([column(c)[key_order] for c in ("day", "user_id", "session_id")])
    starts = np.r_[True, (keys[:, 1:] != keys[:, :-1]).any(0)]
    list_of_row = np.empty(len(key_order), dtype=np.int64)
    list_of_row[key_order] = np.cumsum(starts) - 1
    list_time = np.minimum.reduceat(times[key_order], np.flatnonzero(starts)) if len(times) else times
    order = np.lexsort((column("position"), list_of_row, list_time[list_of_row], column("user_id")))
    raw = raw.take(pa.array(order))
    list_id = list_of_row[order]
    n = raw.num_rows
    col = {name: raw.column(name) for name in raw.column_names}
    ints = column  # the same helper, now on the sorted table

    user_id = ints("user_id")
    session = ints("session_id")
    micros = pc.cast(col["event_time"], pa.int64()).to_numpy(zero_copy_only=False)
    seconds_of_day = (micros // 1_000_000) % 86_400
    day_number = ints("day")
    channel = _channel_codes(col["channel"], cfg.channels)
    C = len(cfg.channels)

    features: dict[str, np.ndarray] = {
        "user": _stable_hash(user_id, d.user_buckets, 1),
        "age": 1 + np.clip(ints("user_age_bucket"), 0, AGE_CODES - 2),
        "gender": 1 + np.clip(ints("user_gender"), 0, GENDER_CODES - 2),
        "region": _stable_hash(ints("user_region"), d.region_buckets, 2),
        "hour": 1 + seconds_of_day // 3600,
        "weekday": 1 + (day_number + 3) % 7,  # 1970-01-01 was a Thursday; 1 = Monday
        "device": _hash_strings(col["device"], d.device_buckets),
        "channel": channel,
        "item": _stable_hash(ints("item_id"), d.item_buckets, 3),
        "position": 1 + np.clip(ints("position"), 0, cfg.list_len - 1),
    }
    tags = col["item_tags"].combine_chunks()
    flat_tags = _hash_strings(pc.list_flatten(tags), d.tag_buckets)
    parents = pc.list_parent_indices(tags).to_numpy(zero_copy_only=False)
    starts = np.r_[0, np.cumsum(np.bincount(parents, minlength=n))[:-1]]
    rank = np.arange(len(parents)) - starts[parents]
    keep = rank < d.max_tags
    tag_matrix = np.zeros((n, d.max_tags), dtype=np.int64)
    tag_matrix[parents[keep], rank[keep]] = flat_tags[keep]
    for k in range(d.max_tags):
        features[f"tag{k}"] = tag_matrix[:, k]

    clicked = ints("clicked").clip(0, 1)
    dwell = pc.fill_null(col["dwell_time_s"], 0.0).to_numpy(zero_copy_only=False).astype(np.float32)

    # User and list boundaries in the sorted stream.
    new_user = np.r_[True, user_id[1:] != user_id[:-1]]
    new_list = new_user | np.r_[True, list_id[1:] != list_id[:-1]]
    user_start = np.maximum.accumulate(np.where(new_user, np.arange(n), 0))
    list_start = np.maximum.accumulate(np.where(new_list, np.arange(n), 0))

    # Cumulative channel features (paper 3.2 (d)): channel mix of the user's previous
    # m impressions (earlier positions of the same list included: they are known
    # when the list is built), and click mix of the user's previous sessions (clicks
    # of the current list are not known yet, so they are never counted).
    m = cfg.active.history_len
    onehot = np.zeros((n, C), dtype=np.float32)
    valid = channel > 0
    onehot[np.flatnonzero(valid), channel[valid] - 1] = 1.0
    recent = _trailing_sum(onehot, user_start, m) / float(m)
    recent_clicks = _session_click_mix(onehot * clicked[:, None], list_start, new_list, user_start, d.recent_sessions)

    split_code = {_day_number(k): v for k, v in split_of_day.items()}
    day_values, day_of_row = np.unique(day_number, return_inverse=True)
    split_rows = np.array([split_code[int(v)] for v in day_values], dtype=np.int64)[day_of_row]

    columns = {name: pa.array(values.astype(np.int32)) for name, values in features.items()}
    for c in range(C):
        columns[f"recent_ch{c}"] = pa.array(recent[:, c])
    for c in range(C):
        columns[f"recent_click_ch{c}"] = pa.array(recent_clicks[:, c])
    columns["clicked"] = pa.array(clicked.astype(np.int8))
    columns["dwell"] = pa.array(dwell)
    columns["session_id"] = pa.array(session)
    columns["day"] = pa.array(day_number.astype(np.int32))
    stream = pa.table(columns)

    # One row per list: where it starts, how long it is, where its user starts.
    starts_idx = np.flatnonzero(new_list)
    lengths = np.diff(np.r_[starts_idx, n])
    lists = {
        "offset": starts_idx.astype(np.int64),
        "length": lengths.astype(np.int32),
        "user_start": user_start[starts_idx].astype(np.int64),
        "split": split_rows[starts_idx].astype(np.int8),
        "day": day_number[starts_idx].astype(np.int32),
    }
    return _Built(
        stream, lists, micros[starts_idx], list_time[list_id[starts_idx]], user_id[starts_idx], session[starts_idx]
    )


def _ints(table: pa.Table, name: str) -> np.ndarray:
    """An integer column as int64 numpy, nulls as 0."""
    return pc.fill_null(table.column(name), 0).to_numpy(zero_copy_only=False).astype(np.int64)


def _trailing_sum(values: np.ndarray, group_start: np.ndarray, window: int) -> np.ndarray:
    """Sum of `values` over the previous `window` rows of the same group (current row excluded)."""
    n = len(values)
    csum = np.vstack([np.zeros((1, values.shape[1]), values.dtype), np.cumsum(values, axis=0, dtype=np.float64)])
    idx = np.arange(n)
    lo = np.maximum(idx - window, group_start)
    return (csum[idx] - csum[lo]).astype(np.float32)


def _session_click_mix(
    clicks: np.ndarray, list_start: np.ndarray, new_list: np.ndarray, user_start: np.ndarray, sessions: int
) -> np.ndarray:
    """Per row: clicks per channel over the user's previous `sessions` lists, as shares of those clicks."""
    starts = np.flatnonzero(new_list)
    per_list = np.add.reduceat(clicks, starts, axis=0) if len(starts) else clicks[:0]
    list_user_start = user_start[starts]
    first_list_of_user = np.searchsorted(starts, list_user_start)
    summed = _trailing_sum(per_list, first_list_of_user, sessions)
    total = summed.sum(1, keepdims=True)
    shares = np.divide(summed, total, out=np.zeros_like(summed), where=total > 0)
    list_of_row = np.searchsorted(starts, list_start)
    return shares[list_of_row]
