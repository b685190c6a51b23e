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
from pathlib import Path

from hrlrec import ingest
from hrlrec.errors import HrlrecError
from hrlrec.simulator import days_from
from hrlrec.workspace import PARAMS, Workspace

NOT_BUILT = ("validate", "dataset", "train", "evaluate", "stability", "export", "publish", "report")
DAYS = 8


def prepare(workspace: Path, params: Path) -> Workspace:
    """Make `workspace` exist with a params file; an existing params file is kept."""
    workspace.mkdir(parents=True, exist_ok=True)
    if not (workspace / PARAMS).exists():
        shutil.copyfile(params, workspace / PARAMS)
    return Workspace.open(workspace)


def run(ws: Workspace, days: int = DAYS) -> list[ingest.IngestResult]:
    """Simulate and ingest `days` days ending at the configured `ds`."""
    last = dt.date.fromisoformat(ws.cfg.ds)
    start = (last - dt.timedelta(days=days - 1)).isoformat()
    return [ingest.run(ws.cfg, ds, ws.landing, ws.raw, source="simulator") for ds in days_from(start, days)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hrlrec.demo", description=__doc__)
    parser.add_argument("--workspace", type=Path, default=Path(".work/demo"))
    parser.add_argument("--params", type=Path, default=Path(PARAMS), help="params copied into a new workspace")
    parser.add_argument("--days", type=int, default=DAYS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    t0 = time.perf_counter()
    try:
        ws = prepare(args.workspace, args.params)
        print(f"workspace: {ws.root}")
        print(f"{'day':<12}{'weekday':<9}{'rows':>10}  {'files':>5}  channel shares")
        for r in run(ws, args.days):
            weekday = dt.date.fromisoformat(r.ds).strftime("%a")
            shares = "  ".join(f"{c} {n / r.rows:.1%}" for c, n in r.rows_per_channel.items())
            print(f"{r.ds:<12}{weekday:<9}{r.rows:>10,}  {r.files_out:>5}  {shares}")
    except HrlrecError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"simulated and ingested {args.days} days in {time.perf_counter() - t0:.1f}s; raw days under {ws.raw}")
    print("not built yet (open issues): " + ", ".join(NOT_BUILT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
