"""The quarantine lifecycle: a failing day is set aside whole, and only a person puts it back.

    data/quarantine/ds=D/   the day's data, untouched, with _validation.json (why) beside it
    data/validation/releases.jsonl   every release: who, when, why, which checks had failed

Nothing is deleted: a day quarantined twice keeps its earlier copy under a
`.superseded-<time>` name.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import os

import pyarrow.parquet as pq

from hrlrec import atomic
from hrlrec.errors import BadInput
from hrlrec.layout import QUARANTINE_RESULT
from hrlrec.validation import frames
from hrlrec.validation.gx_run import Outcome
from hrlrec.validation.records import fingerprint, read_json, write
from hrlrec.validation.result import QUARANTINED, RELEASED, ValidationResult
from hrlrec.workspace import Workspace

log = logging.getLogger(__name__)


def quarantine(ws: Workspace, ds: str, result: ValidationResult) -> None:
    """Move the raw day to quarantine with its result beside the data; nothing is deleted."""
    src, dest = ws.layout.raw_day(ds), ws.layout.quarantine_day(ds)
    if dest.exists():
        # An earlier quarantined copy of the same day is kept, renamed by when it was set aside.
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        os.rename(dest, dest.with_name(f"{dest.name}.superseded-{stamp}"))
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(src / QUARANTINE_RESULT, json.dumps(result.to_json(), indent=2) + "\n")
    os.rename(src, dest)
    log.warning("ds=%s failed validation and was moved to %s", ds, dest)


def release(ws: Workspace, ds: str, reason: str, by: str | None = None) -> ValidationResult:
    """Put a quarantined day back into the raw data on purpose, recording who and why.

    The day's verdict becomes WARN (usable, with a recorded caveat); the release
    is appended to data/validation/releases.jsonl as well.
    """
    if not reason.strip():
        raise BadInput("a release needs a reason (--reason '...'): it is recorded for the next on-call engineer")
    src, dest = ws.layout.quarantine_day(ds), ws.layout.raw_day(ds)
    record = read_json(ws.layout.validation_result(ds))
    if not src.is_dir() or record is None or record.get("state") != QUARANTINED:
        raise BadInput(f"ds={ds} is not in quarantine ({src}); nothing to release")
    if dest.exists():
        raise BadInput(f"{dest} exists (re-ingested after the quarantine?); validate that copy instead of releasing")
    who = by or os.environ.get("HRLREC_USER") or getpass.getuser()
    when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    os.rename(src, dest)
    (dest / QUARANTINE_RESULT).unlink(missing_ok=True)
    details = {"by": who, "at": when, "reason": reason.strip(), "failed_checks": [f["check"] for f in record["failed"]]}
    table = pq.read_table(dest, columns=["channel", "clicked"])  # all that the day's stats read
    result = ValidationResult(
        ds=ds,
        verdict="WARN",
        state=RELEASED,
        reason=f"released from quarantine by {who}: {reason.strip()} (failed: {', '.join(details['failed_checks'])})",
        rows=table.num_rows,
        evaluated=record["checks"]["evaluated"],
        failed=[Outcome(**f) for f in record["failed"]],
        skipped=record.get("skipped", []),
        history=record.get("history_days", []),
        data_docs=record.get("data_docs"),
        raw_fingerprint=fingerprint(dest),
        release=details,
    )
    write(ws, result, frames.day_stats(table, ds))
    ws.layout.releases.parent.mkdir(parents=True, exist_ok=True)
    with open(ws.layout.releases, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"ds": ds, **details}) + "\n")
    log.warning("ds=%s released from quarantine by %s: %s", ds, who, reason)
    return result
