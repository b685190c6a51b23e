"""Validation with Great Expectations: the step, its records, and the quarantine lifecycle.

step        `run(workspace, ds)`: the suites on one day; pass, or quarantine
records     result.json / summary.json, `require_validated` (what later steps ask), fingerprints
quarantine  setting a failing day aside and releasing it on purpose
suites, frames, gx_run   the suites from data_checks/, the frames they check, the GX runner
"""

from hrlrec.validation.quarantine import release
from hrlrec.validation.records import fingerprint, record, require_validated
from hrlrec.validation.result import PASSED, QUARANTINED, RELEASED, ValidationResult
from hrlrec.validation.step import run

__all__ = [
    "PASSED", "QUARANTINED", "RELEASED", "ValidationResult", "fingerprint", "record", "release",
    "require_validated", "run",
]  # fmt: skip
