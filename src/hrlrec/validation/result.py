"""What validating one day concluded: the verdict, the failed checks, and the state of the day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hrlrec.validation.gx_run import Outcome

PASSED, QUARANTINED, RELEASED = "passed", "quarantined", "released"


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
    backfilled: list[str] = field(default_factory=list)  # window days validated first: "D: VERDICT (reason)"

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
