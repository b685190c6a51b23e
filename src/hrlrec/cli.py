"""The `hrlrec` command line: one subcommand per pipeline step.

Each subcommand parses arguments, opens the workspace and calls the step's
`run` function, the same function the DVC stage and the Airflow task call.
Exit codes: 0 success, 1 a clean "no" (a check or gate failed), 2 bad usage or
bad input. Errors print one readable message, not a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from hrlrec import __version__
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


# -- steps -------------------------------------------------------------------------------


def _simulate(args: argparse.Namespace) -> int:
    from hrlrec import simulator

    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    if args.profile is not None:
        overrides.append(f"profile={args.profile}")
    ws = Workspace.open(args.workspace, args.params, overrides)
    out = ws.root / args.out if args.out is not None else ws.landing
    result = simulator.run(ws.cfg, args.start, args.days, out)
    for day in result.days:
        print(f"{day.ds}  {day.rows:>9,} impressions  CTR {day.clicks / max(day.rows, 1):.3f}  {day.path}")
    print(
        f"simulated {result.rows:,} impressions in {result.seconds:.1f}s ({result.rows / result.seconds:,.0f} rows/s)"
    )
    return 0


def _ingest(args: argparse.Namespace) -> int:
    from hrlrec import ingest

    ws = Workspace.open(args.workspace, args.params, args.overrides)
    landing = ws.root / args.landing if args.landing is not None else ws.landing
    if args.backfill:
        from hrlrec import backfill

        for r in backfill.ingest_window(ws.cfg, args.ds, ws.root, landing, args.source):
            print(f"backfilled {r.ds}: {r.rows:,} rows")
    result = ingest.run(ws.cfg, args.ds, landing, ws.raw, source=args.source)
    shares = ", ".join(f"{c} {n / result.rows:.1%}" for c, n in result.rows_per_channel.items())
    print(f"ingested {result.ds}: {result.rows:,} rows -> {result.out_dir} ({result.seconds:.1f}s)")
    print(f"channels: {shares}")
    if result.ignored_columns:
        print(f"ignored extra columns: {', '.join(result.ignored_columns)}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from hrlrec import validation

    ws = Workspace.open(args.workspace, args.params, args.overrides)
    if args.accept:
        if not args.reason:
            raise BadInput("--accept needs --reason '...': the release is recorded with it")
        result = validation.release(ws.cfg, args.ds, ws.root, args.reason)
    else:
        if args.reason:
            raise BadInput("--reason only goes with --accept")
        if args.backfill:
            from hrlrec import backfill

            for r in backfill.validate_window(ws.cfg, args.ds, ws.root):
                print(f"backfilled {r.ds}: {r.verdict} ({r.reason})")
        result = validation.run(ws.cfg, args.ds, ws.root)
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
        print(f"  quarantined: moved to {ws.cfg.paths.quarantine}/ds={result.ds}")
        print(f"  release on purpose: hrlrec validate --ds {result.ds} --accept --reason '...'")
    print(f"  data docs: {ws.root / result.data_docs}" if result.data_docs else "")
    return 0 if result.passed else 1


def _dataset(args: argparse.Namespace) -> int:
    from hrlrec.data import build

    ws = Workspace.open(args.workspace, args.params, args.overrides)
    r = build.run(ws.cfg, args.ds, ws.root)
    print(f"dataset {r.ds}: {r.rows:,} stream rows, lists {r.lists} -> {r.out_dir} ({r.seconds:.1f}s)")
    print(f"training window: {', '.join(r.train_days)}")
    for day, why in r.skipped_days.items():
        print(f"  skipped {day}: {why}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from hrlrec import train

    ws = Workspace.open(args.workspace, args.params, args.overrides)
    models = [m.strip() for m in args.model.split(",")] if args.model else None
    if models == ["all"]:
        models = list(train.MODELS)
    r = train.run(ws.cfg, args.ds, ws.root, models=models, device=args.device, progress=not args.no_progress)
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


def _gate(args: argparse.Namespace) -> int:
    """evaluate, stability and export: run the gate, print its verdict and checks, exit 1 on FAIL."""
    from hrlrec import gates

    ws = Workspace.open(args.workspace, args.params, args.overrides)
    verdict = gates.run(args.command, ws.cfg, args.ds, ws.root)
    print(f"{GATE_TITLES[args.command]} {args.ds}: {verdict.reason}")
    if args.command == "stability":
        for name, change in verdict.numbers.get("relative_change", {}).items():
            if change["max"] is not None:
                print(f"  {name:<14} max {change['max']:6.1%}  mean {change['mean']:6.1%}")
    else:
        for c in verdict.checks:
            print(f"  {c.level:<4}  {c.name:<15} {c.reason}")
    if args.command == "export":
        print(f"  onnxruntime provider: {verdict.numbers['provider']}")
    print(f"  -> {ws.root / ws.cfg.paths.metrics / f'{args.command}.json'}")
    return verdict.exit_code


def _publish(args: argparse.Namespace) -> int:
    from hrlrec import publish

    ws = Workspace.open(args.workspace, args.params, args.overrides)
    r = publish.run(ws.cfg, args.ds, ws.root, approve_warn=args.approve_warn, reason=args.reason or "")
    print(f"published {r.version} (was {r.previous or 'empty'})")
    for w in r.approved_warnings:
        print(f"  approved warning: {w}")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from hrlrec import registry

    ws = Workspace.open(args.workspace, args.params, args.overrides)
    before = registry.production(ws.cfg, ws.root)
    target = registry.rollback(ws.cfg, ws.root, to=args.to, reason=args.reason or "")
    print(f"production: {before.name if before else 'empty'} -> {target.name}")
    return 0


def _init(args: argparse.Namespace) -> int:
    from hrlrec.orchestration import versioning

    root = versioning.init(args.workspace, args.project, remote=args.remote)
    print(f"versioned workspace {root} (git clone of {args.project}; DVC remote {args.remote or 'beside it'})")
    return 0


def _report(args: argparse.Namespace) -> int:
    from hrlrec import report

    ws = Workspace.open(args.workspace, args.params, args.overrides)
    path = report.write(ws.cfg, args.ds, ws.root)
    print(f"report {args.ds}: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="hrlrec",
        parents=[common],
        description="Daily pipeline around HRL-Rec: ingest, validate, train, gate, export, publish.",
        epilog="Exit codes: 0 success, 1 a check or gate said no, 2 bad usage or bad input.",
    )
    parser.add_argument("--version", action="version", version=f"hrlrec {__version__}")
    steps = parser.add_subparsers(dest="command", metavar="STEP", required=True)

    def step(name: str, summary: str, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        p = steps.add_parser(name, parents=[common], help=summary, description=summary)
        p.set_defaults(func=func)
        return p

    p = step("simulate", "write simulated impression logs (with ground truth) for N days", _simulate)
    p.add_argument("--start", type=_day, required=True, help="first day, YYYY-MM-DD")
    p.add_argument("--days", type=_positive, default=1, help="number of consecutive days (default 1)")
    p.add_argument("--out", type=Path, default=None, help="landing folder (default: paths.landing)")
    p.add_argument("--seed", type=int, default=None, help="world seed (default: params seed)")
    p.add_argument("--profile", default=None, help="size profile, e.g. small or full (default: params profile)")

    p = step("ingest", "copy one day from the landing zone into data/raw, enforcing the contract", _ingest)
    p.add_argument("--ds", type=_day, required=True, help="the day, YYYY-MM-DD")
    p.add_argument(
        "--source",
        choices=["simulator", "parquet"],
        default="parquet",
        help="simulator: simulate the day into the landing zone if missing; parquet: it must be there",
    )
    p.add_argument("--landing", type=Path, default=None, help="landing folder (default: paths.landing)")
    p.add_argument("--backfill", action="store_true", help="first ingest the missing days the dataset of D reads")

    p = step(
        "validate", "check an ingested day with the Great Expectations suites; quarantine it on failure", _validate
    )
    p.add_argument("--ds", type=_day, required=True, help="the day, YYYY-MM-DD")
    p.add_argument("--accept", action="store_true", help="release a quarantined day on purpose (needs --reason)")
    p.add_argument("--reason", default=None, help="why a quarantined day is released; recorded with your name")
    p.add_argument("--backfill", action="store_true", help="first validate the unvalidated days the dataset reads")

    p = step("dataset", "build training lists from validated days (window before D, D held out)", _dataset)
    p.add_argument("--ds", type=_day, required=True, help="the held-out test day, YYYY-MM-DD")

    p = step("train", "train HRL-Rec and baselines on the dataset of D; write weights and metrics", _train)
    p.add_argument("--ds", type=_day, required=True, help="the held-out test day, YYYY-MM-DD")
    p.add_argument(
        "--model", default=None,
        help="comma-separated: hrlrec, lr, fm, nfm, afm, widedeep, deepfm, autoint, or all (default: train.models)",
    )  # fmt: skip
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None, help="default: train.device")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs still say each epoch)")

    p = step("evaluate", "AUC gate: candidate vs production vs LR on day D (exit 1 on FAIL)", _gate)
    p.add_argument("--ds", type=_day, required=True, help="the held-out day, YYYY-MM-DD")

    p = step("stability", "stability gate: channel proportions vs production a week back (exit 1 on FAIL)", _gate)
    p.add_argument("--ds", type=_day, required=True, help="the day, YYYY-MM-DD")

    p = step("export", "export gate: ONNX graphs of D's candidate, proven against PyTorch (exit 1 on FAIL)", _gate)
    p.add_argument("--ds", type=_day, required=True, help="the day, YYYY-MM-DD")

    p = step("publish", "promote the candidate of D when every required gate passed", _publish)
    p.add_argument("--ds", type=_day, required=True, help="the day, YYYY-MM-DD")
    p.add_argument("--approve-warn", action="store_true", help="publish although a gate said WARN")
    p.add_argument("--reason", default=None, help="recorded in the registry history")

    p = step("rollback", "put the previous production model (or --to VERSION) back into production", _rollback)
    p.add_argument("--to", default=None, help="a registered version (default: the one production replaced)")
    p.add_argument("--reason", default=None, help="recorded in the registry history")

    p = step("init", "make --workspace a versioned workspace: a git clone of the project with a DVC remote", _init)
    p.add_argument("--project", type=Path, required=True, help="the hrlrec git repository to clone")
    p.add_argument("--remote", default=None, help="DVC remote URL (s3://, gs://, ssh://, a folder; default beside)")

    p = step("report", "write the on-call page of day D: reports/ds=D/index.html", _report)
    p.add_argument("--ds", type=_day, required=True, help="the day, YYYY-MM-DD")
    return parser


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


if __name__ == "__main__":
    sys.exit(main())
