"""The land step: put day D (and, with backfill, its missing window days) into the landing zone.

With `source: simulator` (the embedded default) the simulator writes the days
the landing zone lacks; a day already there is left alone (a day is a pure
function of seed and date, so re-simulating would write the same bytes). With
`source: parquet` an upstream system drops the days and this step only
reports which of them have landed; ingestion then reads them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from hrlrec import simulator
from hrlrec.layout import SUCCESS
from hrlrec.progress import track
from hrlrec.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LandResult:
    ds: str
    source: str
    simulated: list[str] = field(default_factory=list)  # days written by the simulator now
    present: list[str] = field(default_factory=list)  # days already complete in the landing zone
    missing: list[str] = field(default_factory=list)  # days not there (source parquet: not dropped yet)


def run(ws: Workspace, ds: str, backfill: bool = True) -> LandResult:
    """Make sure `ds` (and, with backfill, the window days its dataset reads) have landed."""
    days = [*ws.window(ds).days, ds] if backfill else [ds]
    present = [d for d in days if (ws.layout.landing_day(d) / SUCCESS).is_file()]
    todo = [d for d in days if d not in present]
    if ws.cfg.source != "simulator":
        if todo:
            log.info("source %s: %s not landed yet (an upstream system drops them)", ws.cfg.source, ", ".join(todo))
        return LandResult(ds, ws.cfg.source, [], present, todo)
    for day in track(todo, f"simulating {len(todo)} days", unit="days"):
        simulator.run(ws.cfg, day, 1, ws.layout.landing)
    return LandResult(ds, ws.cfg.source, todo, present, [])
