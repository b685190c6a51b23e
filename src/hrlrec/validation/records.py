"""Validation records: what every later step asks before it reads a day.

    data/validation/ds=D/result.json    the verdict, failed checks, fingerprint of the data checked
    data/validation/ds=D/summary.json   the day's volumes and CTRs (passing days): later days' history

`require_validated` is the gate every reader of raw days goes through: it
refuses a quarantined, never-validated, or since re-ingested day and says why.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from hrlrec import atomic, results
from hrlrec.errors import BadInput, Rejected
from hrlrec.layout import SUCCESS, VALIDATION_RESULT, VALIDATION_SUMMARY, days_before
from hrlrec.validation import frames
from hrlrec.validation.result import PASSED, QUARANTINED, RELEASED, ValidationResult
from hrlrec.workspace import Workspace


def record(ws: Workspace, ds: str) -> dict[str, Any] | None:
    """The validation record of day `ds` (result.json), or None when it was never validated."""
    return read_json(ws.layout.validation_result(ds))


def require_validated(ws: Workspace, ds: str) -> Path:
    """The raw folder of day `ds` if it passed validation (or was released); otherwise say why.

    Every step that reads raw days calls this first. Raises Rejected for a
    quarantined day, BadInput for a day never validated or changed since.
    """
    found = record(ws, ds)
    raw_day = ws.layout.raw_day(ds)
    if found is None:
        raise BadInput(f"ds={ds} was never validated; run `hrlrec validate --ds {ds}` before using it")
    if found.get("state") == QUARANTINED:
        raise Rejected(
            f"ds={ds} is quarantined ({found.get('reason')}); see {found.get('data_docs')}. "
            f"Release it deliberately with `hrlrec validate --ds {ds} --accept --reason ...`"
        )
    if not (raw_day / SUCCESS).is_file() or fingerprint(raw_day) != found.get("raw_fingerprint"):
        raise BadInput(f"ds={ds} changed since it was validated (re-ingested?); run `hrlrec validate --ds {ds}` again")
    return raw_day


def is_current(ws: Workspace, ds: str) -> bool:
    """Whether day `ds` has a validation record for exactly the data now in data/raw."""
    found = record(ws, ds)
    raw_day = ws.layout.raw_day(ds)
    return bool(found) and (raw_day / SUCCESS).is_file() and found.get("raw_fingerprint") == fingerprint(raw_day)


def fingerprint(day_dir: Path) -> str:
    """A content hash of an ingested day's data files, to notice a re-ingest after validation."""
    digest = hashlib.sha256()
    for f in sorted(day_dir.glob("*.parquet")):
        digest.update(f.name.encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def history(ws: Workspace, ds: str, days: int) -> list[frames.DayStats]:
    """Stats of the validated (passed or released) days among the `days` days before `ds`."""
    out = []
    for day in days_before(ds, days):
        found = read_json(ws.layout.validation_result(day))
        summary = read_json(ws.layout.validation_summary(day))
        if found and summary and found.get("state") in (PASSED, RELEASED):
            out.append(frames.DayStats.from_json(summary))
    return out


def write(ws: Workspace, result: ValidationResult, stats: frames.DayStats | None) -> None:
    """The day's record (and summary, for a passing day), and its copy in metrics/validate.json."""
    body = json.dumps(result.to_json(), indent=2) + "\n"
    with atomic.atomic_dir(ws.layout.validation_day(result.ds)) as tmp:
        (tmp / VALIDATION_RESULT).write_text(body)
        if stats is not None:
            (tmp / VALIDATION_SUMMARY).write_text(json.dumps(stats.to_json(), indent=2) + "\n")
    results.write(ws.layout, "validate", result.ds, body)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}: not valid JSON ({exc}); the validation record is damaged") from None
