"""`make run`: the pipeline end to end on the embedded default, in its own workspace.

Creates (or reuses) a workspace folder with a copy of the project's
`params.yaml`, then runs each built step for the 8 days ending at the
configured `ds`, so that a week-over-week comparison has a week behind it.
It prints one summary row per day and names the steps that are not built yet,
instead of pretending to run them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hrlrec import ingest, validation
from hrlrec.errors import HrlrecError
from hrlrec.simulator import days_from
from hrlrec.workspace import PARAMS, Workspace

NOT_BUILT = ("dataset", "train", "evaluate", "stability", "export", "publish", "report")
DAYS = 8


def prepare(workspace: Path, params: Path) -> Workspace:
    """Make `workspace` exist with a params file; an existing params file is kept."""
    workspace.mkdir(parents=True, exist_ok=True)
    if not (workspace / PARAMS).exists():
        shutil.copyfile(params, workspace / PARAMS)
    return Workspace.open(workspace)


@dataclass(frozen=True)
class DayRun:
    """What the built steps did with one day."""

    ingested: ingest.IngestResult
    validated: validation.ValidationResult


def run(ws: Workspace, days: int = DAYS) -> list[DayRun]:
    """Simulate, ingest and validate `days` days ending at the configured `ds`."""
    last = dt.date.fromisoformat(ws.cfg.ds)
    start = (last - dt.timedelta(days=days - 1)).isoformat()
    out = []
    for ds in days_from(start, days):
        ingested = ingest.run(ws.cfg, ds, ws.landing, ws.raw, source="simulator")
        out.append(DayRun(ingested, validation.run(ws.cfg, ds, ws.root)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hrlrec.demo", description=__doc__)
    parser.add_argument("--workspace", type=Path, default=Path(".work/demo"))
    parser.add_argument("--params", type=Path, default=Path(PARAMS), help="params copied into a new workspace")
    parser.add_argument("--days", type=int, default=DAYS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    t0 = time.perf_counter()
    try:
        ws = prepare(args.workspace, args.params)
        print(f"workspace: {ws.root}")
        print(f"{'day':<12}{'weekday':<9}{'rows':>10}  {'validation':<34}channel shares")
        results = run(ws, args.days)
        for day in results:
            r, v = day.ingested, day.validated
            weekday = dt.date.fromisoformat(r.ds).strftime("%a")
            shares = "  ".join(f"{c} {n / r.rows:.1%}" for c, n in r.rows_per_channel.items())
            checks = f"{v.verdict} {v.evaluated - len(v.failed)}/{v.evaluated}" + (
                f" ({len(v.skipped)} skipped)" if v.skipped else ""
            )
            print(f"{r.ds:<12}{weekday:<9}{r.rows:>10,}  {checks:<34}{shares}")
    except HrlrecError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return exc.exit_code
    seconds = time.perf_counter() - t0
    print(f"simulated, ingested and validated {args.days} days in {seconds:.1f}s; workspace {ws.root}")
    print(f"data docs of the last day: {ws.root / results[-1].validated.data_docs}")
    print("not built yet (open issues): " + ", ".join(NOT_BUILT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
