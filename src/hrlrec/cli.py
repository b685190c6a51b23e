"""The `hrlrec` command line: one subcommand per pipeline step.

The step commands come from the step table (`hrlrec.pipeline`): each parses
its arguments, opens the workspace and calls the step's `run(workspace, ds,
**options)`, the same function the DVC stage and the Airflow task call. Only
how each step's result is printed lives here.
Exit codes: 0 success, 1 a clean "no" (a check or gate failed), 2 bad usage or
bad input. Errors print one readable message, not a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hrlrec import __version__, pipeline
from hrlrec.errors import BadInput, HrlrecError
from hrlrec.workspace import Workspace

log = logging.getLogger("hrlrec")


def _day(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat() if len(text) == 10 else _bad_day(text)
    except ValueError:
        return _bad_day(text)


def _bad_day(text: str) -> str:
    raise argparse.ArgumentTypeError(f"expected a day as YYYY-MM-DD, got {text!r}")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def _common() -> argparse.ArgumentParser:
    """Options accepted before or after the subcommand."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--workspace", type=Path, default=argparse.SUPPRESS, help="folder every output goes under (default: .)"
    )
    p.add_argument(
        "--params", type=Path, default=argparse.SUPPRESS, help="params file (default: WORKSPACE/params.yaml)"
    )
    p.add_argument(
        "-S",
        "--set",
        dest="overrides",
        action="append",
        default=argparse.SUPPRESS,
        metavar="KEY=VALUE",
        help="override a params key, as `dvc exp run -S` does (repeatable)",
    )
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging")
    return p


# -- what each step adds to the command line, and how its result is printed ------------------


def _simulate(args: argparse.Namespace) -> int:
    """Not a pipeline step: write N simulated days anywhere under the workspace (tests, drills, benchmarks)."""
    from hrlrec import simulator

    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    if args.profile is not None:
        overrides.append(f"profile={args.profile}")
    ws = Workspace.open(args.workspace, args.params, overrides)
    out = ws.root / args.out if args.out is not None else ws.layout.landing
    if not out.resolve().is_relative_to(ws.root.resolve()):
        raise BadInput(f"--out {args.out}: {out.resolve()} is outside the workspace {ws.root}; name a folder inside it")
    result = simulator.run(ws.cfg, args.start, args.days, out)
    for day in result.days:
        print(f"{day.ds}  {day.rows:>9,} impressions  CTR {day.clicks / max(day.rows, 1):.3f}  {day.path}")
    print(
        f"simulated {result.rows:,} impressions in {result.seconds:.1f}s ({result.rows / result.seconds:,.0f} rows/s)"
    )
    return 0


def _backfill_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-backfill", dest="backfill", action="store_false",
        help="only day D (default: also the days of D's training window that are missing, as DVC and Airflow do)",
    )  # fmt: skip


def _land_args(p: argparse.ArgumentParser) -> None:
    _backfill_option(p)


def _land_print(ws: Workspace, args: argparse.Namespace, r) -> int:
    if r.simulated:
        print(f"simulated into {ws.layout.landing}: {', '.join(r.simulated)}")
    if r.present:
        print(f"already landed: {', '.join(r.present)}")
    if r.missing:
        print(f"not landed yet (source {r.source}): {', '.join(r.missing)}")
    return 0


def _ingest_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--landing", type=Path, default=None, help="drop zone to read (default: paths.landing)")
    _backfill_option(p)


def _ingest_options(ws: Workspace, args: argparse.Namespace) -> dict:
    return {"backfill": args.backfill, "landing": ws.root / args.landing if args.landing is not None else None}


def _ingest_print(ws: Workspace, args: argparse.Namespace, r) -> int:
    for b in r.backfilled:
        print(f"backfilled {b.ds}: {b.rows:,} rows")
    shares = ", ".join(f"{c} {n / r.rows:.1%}" for c, n in r.rows_per_channel.items())
    print(f"ingested {r.ds}: {r.rows:,} rows -> {r.out_dir} ({r.seconds:.1f}s)")
    print(f"channels: {shares}")
    if r.ignored_columns:
        print(f"ignored extra columns: {', '.join(r.ignored_columns)}")
    return 0


def _validate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--accept", action="store_true", help="release a quarantined day on purpose (needs --reason)")
    p.add_argument("--reason", default=None, help="why a quarantined day is released; recorded with your name")
    _backfill_option(p)


def _validate_run(ws: Workspace, args: argparse.Namespace):
    from hrlrec import validation

    if args.accept:
        if not args.reason:
            raise BadInput("--accept needs --reason '...': the release is recorded with it")
        return validation.release(ws, args.ds, args.reason)
    if args.reason:
        raise BadInput("--reason only goes with --accept")
    return pipeline.run("validate", ws, args.ds, backfill=args.backfill)


def _validate_print(ws: Workspace, args: argparse.Namespace, result) -> int:
    for line in result.backfilled:
        print(f"backfilled {line}")
    print(f"{result.verdict}  ds={result.ds}  {result.rows:,} rows  {result.reason}")
    for o in result.failed:
        where = f" [{o.column}]" if o.column else ""
        count = f", {o.unexpected_count:,} rows ({o.unexpected_percent:.2f}%)" if o.unexpected_count else ""
        print(f"  FAILED {o.check}{where}: {o.why}; observed {o.observed!r}{count}; threshold {o.threshold}")
        if o.examples:
            print(f"         e.g. {o.examples[:3]}")
    for s in result.skipped:
        print(f"  SKIPPED {s['suite']}: {s['reason']}")
    if result.state == "quarantined":
        print(f"  quarantined: moved to {ws.layout.quarantine_day(result.ds)}")
        print(f"  release on purpose: hrlrec validate --ds {result.ds} --accept --reason '...'")
    print(f"  data docs: {ws.root / result.data_docs}" if result.data_docs else "")
    return 0 if result.passed else 1


def _dataset_print(ws: Workspace, args: argparse.Namespace, r) -> int:
    print(f"dataset {r.ds}: {r.rows:,} stream rows, lists {r.lists} -> {r.out_dir} ({r.seconds:.1f}s)")
    print(f"training window: {', '.join(r.train_days)}")
    for day, why in r.skipped_days.items():
        print(f"  skipped {day}: {why}")
    return 0


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", default=None,
        help="comma-separated: hrlrec, lr, fm, nfm, afm, widedeep, deepfm, autoint, din, or all "
        "(default: train.models)",
    )  # fmt: skip
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None, help="default: train.device")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs still say each epoch)")


def _train_options(ws: Workspace, args: argparse.Namespace) -> dict:
    from hrlrec.train import MODELS

    models = [m.strip() for m in args.model.split(",")] if args.model else None
    if models == ["all"]:
        models = list(MODELS)
    return {"models": models, "device": args.device, "progress": not args.no_progress}


def _train_print(ws: Workspace, args: argparse.Namespace, r) -> int:
    if not r.models:  # a non-zero rank of a torchrun job: rank 0 reports
        return 0
    oracle = f"{r.oracle_auc:.4f}" if r.oracle_auc is not None else "n/a (no ground truth)"
    print(f"trained on {r.device} in {r.seconds:.0f}s; test day {r.ds}; oracle AUC {oracle}")
    print(f"{'model':<10}{'AUC':>8}{'LogLoss':>9}{'RelaImpr':>10}{'gap closed':>12}{'epochs':>8}{'sec':>7}")
    for name, m in sorted(r.models.items(), key=lambda kv: kv[1]["auc"]):
        rel = f"{m['relaimpr_over_lr']:+.2%}" if m["relaimpr_over_lr"] is not None else "n/a"
        gap = f"{m['lr_to_oracle_gap_closed']:.1%}" if m["lr_to_oracle_gap_closed"] is not None else "n/a"
        print(f"{name:<10}{m['auc']:>8.4f}{m['logloss']:>9.4f}{rel:>10}{gap:>12}{m['epochs']:>8}{m['seconds']:>7.0f}")
    print(f"weights and cards: {r.out_dir}")
    return 0


GATE_TITLES = {"evaluate": "AUC gate", "stability": "stability gate", "export": "export gate"}


def _gate_print(ws: Workspace, args: argparse.Namespace, verdict) -> int:
    """evaluate, stability and export: the verdict and its checks; exit 1 on FAIL."""
    print(f"{GATE_TITLES.get(args.command, args.command + ' gate')} {args.ds}: {verdict.reason}")
    if args.command == "stability":
        for name, change in verdict.numbers.get("relative_change", {}).items():
            if change["max"] is not None:
                print(f"  {name:<14} max {change['max']:6.1%}  mean {change['mean']:6.1%}")
    else:
        for c in verdict.checks:
            print(f"  {c.level:<4}  {c.name:<15} {c.reason}")
    if args.command == "export":
        print(f"  onnxruntime provider: {verdict.numbers['provider']}")
    print(f"  -> {ws.layout.result(args.command)}")
    return verdict.exit_code


def _publish_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--approve-warn", action="store_true", help="publish although a gate said WARN")
    p.add_argument("--reason", default=None, help="recorded in the registry history")


def _publish_options(ws: Workspace, args: argparse.Namespace) -> dict:
    return {"approve_warn": args.approve_warn, "reason": args.reason or ""}


def _publish_print(ws: Workspace, args: argparse.Namespace, r) -> int:
    print(f"published {r.version} (was {r.previous or 'empty'})")
    for w in r.approved_warnings:
        print(f"  approved warning: {w}")
    return 0


def _report_print(ws: Workspace, args: argparse.Namespace, path) -> int:
    print(f"report {args.ds}: {path}")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from hrlrec import registry

    ws = Workspace.open(args.workspace, args.params, args.overrides)
    before = registry.production(ws)
    target = registry.rollback(ws, to=args.to, reason=args.reason or "")
    print(f"production: {before.name if before else 'empty'} -> {target.name}")
    return 0


def _init(args: argparse.Namespace) -> int:
    from hrlrec.orchestration import versioning

    root = versioning.init(args.workspace, args.project, remote=args.remote)
    print(f"versioned workspace {root} (git clone of {args.project}; DVC remote {args.remote or 'beside it'})")
    return 0


@dataclass(frozen=True)
class StepCli:
    """How one step of the table looks on the command line: extra arguments, options, output."""

    arguments: Callable[[argparse.ArgumentParser], None] | None = None
    options: Callable[[Workspace, argparse.Namespace], dict] | None = None
    printer: Callable[[Workspace, argparse.Namespace, Any], int] = _report_print
    runner: Callable[[Workspace, argparse.Namespace], Any] | None = None  # instead of pipeline.run (validate --accept)


STEP_CLI: dict[str, StepCli] = {
    "land": StepCli(_land_args, lambda ws, a: {"backfill": a.backfill}, _land_print),
    "ingest": StepCli(_ingest_args, _ingest_options, _ingest_print),
    "validate": StepCli(_validate_args, None, _validate_print, _validate_run),
    "dataset": StepCli(None, None, _dataset_print),
    "train": StepCli(_train_args, _train_options, _train_print),
    "evaluate": StepCli(None, None, _gate_print),
    "stability": StepCli(None, None, _gate_print),
    "export": StepCli(None, None, _gate_print),
    "publish": StepCli(_publish_args, _publish_options, _publish_print),
    "report": StepCli(None, None, _report_print),
}


def _step(args: argparse.Namespace) -> int:
    """Any step of the table: open the workspace, run the step for --ds, print its result."""
    ws = Workspace.open(args.workspace, args.params, args.overrides)
    cli = STEP_CLI[args.command]
    if cli.runner is not None:
        result = cli.runner(ws, args)
    else:
        options = cli.options(ws, args) if cli.options else {}
        result = pipeline.run(args.command, ws, args.ds, **options)
    return cli.printer(ws, args, result)


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="hrlrec",
        parents=[common],
        description="Daily pipeline around HRL-Rec: land, ingest, validate, train, gate, export, publish, report.",
        epilog="Exit codes: 0 success, 1 a check or gate said no, 2 bad usage or bad input.",
    )
    parser.add_argument("--version", action="version", version=f"hrlrec {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="STEP", required=True)

    def command(name: str, summary: str, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        p = commands.add_parser(name, parents=[common], help=summary, description=summary)
        p.set_defaults(func=func)
        return p

    p = command("simulate", "write simulated impression logs (with ground truth) for N days", _simulate)
    p.add_argument("--start", type=_day, required=True, help="first day, YYYY-MM-DD")
    p.add_argument("--days", type=_positive, default=1, help="number of consecutive days (default 1)")
    p.add_argument("--out", type=Path, default=None, help="landing folder (default: paths.landing)")
    p.add_argument("--seed", type=int, default=None, help="world seed (default: params seed)")
    p.add_argument("--profile", default=None, help="size profile, e.g. small or full (default: params profile)")

    for s in pipeline.STEPS:  # the step table: one subcommand per step, in pipeline order
        p = command(s.name, s.summary + (" (exit 1 on FAIL)" if s.gate else ""), _step)
        p.add_argument("--ds", type=_day, required=True, help="the day, YYYY-MM-DD")
        extra = STEP_CLI[s.name].arguments
        if extra is not None:
            extra(p)

    p = command("rollback", "put the previous production model (or --to VERSION) back into production", _rollback)
    p.add_argument("--to", default=None, help="a registered version (default: the one production replaced)")
    p.add_argument("--reason", default=None, help="recorded in the registry history")

    p = command("init", "make --workspace a versioned workspace: a git clone of the project with a DVC remote", _init)
    p.add_argument("--project", type=Path, required=True, help="the hrlrec git repository to clone")
    p.add_argument("--remote", default=None, help="DVC remote URL (s3://, gs://, ssh://, a folder; default beside)")
    return parser


UNEXPECTED = 3  # exit code of an unexpected exception: 1 means "a check said no", 2 "bad input"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.workspace = getattr(args, "workspace", Path("."))
    args.params = getattr(args, "params", None)
    args.overrides = getattr(args, "overrides", [])
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Great Expectations logs its own internals at INFO; keep the on-call's terminal readable.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    try:
        return args.func(args)
    except HrlrecError as exc:
        print(f"hrlrec {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"hrlrec {args.command}: interrupted; outputs were left as they were", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"hrlrec {args.command}: {BadInput(str(exc))}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug, not an answer: never exit 1 ("a check said no")
        trace = Path(tempfile.gettempdir()) / f"hrlrec-{args.command}-{os.getpid()}.traceback.txt"
        trace.write_text(traceback.format_exc())
        logging.getLogger("hrlrec.cli").debug("unexpected error", exc_info=True)
        print(
            f"hrlrec {args.command}: unexpected error {type(exc).__name__}: {str(exc)[:300]} "
            f"(a bug; traceback in {trace})",
            file=sys.stderr,
        )
        return UNEXPECTED


if __name__ == "__main__":
    sys.exit(main())
