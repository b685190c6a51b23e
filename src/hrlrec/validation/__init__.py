"""The validate step: Great Expectations suites on one ingested day; pass, or quarantine.

`run` checks `data/raw/ds=D/` against the suites in data_checks/ and writes

- `data/validation/ds=D/result.json`: the verdict, every failed expectation
  with its observed value and threshold, and what was skipped and why;
- `data/validation/ds=D/summary.json` (passing days only): the day's volume and
  per-channel rows and clicks, the history later days compare against;
- `metrics/validate.json`: a copy of the result, for DVC and Airflow;
- `reports/data_docs/ds=D/`: the day's Data Docs.

A failing day moves to `data/quarantine/ds=D/` with its result beside the
data; nothing is deleted. `release` puts a quarantined day back deliberately,
with a recorded reason. `require_validated` is what every later step calls
before it reads a day.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hrlrec import atomic, results
from hrlrec.config import Config
from hrlrec.errors import BadInput, Rejected
from hrlrec.simulator import SUCCESS, partition
from hrlrec.validation import frames, suites
from hrlrec.validation.gx_run import GxRunner, Outcome

log = logging.getLogger(__name__)

RESULT = "result.json"
SUMMARY = "summary.json"
QUARANTINE_RESULT = "_validation.json"
RELEASES = "releases.jsonl"

PASSED, QUARANTINED, RELEASED = "passed", "quarantined", "released"


@dataclass(frozen=True)
class Paths:
    """Where validation reads and writes, for one workspace."""

    raw: Path
    quarantine: Path
    validation: Path
    data_docs: Path
    metrics: Path

    @classmethod
    def of(cls, root: Path, cfg: Config) -> Paths:
        p = cfg.paths
        return cls(
            raw=root / p.raw,
            quarantine=root / p.quarantine,
            validation=root / p.validation,
            data_docs=root / p.data_docs,
            metrics=root / p.metrics,
        )

    def record(self, ds: str) -> Path:
        return partition(self.validation, ds)


@dataclass
class ValidationResult:
    """The outcome of validating one day."""

    ds: str
    verdict: str  # PASS, WARN (released by a person) or FAIL
    state: str  # passed, quarantined or released
    reason: str
    rows: int
    evaluated: int
    failed: list[Outcome] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    history: list[str] = field(default_factory=list)
    data_docs: str | None = None
    raw_fingerprint: str = ""
    seconds: float = 0.0
    release: dict[str, Any] | None = None

    @property
    def passed(self) -> bool:
        return self.verdict != "FAIL"

    def to_json(self) -> dict[str, Any]:
        return {
            "ds": self.ds,
            "verdict": self.verdict,
            "state": self.state,
            "reason": self.reason,
            "rows": self.rows,
            "checks": {"evaluated": self.evaluated, "failed": len(self.failed), "skipped": len(self.skipped)},
            "failed": [o.to_json() for o in self.failed],
            "skipped": self.skipped,
            "history_days": self.history,
            "data_docs": self.data_docs,
            "raw_fingerprint": self.raw_fingerprint,
            "seconds": round(self.seconds, 2),
            "release": self.release,
            "validated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }


def run(cfg: Config, ds: str, root: Path) -> ValidationResult:
    """Validate day `ds` of the workspace at `root`; quarantine it when a check fails.

    Raises BadInput when the day was never ingested (or is already quarantined:
    release it or re-ingest it), never for a failed check: a failed check is a
    FAIL verdict in the returned result, with the day moved to quarantine.
    """
    t0 = time.perf_counter()
    paths = Paths.of(root, cfg)
    raw_day = partition(paths.raw, ds)
    if not (raw_day / SUCCESS).is_file():
        if partition(paths.quarantine, ds).is_dir():
            raise BadInput(
                f"ds={ds} is in quarantine, not in {paths.raw}: release it with "
                f"`hrlrec validate --ds {ds} --accept --reason ...`, or re-ingest a corrected day"
            )
        raise BadInput(f"{raw_day}: day {ds} has not been ingested; run `hrlrec ingest --ds {ds}` first")
    try:
        table = pq.read_table(raw_day)
    except Exception as exc:
        raise BadInput(f"{raw_day}: cannot read the ingested day: {exc}") from None

    suite_list = suites.load(suites.suites_dir(cfg, root), suites.parameters(cfg, ds))
    today = frames.day_stats(table, ds)
    history = _history(paths, ds, cfg.validation.trailing_days)
    outcomes: dict[tuple[str, str], Outcome] = {}
    skipped: list[dict[str, str]] = []
    docs_final = partition(paths.data_docs, ds)
    with atomic.atomic_dir(docs_final) as docs_tmp:
        runner = GxRunner(suite_list, docs_tmp)
        for suite in suite_list:
            if suite.trailing and len(history) < cfg.validation.min_history_days:
                skipped.append(
                    {
                        "suite": suite.name,
                        "reason": f"only {len(history)} validated day(s) in the {cfg.validation.trailing_days} "
                        f"days before {ds}; trailing comparisons need {cfg.validation.min_history_days}",
                    }
                )
                continue
            for frame in _frames(suite.frame, table, ds, today, history, cfg):
                for outcome in runner.validate(suite, frame):
                    key = (outcome.suite, outcome.check)
                    if key in outcomes:
                        outcomes[key].merge(outcome)
                    else:
                        outcomes[key] = outcome
    for s in skipped:
        log.warning("skipped suite %s: %s", s["suite"], s["reason"])

    failed = [o for o in outcomes.values() if not o.success]
    result = ValidationResult(
        ds=ds,
        verdict="FAIL" if failed else "PASS",
        state=QUARANTINED if failed else PASSED,
        reason=_reason(failed, len(outcomes)),
        rows=table.num_rows,
        evaluated=len(outcomes),
        failed=failed,
        skipped=skipped,
        history=[h.ds for h in history],
        data_docs=str((docs_final / "index.html").relative_to(root)),
        raw_fingerprint=fingerprint(raw_day),
        seconds=time.perf_counter() - t0,
    )
    _write_record(paths, result, today if not failed else None)
    if failed:
        _quarantine(paths, ds, result)
    return result


def _frames(
    kind: str, table: pa.Table, ds: str, today: frames.DayStats, history: list[frames.DayStats], cfg: Config
) -> Iterator[pd.DataFrame]:
    if kind == "impressions":
        yield from frames.impression_chunks(table, ds, cfg.validation.chunk_rows)
    elif kind == "sessions":
        yield frames.sessions_frame(table)
    else:
        day, channels = frames.trailing_frames(today, history, list(cfg.channels))
        yield day if kind == "day" else channels


def _reason(failed: list[Outcome], evaluated: int) -> str:
    if not failed:
        return f"all {evaluated} checks passed"
    names = ", ".join(o.check for o in failed[:6]) + (", ..." if len(failed) > 6 else "")
    return f"{len(failed)} of {evaluated} checks failed: {names}"


def _history(paths: Paths, ds: str, days: int) -> list[frames.DayStats]:
    """Stats of the validated (passed or released) days among the `days` days before `ds`."""
    first = dt.date.fromisoformat(ds)
    out = []
    for k in range(days, 0, -1):
        day = (first - dt.timedelta(days=k)).isoformat()
        record = _read_json(paths.record(day) / RESULT)
        summary = _read_json(paths.record(day) / SUMMARY)
        if record and summary and record.get("state") in (PASSED, RELEASED):
            out.append(frames.DayStats.from_json(summary))
    return out


def _write_record(paths: Paths, result: ValidationResult, stats: frames.DayStats | None) -> None:
    body = json.dumps(result.to_json(), indent=2) + "\n"
    with atomic.atomic_dir(paths.record(result.ds)) as tmp:
        (tmp / RESULT).write_text(body)
        if stats is not None:
            (tmp / SUMMARY).write_text(json.dumps(stats.to_json(), indent=2) + "\n")
    results.write(paths.metrics, "validate", result.ds, body)


def _quarantine(paths: Paths, ds: str, result: ValidationResult) -> None:
    """Move the raw day to quarantine with its result beside the data; nothing is deleted."""
    src = partition(paths.raw, ds)
    dest = partition(paths.quarantine, ds)
    if dest.exists():
        # An earlier quarantined copy of the same day is kept, renamed by when it was set aside.
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        os.rename(dest, dest.with_name(f"{dest.name}.superseded-{stamp}"))
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(src / QUARANTINE_RESULT, json.dumps(result.to_json(), indent=2) + "\n")
    os.rename(src, dest)
    log.warning("ds=%s failed validation and was moved to %s", ds, dest)


def release(cfg: Config, ds: str, root: Path, reason: str, by: str | None = None) -> ValidationResult:
    """Put a quarantined day back into the raw data on purpose, recording who and why.

    The day's verdict becomes WARN (usable, with a recorded caveat); the release
    is appended to data/validation/releases.jsonl as well.
    """
    if not reason.strip():
        raise BadInput("a release needs a reason (--reason '...'): it is recorded for the next on-call engineer")
    paths = Paths.of(root, cfg)
    src = partition(paths.quarantine, ds)
    dest = partition(paths.raw, ds)
    record = _read_json(paths.record(ds) / RESULT)
    if not src.is_dir() or record is None or record.get("state") != QUARANTINED:
        raise BadInput(f"ds={ds} is not in quarantine ({src}); nothing to release")
    if dest.exists():
        raise BadInput(f"{dest} exists (re-ingested after the quarantine?); validate that copy instead of releasing")
    who = by or os.environ.get("HRLREC_USER") or getpass.getuser()
    when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    os.rename(src, dest)
    (dest / QUARANTINE_RESULT).unlink(missing_ok=True)
    details = {"by": who, "at": when, "reason": reason.strip(), "failed_checks": [f["check"] for f in record["failed"]]}
    table = pq.read_table(dest)
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
    _write_record(paths, result, frames.day_stats(table, ds))
    paths.validation.mkdir(parents=True, exist_ok=True)
    with open(paths.validation / RELEASES, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"ds": ds, **details}) + "\n")
    log.warning("ds=%s released from quarantine by %s: %s", ds, who, reason)
    return result


def require_validated(cfg: Config, ds: str, root: Path) -> Path:
    """The raw folder of day `ds` if it passed validation (or was released); otherwise say why.

    Every step that reads raw days calls this first. Raises Rejected for a
    quarantined day, BadInput for a day never validated or changed since.
    """
    paths = Paths.of(root, cfg)
    record = _read_json(paths.record(ds) / RESULT)
    raw_day = partition(paths.raw, ds)
    if record is None:
        raise BadInput(f"ds={ds} was never validated; run `hrlrec validate --ds {ds}` before using it")
    if record.get("state") == QUARANTINED:
        raise Rejected(
            f"ds={ds} is quarantined ({record.get('reason')}); see {record.get('data_docs')}. "
            f"Release it deliberately with `hrlrec validate --ds {ds} --accept --reason ...`"
        )
    if not (raw_day / SUCCESS).is_file() or fingerprint(raw_day) != record.get("raw_fingerprint"):
        raise BadInput(f"ds={ds} changed since it was validated (re-ingested?); run `hrlrec validate --ds {ds}` again")
    return raw_day


def record(cfg: Config, ds: str, root: Path) -> dict[str, Any] | None:
    """The validation record of day `ds` (result.json), or None when it was never validated."""
    return _read_json(Paths.of(root, cfg).record(ds) / RESULT)


def fingerprint(day_dir: Path) -> str:
    """A content hash of an ingested day's data files, to notice a re-ingest after validation."""
    digest = hashlib.sha256()
    for f in sorted(day_dir.glob("*.parquet")):
        digest.update(f.name.encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}: not valid JSON ({exc}); the validation record is damaged") from None


__all__ = ["ValidationResult", "fingerprint", "record", "release", "require_validated", "run"]
