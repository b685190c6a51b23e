"""The validate step: Great Expectations suites on one ingested day; pass, or quarantine.

`run` checks `data/raw/ds=D/` against the suites in data_checks/ and writes

- `data/validation/ds=D/result.json`: the verdict, every failed expectation
  with its observed value and threshold, and what was skipped and why;
- `data/validation/ds=D/summary.json` (passing days only): the day's volume and
  per-channel rows and clicks, the history later days compare against;
- `metrics/validate.json`: a copy of the result, for DVC and Airflow;
- `reports/data_docs/ds=D/`: the day's Data Docs.

A failing day moves to `data/quarantine/ds=D/` (see `quarantine`). With
backfill (the default everywhere: CLI, DVC, Airflow) the ingested days of D's
training window without a current record are validated first, so a fresh
workspace or a late scheduler catches up; a quarantined day stays there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import replace

import pandas as pd
import pyarrow as pa

from hrlrec import atomic
from hrlrec.config import Config
from hrlrec.errors import BadInput
from hrlrec.layout import SUCCESS
from hrlrec.validation import frames, records, suites
from hrlrec.validation.gx_run import GxRunner, Outcome
from hrlrec.validation.quarantine import quarantine
from hrlrec.validation.result import PASSED, QUARANTINED, ValidationResult
from hrlrec.validation.suites import Suite
from hrlrec.workspace import Workspace

log = logging.getLogger(__name__)


def run(ws: Workspace, ds: str, backfill: bool = True) -> ValidationResult:
    """Validate day `ds` (first, with `backfill`, the window days without a current record)."""
    done = backfill_window(ws, ds) if backfill else []
    return replace(validate_day(ws, ds), backfilled=[f"{r.ds}: {r.verdict} ({r.reason})" for r in done])


def backfill_window(ws: Workspace, ds: str) -> list[ValidationResult]:
    """Validate each ingested window day that has no current validation record."""
    done = []
    for day in ws.window(ds).days:
        if not (ws.layout.raw_day(day) / SUCCESS).is_file() or records.is_current(ws, day):
            continue
        result = validate_day(ws, day)
        if not result.passed:
            log.warning("backfill: %s failed validation (%s) and was quarantined", day, result.reason)
        done.append(result)
    return done


def validate_day(ws: Workspace, ds: str) -> ValidationResult:
    """Validate day `ds`; quarantine it when a check fails.

    Raises BadInput when the day was never ingested (or is already quarantined:
    release it or re-ingest it), never for a failed check: a failed check is a
    FAIL verdict in the returned result, with the day moved to quarantine.
    """
    t0 = time.perf_counter()
    cfg, layout = ws.cfg, ws.layout
    raw_day = layout.raw_day(ds)
    if not (raw_day / SUCCESS).is_file():
        if layout.quarantine_day(ds).is_dir():
            raise BadInput(
                f"ds={ds} is in quarantine, not in {layout.raw}: release it with "
                f"`hrlrec validate --ds {ds} --accept --reason ...`, or re-ingest a corrected day"
            )
        raise BadInput(f"{raw_day}: day {ds} has not been ingested; run `hrlrec ingest --ds {ds}` first")
    try:
        table = frames.read_day(raw_day)
    except Exception as exc:
        raise BadInput(f"{raw_day}: cannot read the ingested day: {exc}") from None

    suite_list = suites.load(suites.suites_dir(cfg, ws.layout), suites.parameters(cfg, ds))
    today = frames.day_stats(table, ds)
    history = records.history(ws, ds, cfg.validation.trailing_days)
    outcomes: dict[tuple[str, str], Outcome] = {}
    skipped: list[dict[str, str]] = []
    docs_final = layout.data_docs_day(ds)
    with atomic.atomic_dir(docs_final) as docs_tmp:
        runner = GxRunner(suite_list, docs_tmp)
        runnable: dict[str, list[Suite]] = {}
        for suite in suite_list:
            reason = _skip_reason(suite, table, history, cfg, ds)
            if reason is None:
                runnable.setdefault(suite.frame, []).append(suite)
            else:
                skipped.append({"suite": suite.name, "reason": reason})
        # Each frame (a chunk of a large day) is built once and judged by every suite that reads it.
        for kind, kind_suites in runnable.items():
            for frame in _frames(kind, table, ds, today, history, cfg):
                for suite in kind_suites:
                    for outcome in runner.validate(suite, frame):
                        key = (outcome.suite, outcome.check)
                        if key in outcomes:
                            outcomes[key].merge(outcome)
                        else:
                            outcomes[key] = outcome
                del frame
                pa.default_memory_pool().release_unused()  # bounded RSS: a chunk's memory back before the next
        runner.build_docs()
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
        data_docs=str(layout.data_docs_page(ds).relative_to(ws.root)),
        raw_fingerprint=records.fingerprint(raw_day),
        seconds=time.perf_counter() - t0,
    )
    records.write(ws, result, today if not failed else None)
    if failed:
        quarantine(ws, ds, result)
    return result


def _skip_reason(suite: Suite, table: pa.Table, history: list[frames.DayStats], cfg: Config, ds: str) -> str | None:
    """Why `suite` cannot judge this day (said in the result, never silent), or None."""
    needs = suites.OPTIONAL_FRAMES.get(suite.frame)
    if needs is not None and needs not in table.column_names:
        return f"no {needs} column in the day: not evaluated"
    if suite.trailing and len(history) < cfg.validation.min_history_days:
        return (
            f"only {len(history)} validated day(s) in the {cfg.validation.trailing_days} "
            f"days before {ds}; trailing comparisons need {cfg.validation.min_history_days}"
        )
    return None


def _frames(
    kind: str, table: pa.Table, ds: str, today: frames.DayStats, history: list[frames.DayStats], cfg: Config
) -> Iterator[pd.DataFrame]:
    if kind == "impressions":
        yield from frames.impression_chunks(table, ds, cfg.validation.chunk_rows)
    elif kind == "sessions":
        yield frames.sessions_frame(table)
    elif kind == "propensities":
        yield from frames.propensity_chunks(table, cfg.validation.chunk_rows)
    else:
        day, channels = frames.trailing_frames(today, history, list(cfg.channels))
        yield day if kind == "day" else channels


def _reason(failed: list[Outcome], evaluated: int) -> str:
    if not failed:
        return f"all {evaluated} checks passed"
    names = ", ".join(o.check for o in failed[:6]) + (", ..." if len(failed) > 6 else "")
    return f"{len(failed)} of {evaluated} checks failed: {names}"
