"""`make run`: the pipeline end to end on the embedded default, in its own workspace.

Creates (or reuses) a workspace folder with a copy of the project's
`params.yaml`, then runs each built step for the 8 days ending at the
configured `ds`, so that a week-over-week comparison has a week behind it:
ingest, validate, and from the second day on build the dataset and train
HRL-Rec and LR on the days before. It prints one summary row per day and names
the steps that are not built yet, instead of pretending to run them.
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

from hrlrec import backfill, evaluate, ingest, publish, report, stability, train, validation
from hrlrec.data import build
from hrlrec.errors import HrlrecError, Rejected
from hrlrec.serving import export
from hrlrec.simulator import days_from
from hrlrec.verdict import Verdict
from hrlrec.workspace import PARAMS, Workspace

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
    trained: train.TrainResult | None  # None on the first day: nothing to train on yet
    gate: Verdict | None  # the AUC gate's verdict on the candidate
    stable: Verdict | None  # the stability gate's verdict on the candidate
    exported: Verdict | None  # the export gate's verdict (ONNX parity)
    published: str  # the version published, or why not


def run_day(ws: Workspace, ds: str) -> DayRun:
    """Ingest and validate `ds`; then, if an earlier day is usable, build its dataset and train."""
    ingested = ingest.run(ws.cfg, ds, ws.landing, ws.raw, source="simulator")
    validated = validation.run(ws.cfg, ds, ws.root)
    trained = gate = stable = exported = None
    published = "-"
    has_history = any(validation.record(ws.cfg, d, ws.root) for d in backfill.window(ws.cfg, ds))
    if validated.passed and has_history:
        build.run(ws.cfg, ds, ws.root)
        trained = train.run(ws.cfg, ds, ws.root, progress=False)
        gate = evaluate.run(ws.cfg, ds, ws.root)
        stable = stability.run(ws.cfg, ds, ws.root)
        exported = export.run(ws.cfg, ds, ws.root)
        try:
            published = publish.run(ws.cfg, ds, ws.root, reason="make run").version
        except Rejected:
            published = "not published"
    report.write(ws.cfg, ds, ws.root)
    return DayRun(ingested, validated, trained, gate, stable, exported, published)


def _row(day: DayRun) -> str:
    r, v, t = day.ingested, day.validated, day.trained
    weekday = dt.date.fromisoformat(r.ds).strftime("%a")
    checks = f"{v.verdict} {v.evaluated - len(v.failed)}/{v.evaluated}" + (" (no trailing)" if v.skipped else "")
    if t is None:
        aucs = "not trained (no earlier day yet)"
    else:
        aucs = "  ".join(f"{name} {m['auc']:.4f}" for name, m in t.models.items())
        oracle = f"  oracle {t.oracle_auc:.4f}" if t.oracle_auc else ""
        aucs += f"{oracle}  ({t.seconds:.0f}s)"
        if day.gate is not None:
            aucs += f"  AUC gate {day.gate.level}"
        if day.stable is not None:
            baseline = "" if day.stable.numbers.get("baseline_ds") else " (no baseline)"
            aucs += f"  stability {day.stable.level}{baseline}"
        if day.exported is not None:
            aucs += f"  export {day.exported.level}  -> {day.published}"
    return f"{r.ds:<12}{weekday:<5}{r.rows:>9,}  {checks:<26}{aucs}"


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
        header = "test-day AUC of the candidates trained on the days before"
        print(f"{'day':<12}{'':<5}{'rows':>9}  {'validation':<26}{header}")
        last = dt.date.fromisoformat(ws.cfg.ds)
        results = []
        for ds in days_from((last - dt.timedelta(days=args.days - 1)).isoformat(), args.days):
            results.append(run_day(ws, ds))
            print(_row(results[-1]), flush=True)
    except HrlrecError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return exc.exit_code
    seconds = time.perf_counter() - t0
    print(f"ran {args.days} days in {seconds:.0f}s; workspace {ws.root}")
    print(f"data docs of the last day: {ws.root / results[-1].validated.data_docs}")
    if results[-1].trained is not None:
        print(f"metrics: {ws.root / ws.cfg.paths.metrics / 'train.json'}; weights: {results[-1].trained.out_dir}")
    print(f"on-call report of the last day: {report.report_path(ws.cfg, ws.root, results[-1].ingested.ds)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
