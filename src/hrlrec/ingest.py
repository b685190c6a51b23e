"""Ingest one day of impression logs from the landing zone into `data/raw/ds=D/`.

Ingestion owns the *structure* of a day: the partition is complete (`_SUCCESS`),
every file is readable Parquet, every contract column exists with the contract's
type or one that casts losslessly (see `hrlrec.contract`), and `ds` equals the
partition. Content rules are validation's job.

The day is streamed record batch by record batch, so memory stays bounded by
the batch size whatever the day's size, and written to a temporary folder that
replaces `data/raw/ds=D/` only when the whole day passed. Re-running a day
rewrites the same content; it never appends.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hrlrec import atomic, contract
from hrlrec.errors import ContractError
from hrlrec.layout import RAW_MANIFEST, SUCCESS
from hrlrec.workspace import Workspace

log = logging.getLogger(__name__)

BATCH_ROWS = 65_536  # rows held in memory at once while streaming
ROWS_PER_FILE = 1_000_000  # rows per output Parquet file
EXAMPLES = 3  # example rows quoted in an error


@dataclass(frozen=True)
class IngestResult:
    """What landed in `data/raw/ds=D/`."""

    ds: str
    rows: int
    files_in: int
    files_out: int
    out_dir: Path
    rows_per_channel: dict[str, int]
    ignored_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0
    backfilled: list[IngestResult] = field(default_factory=list)  # window days ingested first


def landing_files(day_dir: Path) -> list[Path]:
    """The day's data files in a stable order: visible `*.parquet` files, recursively."""
    files = [
        p
        for p in day_dir.rglob("*.parquet")
        if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(day_dir).parts)
    ]
    return sorted(files)


def run(ws: Workspace, ds: str, backfill: bool = True, landing: Path | None = None) -> IngestResult:
    """Ingest day `ds` from the landing zone (or the drop zone `landing`) into data/raw.

    With `backfill` (the default everywhere: CLI, DVC, Airflow) the days of
    D's training window that data/raw lacks are ingested first, when they have
    landed; a quarantined day stays in quarantine, and a window day that breaks
    the contract is logged and skipped (the dataset step will name it). Ingest
    never simulates: `hrlrec land` does.
    """
    done = backfill_window(ws, ds, landing) if backfill else []
    result = ingest_day(ws, ds, landing)
    return IngestResult(**{**result.__dict__, "backfilled": done})


def backfill_window(ws: Workspace, ds: str, landing: Path | None = None) -> list[IngestResult]:
    """Ingest each window day of `ds` not yet in data/raw (quarantined days stay out)."""
    done = []
    for day in ws.window(ds).days:
        if (ws.layout.raw_day(day) / SUCCESS).is_file():
            continue
        if ws.layout.quarantine_day(day).is_dir():
            log.warning("backfill: %s is in quarantine; not re-ingested", day)
            continue
        try:
            done.append(ingest_day(ws, day, landing))
        except ContractError as exc:
            log.warning("backfill: %s not ingested: %s", day, exc)
    return done


def ingest_day(ws: Workspace, ds: str, landing: Path | None = None) -> IngestResult:
    """Check and copy day `ds` from `landing/ds=ds/` to `data/raw/ds=ds/` atomically.

    Raises ContractError, naming file, column and example rows, for any
    structural problem; in that case nothing under data/raw changes.
    """
    t0 = time.perf_counter()
    src = ws.layout.landing_day(ds, landing)
    if not src.is_dir():
        raise ContractError(f"{src}: landing partition for {ds} does not exist")
    if not (src / SUCCESS).is_file():
        raise ContractError(f"{src}: no {SUCCESS} marker; the day is not complete (or still being written)")
    files = landing_files(src)
    if not files:
        raise ContractError(f"{src}: no Parquet files in the partition; an empty day is not ingested")
    readers = [_open(f) for f in files]
    optional = _optional_columns(files, readers)
    known = set(contract.COLUMNS) | set(optional)
    ignored = sorted({name for r in readers for name in r.schema_arrow.names} - known)
    for f, r in zip(files, readers, strict=True):
        _check_schema(f, r, optional)
    total = sum(r.metadata.num_rows for r in readers)
    if total == 0:
        raise ContractError(f"{src}: {len(files)} file(s) but no rows; an empty day is not ingested")

    dest = ws.layout.raw_day(ds)
    channels: Counter[str] = Counter()
    schema = contract.schema_with(optional)
    with atomic.atomic_dir(dest) as tmp:
        writer = _RollingWriter(tmp, schema)
        try:
            for f, r in zip(files, readers, strict=True):
                row0 = 0
                for batch in _batches(f, r, schema.names):
                    table = _conform(f, row0, pa.Table.from_batches([batch]), ds, schema)
                    channels.update(_count(table.column("channel")))
                    writer.write(table)
                    row0 += batch.num_rows
        finally:
            writer.close()
        manifest = {
            "ds": ds,
            "rows": total,
            "source": str(src),
            "source_files": [str(f.relative_to(src)) for f in files],
            "rows_per_channel": dict(sorted(channels.items())),
            "ignored_columns": ignored,
            "optional_columns": list(optional),
        }
        (tmp / RAW_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        (tmp / SUCCESS).touch()
    seconds = time.perf_counter() - t0
    log.info("ingested %s: %d rows from %d file(s) in %.1fs", ds, total, len(files), seconds)
    if ignored:
        log.info("ignored extra columns: %s", ", ".join(ignored))
    return IngestResult(
        ds=ds,
        rows=total,
        files_in=len(files),
        files_out=writer.files,
        out_dir=dest,
        rows_per_channel=dict(sorted(channels.items())),
        ignored_columns=ignored,
        seconds=seconds,
    )


def _open(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise ContractError(f"{path}: not a readable Parquet file (truncated or corrupt?): {exc}") from None


def _optional_columns(files: list[Path], readers: list[pq.ParquetFile]) -> tuple[str, ...]:
    """The optional contract columns the day carries: in every file, or refused when only in some."""
    present = []
    for name in contract.OPTIONAL_COLUMNS:
        has = [name in r.schema_arrow.names for r in readers]
        if all(has):
            present.append(name)
        elif any(has):
            without = [str(f) for f, h in zip(files, has, strict=True) if not h]
            raise ContractError(
                f"optional column {name!r} is in {sum(has)} of {len(files)} files of the day but not in "
                f"{', '.join(without[:3])}{' ...' if len(without) > 3 else ''}; a day carries it everywhere or nowhere"
            )
    return tuple(present)


def _batches(path: Path, reader: pq.ParquetFile, columns: list[str]) -> Iterator[pa.RecordBatch]:
    """Stream the contract columns; a page that fails to decode names its file."""
    batches = reader.iter_batches(batch_size=BATCH_ROWS, columns=columns)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as exc:
            raise ContractError(f"{path}: Parquet data cannot be decoded (corrupt file?): {exc}") from None
        yield batch


def _check_schema(path: Path, reader: pq.ParquetFile, optional: tuple[str, ...] = ()) -> None:
    """Reject missing columns and impossible types, all of them in one message."""
    schema = reader.schema_arrow
    problems = []
    missing = [c for c in contract.COLUMNS if c not in schema.names]
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    for name in (*contract.COLUMNS, *optional):
        if name not in schema.names:
            continue
        source = schema.field(name).type
        why = contract.cast_refusal(name, source)
        if why is not None:
            target = contract.field_type(name)
            examples = _examples(reader, name)
            problems.append(f"column {name!r} has type {source}, contract needs {target} ({why}); {examples}")
    if problems:
        raise ContractError(f"{path}: breaks the impression contract:\n  " + "\n  ".join(problems))


def _examples(reader: pq.ParquetFile, name: str) -> str:
    if reader.metadata.num_row_groups == 0:
        return "the file has no rows"
    try:
        values = reader.read_row_group(0, columns=[name]).column(0).slice(0, EXAMPLES).to_pylist()
    except (pa.ArrowException, OSError):
        return "example rows unreadable"
    return "example rows: " + ", ".join(f"row {i}: {contract.preview(v)}" for i, v in enumerate(values))


def _conform(path: Path, row0: int, table: pa.Table, ds: str, schema: pa.Schema = contract.SCHEMA) -> pa.Table:
    """Cast a batch to the contract (`schema`: with the day's optional columns) and check `ds`."""
    columns = []
    for name in schema.names:
        try:
            columns.append(contract.conform_column(name, table.column(name)))
        except contract.CastFailure as exc:
            rows = exc.rows[:EXAMPLES]
            values = table.column(name).take(rows).to_pylist()
            shown = ", ".join(f"row {row0 + r}: {contract.preview(v)}" for r, v in zip(rows, values, strict=True))
            raise ContractError(
                f"{path}: column {name!r}: {len(exc.rows)} value(s) cannot be cast without loss "
                f"({exc.why}); examples {shown}"
            ) from None
        except pa.ArrowException as exc:
            raise ContractError(f"{path}: column {name!r} cannot be cast to the contract type: {exc}") from None
    out = pa.Table.from_arrays(columns, schema=schema)
    _check_text_lengths(path, row0, out)
    wrong = pc.fill_null(pc.not_equal(out.column("ds"), pa.scalar(ds)), True)
    if pc.any(wrong).as_py():
        idx = pc.indices_nonzero(wrong)
        rows = idx.slice(0, EXAMPLES).to_pylist()
        values = out.column("ds").take(rows).to_pylist()
        shown = ", ".join(f"row {row0 + r}: {contract.preview(v)}" for r, v in zip(rows, values, strict=True))
        raise ContractError(
            f"{path}: column 'ds' disagrees with the partition ds={ds} in {len(idx)} row(s) "
            f"of this batch; examples {shown}"
        )
    return out


def _check_text_lengths(path: Path, row0: int, table: pa.Table) -> None:
    """Refuse text values longer than contract.MAX_TEXT_BYTES, naming the column and rows."""
    for name in contract.TEXT_COLUMNS:
        column = table.column(name)
        if pa.types.is_list(column.type):  # item_tags: a row is too long when any of its tags is
            flat_len = pc.binary_length(pc.list_flatten(column))
            if not len(flat_len) or (pc.max(flat_len).as_py() or 0) <= contract.MAX_TEXT_BYTES:
                continue
            parent = pc.list_parent_indices(column)
            too_long = pc.unique(pc.filter(parent, pc.greater(flat_len, contract.MAX_TEXT_BYTES)))
        else:
            lengths = pc.fill_null(pc.binary_length(column), 0)
            if (pc.max(lengths).as_py() or 0) <= contract.MAX_TEXT_BYTES:
                continue
            too_long = pc.indices_nonzero(pc.greater(lengths, contract.MAX_TEXT_BYTES))
        rows = too_long.slice(0, EXAMPLES).to_pylist()
        values = column.take(rows).to_pylist()
        shown = ", ".join(f"row {row0 + r}: {contract.preview(v)}" for r, v in zip(rows, values, strict=True))
        raise ContractError(
            f"{path}: column {name!r}: {len(too_long)} value(s) longer than {contract.MAX_TEXT_BYTES} bytes, "
            f"which no log holds; examples {shown}"
        )


def _count(values: pa.ChunkedArray) -> dict[str, int]:
    counts = pc.value_counts(values)
    # A null channel is a content problem for validation to report; counted under "(null)" here.
    return {str(v["values"].as_py()) if v["values"].is_valid else "(null)": v["counts"].as_py() for v in counts}


class _RollingWriter:
    """Write a stream of tables as part-NNNNN.parquet files of bounded size."""

    def __init__(self, folder: Path, schema: pa.Schema = contract.SCHEMA) -> None:
        self.folder = folder
        self.schema = schema
        self.files = 0
        self._rows = 0
        self._writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        while table.num_rows:
            if self._writer is None:
                path = self.folder / f"part-{self.files:05d}.parquet"
                self._writer = pq.ParquetWriter(path, self.schema, compression="zstd")
                self.files += 1
                self._rows = 0
            take = min(table.num_rows, ROWS_PER_FILE - self._rows)
            self._writer.write_table(table.slice(0, take), row_group_size=BATCH_ROWS * 2)
            self._rows += take
            table = table.slice(take)
            if self._rows >= ROWS_PER_FILE:
                self.close()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
