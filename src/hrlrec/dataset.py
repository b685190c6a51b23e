"""The dataset step: the training window of day D (validated days only) and D held out.

Which days may be read is validation's call (`require_validated`): a
quarantined, never-validated or since re-ingested window day is skipped and
named; an unusable D stops the step. How they become lists is
`hrlrec.data.build`'s job, which knows nothing of validation.
"""

from __future__ import annotations

from pathlib import Path

from hrlrec.data.build import DatasetResult, build
from hrlrec.errors import HrlrecError
from hrlrec.validation import fingerprint, require_validated
from hrlrec.workspace import Workspace


def run(ws: Workspace, ds: str) -> DatasetResult:
    """Build `data/datasets/ds=D/` from the validated days of D's window and D itself."""
    window = ws.window(ds)
    usable: dict[str, Path] = {}
    skipped: dict[str, str] = {}
    test_dir = require_validated(ws, ds)  # the held-out day must be clean too
    for day in window.days:
        try:
            usable[day] = require_validated(ws, day)
        except HrlrecError as exc:
            skipped[day] = str(exc).split(";")[0]
    usable[ds] = test_dir
    fingerprints = {day: fingerprint(folder) for day, folder in usable.items()}
    return build(ws.cfg, ds, window, usable, skipped, fingerprints, ws.layout.dataset_day(ds))
