"""The frames the suites check, derived from one ingested day with Arrow.

Great Expectations validates pandas frames; a day of impressions is read once
as an Arrow table (compact) and only the frames below are materialised in
pandas, the impressions one in chunks of whole lists when the day is large.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

IMPRESSION_COLUMNS = (
    "ds", "user_id", "session_id", "position", "channel", "item_id", "clicked", "dwell_time_s",
    "user_age_bucket", "user_gender", "user_region", "device",
)  # fmt: skip


@dataclass(frozen=True)
class DayStats:
    """What the trailing comparisons need from a day: volume, per-channel rows and clicks."""

    ds: str
    rows: int
    channel_rows: dict[str, int]
    channel_clicks: dict[str, int]

    def to_json(self) -> dict:
        return {
            "ds": self.ds,
            "rows": self.rows,
            "channel_rows": self.channel_rows,
            "channel_clicks": self.channel_clicks,
        }

    @classmethod
    def from_json(cls, data: dict) -> DayStats:
        return cls(data["ds"], data["rows"], dict(data["channel_rows"]), dict(data["channel_clicks"]))


def impression_chunks(table: pa.Table, ds: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The impressions frame, in chunks of at most ~chunk_rows rows that never split a list.

    `item_tags` becomes `n_tags` and `has_blank_tag`, and `event_time` becomes
    `event_offset_s` (seconds since midnight UTC of ds), so that no Python list
    or timestamp object is created per row.
    """
    chunks = max(1, math.ceil(table.num_rows / chunk_rows))
    bucket = None
    if chunks > 1:
        # Hash of the list id, so each chunk holds whole lists and uniqueness stays exact.
        bucket = pc.fill_null(table.column("session_id"), 0).to_numpy(zero_copy_only=False) % chunks
    for i in range(chunks):
        part = table if bucket is None else table.filter(pa.array(bucket == i))
        yield _impressions_frame(part, ds)


def _impressions_frame(table: pa.Table, ds: str) -> pd.DataFrame:
    midnight = dt.datetime.fromisoformat(ds).replace(tzinfo=dt.UTC)
    micros = pc.cast(table.column("event_time"), pa.int64())
    offset = pc.divide(pc.subtract(pc.cast(micros, pa.float64()), midnight.timestamp() * 1e6), 1e6)
    tags = table.column("item_tags").combine_chunks()
    frame = table.select(list(IMPRESSION_COLUMNS)).to_pandas()
    frame.insert(1, "event_offset_s", offset.to_numpy(zero_copy_only=False))
    frame["n_tags"] = pc.list_value_length(tags).to_pandas()  # float with NaN where tags are null
    frame["has_blank_tag"] = _has_blank_tag(tags)
    return frame


def _has_blank_tag(tags: pa.Array) -> np.ndarray:
    flat = pc.list_flatten(tags)
    blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(flat), ""), True).to_numpy(zero_copy_only=False)
    parents = pc.list_parent_indices(tags).to_numpy(zero_copy_only=False)
    return np.bincount(parents[blank], minlength=len(tags)) > 0


def sessions_frame(table: pa.Table) -> pd.DataFrame:
    """One row per list: how many users, days and impressions it has."""
    grouped = table.group_by("session_id").aggregate(
        [("user_id", "count_distinct"), ("ds", "count_distinct"), ("position", "count")]
    )
    frame = grouped.to_pandas()
    return frame.rename(
        columns={"user_id_count_distinct": "n_users", "ds_count_distinct": "n_days", "position_count": "n_impressions"}
    )


def day_stats(table: pa.Table, ds: str) -> DayStats:
    """Rows, and rows and clicks per channel, of one day."""
    grouped = table.group_by("channel").aggregate([("clicked", "count"), ("clicked", "sum")]).to_pylist()
    rows = {g["channel"]: int(g["clicked_count"]) for g in grouped if g["channel"] is not None}
    clicks = {g["channel"]: int(g["clicked_sum"] or 0) for g in grouped if g["channel"] is not None}
    return DayStats(ds=ds, rows=table.num_rows, channel_rows=rows, channel_clicks=clicks)


def trailing_frames(today: DayStats, history: list[DayStats], channels: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The `day` and `channels` frames: today against the mean of the trailing days."""
    trailing_rows = float(np.mean([h.rows for h in history]))
    day = pd.DataFrame(
        {"rows": [today.rows], "trailing_rows": [trailing_rows], "volume_ratio": [today.rows / trailing_rows]}
    )
    records = []
    for c in channels:
        share = today.channel_rows.get(c, 0) / max(today.rows, 1)
        ctr = _ratio(today.channel_clicks.get(c, 0), today.channel_rows.get(c, 0))
        t_share = float(np.mean([h.channel_rows.get(c, 0) / max(h.rows, 1) for h in history]))
        t_ctrs = [_ratio(h.channel_clicks.get(c, 0), h.channel_rows.get(c, 0)) for h in history]
        t_ctr = float(np.nanmean(t_ctrs)) if not all(math.isnan(x) for x in t_ctrs) else math.nan
        records.append(
            {
                "channel": c,
                "share": share,
                "trailing_share": t_share,
                "share_change": _change(share, t_share),
                "ctr": ctr,
                "trailing_ctr": t_ctr,
                "ctr_change": _change(ctr, t_ctr),
            }
        )
    return day, pd.DataFrame.from_records(records)


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def _change(now: float, before: float) -> float:
    """Relative change; NaN when there is nothing to compare (a channel new or absent in both)."""
    if math.isnan(now) or math.isnan(before) or before == 0:
        return math.nan
    return now / before - 1.0


def propensities_frame(table: pa.Table) -> pd.DataFrame:
    """One row per impression of a day that carries the optional `propensity` column."""
    return table.select(["session_id", "position", "propensity"]).to_pandas()
