"""The impression-log data contract: its Arrow schema and the casts ingestion may apply.

Ingestion owns *structure*: the columns exist, their types are the contract's or
can be converted without losing meaning, and `ds` matches its partition. Content
rules (value sets, nulls, uniqueness, click/dwell consistency) belong to the
Great Expectations suites in `data_checks/`.

A source column is accepted when its type is the contract's, or when the cast is
one of these lossless conversions:

- integer -> integer of another width, checked row by row (an overflowing value
  is rejected with its row, never wrapped); bool -> int8 for `clicked`;
- integer or float -> float32 for `dwell_time_s` (seconds; float32 keeps
  millisecond precision for days of dwell); float -> float32 for the optional
  `propensity` (7 significant digits are ample for a probability);
- large_string, string_view or dictionary<string> -> string; date32 -> string
  for `ds`;
- a timezone-aware timestamp of any unit -> timestamp[us, UTC] (sub-microsecond
  digits are dropped). A timestamp without a time zone is rejected: guessing the
  zone of a log is how a day silently shifts;
- list / large_list of any string type -> list<string> for `item_tags`.

Anything else is refused with the column, both types and example rows.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

TIMESTAMP = pa.timestamp("us", tz="UTC")

SCHEMA = pa.schema(
    [
        pa.field("ds", pa.string()),
        pa.field("event_time", TIMESTAMP),
        pa.field("user_id", pa.int64()),
        pa.field("session_id", pa.int64()),
        pa.field("position", pa.int16()),
        pa.field("channel", pa.string()),
        pa.field("item_id", pa.int64()),
        pa.field("item_tags", pa.list_(pa.string())),
        pa.field("clicked", pa.int8()),
        pa.field("dwell_time_s", pa.float32()),
        pa.field("user_age_bucket", pa.int8()),
        pa.field("user_gender", pa.int8()),
        pa.field("user_region", pa.int32()),
        pa.field("device", pa.string()),
    ]
)

COLUMNS: tuple[str, ...] = tuple(SCHEMA.names)

# Optional columns: a day may carry them (every file of the day, or none). `propensity` is the
# logging policy's probability of the logged item at its position given the items before it
# (a sequential choice probability, in (0, 1]): what off-policy evaluation weighs logged clicks by.
OPTIONAL = pa.schema([pa.field("propensity", pa.float32())])
OPTIONAL_COLUMNS: tuple[str, ...] = tuple(OPTIONAL.names)


def schema_with(optional: list[str] | tuple[str, ...]) -> pa.Schema:
    """The contract schema plus the optional columns named (in OPTIONAL's order)."""
    unknown = set(optional) - set(OPTIONAL_COLUMNS)
    if unknown:
        raise ValueError(f"not optional contract columns: {', '.join(sorted(unknown))}")
    return pa.schema([*SCHEMA, *(f for f in OPTIONAL if f.name in optional)])


def field_type(name: str) -> pa.DataType:
    """The contract type of `name`, a required or an optional column."""
    return (SCHEMA if name in COLUMNS else OPTIONAL).field(name).type


# No text value of a real log is longer (channel and device names, tags, ds): a longer one is a
# broken or hostile source, and would flow into every message, JSON file and chart downstream.
MAX_TEXT_BYTES = 256
TEXT_COLUMNS = ("ds", "channel", "device", "item_tags")
PREVIEW_CHARS = 60  # a value shown in an error message is cut to this many characters


def cut(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, saying how long it really was (never equal to a valid value).

    The one bound on text that reaches a message, a result, a mail or a page.
    """
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def preview(value: object) -> str:
    """repr(value) cut to PREVIEW_CHARS characters, saying how long it really was."""
    return cut(repr(value), PREVIEW_CHARS)


def _is_stringish(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return _is_stringish(t.value_type)
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def cast_refusal(name: str, source: pa.DataType) -> str | None:
    """Why `source` cannot become the contract type of column `name`, or None when it can."""
    target = field_type(name)
    if source.equals(target):
        return None
    if pa.types.is_integer(target):
        if pa.types.is_integer(source):
            return None
        if name == "clicked" and pa.types.is_boolean(source):
            return None
    elif pa.types.is_floating(target):
        if pa.types.is_floating(source):
            return None
        if pa.types.is_integer(source) and name != "propensity":  # a probability is never an integer column
            return None
    elif pa.types.is_string(target):
        if _is_stringish(source):
            return None
        if name == "ds" and pa.types.is_date32(source):
            return None
    elif pa.types.is_timestamp(target):
        if pa.types.is_timestamp(source):
            if source.tz is None:
                return "timestamp has no time zone; the contract needs UTC (write it tz-aware)"
            return None
    elif pa.types.is_list(target):
        is_list = pa.types.is_list(source) or pa.types.is_large_list(source)
        return None if is_list and _is_stringish(source.value_type) else "no lossless cast"
    return "no lossless cast"


def conform_column(name: str, values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Cast `values` to the contract type of `name`.

    Raises `CastFailure` with the offending row offsets when a value does not fit
    (integer overflow); the caller adds file and row context.
    """
    target = field_type(name)
    source = values.type
    if source.equals(target):
        return values
    if pa.types.is_integer(target) and pa.types.is_integer(source):
        # Bounds of the target, clamped into the source's own range and typed like it,
        # so that the comparison itself can never overflow (uint64 vs int64, ...).
        lo_t, hi_t = _int_bounds(target)
        lo_s, hi_s = _int_bounds(source)
        lo = pa.scalar(max(lo_t, lo_s), type=source)
        hi = pa.scalar(min(hi_t, hi_s), type=source)
        too_big = pc.or_kleene(pc.less(values, lo), pc.greater(values, hi))
        if pc.any(too_big).as_py():
            rows = pc.indices_nonzero(pc.fill_null(too_big, False)).to_pylist()
            raise CastFailure(name, f"values outside the {target} range", rows)
        return pc.cast(values, target, safe=True)
    if pa.types.is_timestamp(target):
        # Drop sub-microsecond digits; the zone is converted, the instant kept.
        return pc.cast(values, target, safe=False)
    if name == "ds" and pa.types.is_date32(source):
        return pc.strftime(pc.cast(values, pa.timestamp("s")), format="%Y-%m-%d")
    if pa.types.is_dictionary(source):
        values = pc.cast(values, source.value_type)
    if pa.types.is_list(target):
        inner = values.type.value_type
        if pa.types.is_dictionary(inner):
            values = pc.cast(values, pa.list_(inner.value_type))
    return pc.cast(values, target, safe=not pa.types.is_floating(target))


def _int_bounds(t: pa.DataType) -> tuple[int, int]:
    bits = t.bit_width
    if pa.types.is_unsigned_integer(t):
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


class CastFailure(Exception):
    """A value that does not fit the contract type; carries the offending row offsets."""

    def __init__(self, column: str, why: str, rows: list[int]) -> None:
        super().__init__(f"{column}: {why}")
        self.column = column
        self.why = why
        self.rows = rows
