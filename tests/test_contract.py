from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from hrlrec import contract


@pytest.mark.parametrize(
    ("column", "source"),
    [
        ("position", pa.int64()),
        ("user_id", pa.int32()),
        ("user_id", pa.uint32()),
        ("clicked", pa.bool_()),
        ("clicked", pa.int64()),
        ("dwell_time_s", pa.float64()),
        ("dwell_time_s", pa.int32()),
        ("channel", pa.large_string()),
        ("channel", pa.dictionary(pa.int32(), pa.string())),
        ("ds", pa.date32()),
        ("event_time", pa.timestamp("ns", tz="UTC")),
        ("event_time", pa.timestamp("ms", tz="Europe/Paris")),
        ("item_tags", pa.large_list(pa.large_string())),
    ],
)
def test_lossless_casts_are_allowed(column: str, source: pa.DataType) -> None:
    assert contract.cast_refusal(column, source) is None


@pytest.mark.parametrize(
    ("column", "source", "why"),
    [
        ("user_id", pa.string(), "no lossless cast"),
        ("user_id", pa.float64(), "no lossless cast"),
        ("channel", pa.int32(), "no lossless cast"),
        ("item_tags", pa.string(), "no lossless cast"),
        ("item_tags", pa.list_(pa.int64()), "no lossless cast"),
        ("event_time", pa.timestamp("us"), "no time zone"),
        ("event_time", pa.string(), "no lossless cast"),
        ("clicked", pa.float32(), "no lossless cast"),
    ],
)
def test_lossy_or_ambiguous_casts_are_refused(column: str, source: pa.DataType, why: str) -> None:
    refusal = contract.cast_refusal(column, source)
    assert refusal is not None and why in refusal


def test_integer_overflow_names_the_rows() -> None:
    values = pa.array([1, 2, 40_000, 3, -40_000], pa.int64())
    with pytest.raises(contract.CastFailure) as err:
        contract.conform_column("position", values)
    assert err.value.rows == [2, 4]


def test_integer_that_fits_is_narrowed() -> None:
    out = contract.conform_column("position", pa.array([0, 9, None], pa.int64()))
    assert out.type == pa.int16() and out.to_pylist() == [0, 9, None]


def test_timestamp_keeps_the_instant_and_lands_in_utc() -> None:
    paris = pa.array([dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)], pa.timestamp("ns", tz="UTC"))
    paris = paris.cast(pa.timestamp("ns", tz="Europe/Paris"))
    out = contract.conform_column("event_time", paris)
    assert out.type == contract.TIMESTAMP
    assert out[0].as_py() == dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)


def test_date_partition_column_becomes_text() -> None:
    out = contract.conform_column("ds", pa.array([dt.date(2026, 11, 2)], pa.date32()))
    assert out.to_pylist() == ["2026-11-02"]


def test_dictionary_and_large_list_become_plain() -> None:
    channel = pa.array(["news", "news"]).dictionary_encode()
    assert contract.conform_column("channel", channel).type == pa.string()
    tags = pa.array([["a", "b"], ["c"]], pa.large_list(pa.large_string()))
    out = contract.conform_column("item_tags", tags)
    assert out.type == pa.list_(pa.string()) and out.to_pylist() == [["a", "b"], ["c"]]


def test_schema_has_the_designed_columns_and_types() -> None:
    assert contract.COLUMNS == (
        "ds",
        "event_time",
        "user_id",
        "session_id",
        "position",
        "channel",
        "item_id",
        "item_tags",
        "clicked",
        "dwell_time_s",
        "user_age_bucket",
        "user_gender",
        "user_region",
        "device",
    )
    assert contract.SCHEMA.field("position").type == pa.int16()
    assert contract.SCHEMA.field("user_region").type == pa.int32()
    assert contract.SCHEMA.field("event_time").type == pa.timestamp("us", tz="UTC")
