"""Bring the days a dataset reads up to date: ingest and validate the window before D.

The dataset of day D reads the profile's `train_days` and `dataset.lookback_days`
before it. A fresh workspace (`dvc repro` on a new clone) or a scheduler that
starts late has none of them; these helpers fill in what is missing and leave
alone what is already there: an ingested day is not re-ingested, a validated
day whose data has not changed is not re-validated, and a quarantined day
stays in quarantine until someone releases it.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from hrlrec import ingest, validation
from hrlrec.config import Config
from hrlrec.errors import ContractError
from hrlrec.simulator import SUCCESS, partition

log = logging.getLogger(__name__)


def window(cfg: Config, ds: str) -> list[str]:
    """The days before `ds` that its dataset reads, oldest first."""
    span = cfg.active.train_days + cfg.dataset.lookback_days
    day = dt.date.fromisoformat(ds)
    return [(day - dt.timedelta(days=k)).isoformat() for k in range(span, 0, -1)]


def ingest_window(cfg: Config, ds: str, root: Path, landing: Path, source: ingest.Source) -> list[ingest.IngestResult]:
    """Ingest each window day not yet in data/raw (quarantined days stay out)."""
    done = []
    for day in window(cfg, ds):
        if (partition(root / cfg.paths.raw, day) / SUCCESS).is_file():
            continue
        if partition(root / cfg.paths.quarantine, day).is_dir():
            log.warning("backfill: %s is in quarantine; not re-ingested", day)
            continue
        try:
            done.append(ingest.run(cfg, day, landing, root / cfg.paths.raw, source=source))
        except ContractError as exc:
            log.warning("backfill: %s not ingested: %s", day, exc)
    return done


def validate_window(cfg: Config, ds: str, root: Path) -> list[validation.ValidationResult]:
    """Validate each ingested window day that has no current validation record."""
    done = []
    for day in window(cfg, ds):
        raw_day = partition(root / cfg.paths.raw, day)
        if not (raw_day / SUCCESS).is_file():
            continue
        record = validation.record(cfg, day, root)
        if record and record.get("raw_fingerprint") == validation.fingerprint(raw_day):
            continue
        result = validation.run(cfg, day, root)
        if not result.passed:
            log.warning("backfill: %s failed validation (%s) and was quarantined", day, result.reason)
        done.append(result)
    return done
