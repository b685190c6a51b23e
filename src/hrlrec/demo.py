"""`make run`: `hrlrec_daily` through real Airflow for 8 consecutive simulated days.

The workspace (default .work/demo) is a git clone of the project with a local
DVC remote beside it (.work/demo.dvc-remote), so every published day becomes a
git commit tagged `ds-YYYY-MM-DD` with its data and models pushed. Airflow
runs with its own home (.work/airflow: SQLite metadata DB, the project's
dags/), one `dag.test()` run per day in order, so that by the eighth day the
stability gate compares with a real week-old production record. One summary
row per day is printed as it finishes; Airflow's own log goes to
.work/airflow/make-run.log.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hrlrec import results
from hrlrec.errors import HrlrecError
from hrlrec.layout import days_from
from hrlrec.orchestration import local, versioning
from hrlrec.workspace import PARAMS, Workspace

DAYS = 8
PROJECT = Path(__file__).resolve().parents[2]


def prepare(workspace: Path, params: Path | None) -> Workspace:
    """A versioned workspace (created on first use); `params` replaces its params.yaml when given."""
    versioning.init(workspace, PROJECT)
    if params is not None:
        shutil.copyfile(params, workspace / PARAMS)
    return Workspace.open(workspace)


def _verdict(found: dict[str, Any] | None) -> str:
    return found["verdict"] if found else "-"


def row(ws: Workspace, summary: dict[str, Any]) -> str:
    """One line per day from the day's result files and the Airflow run's state."""
    ds, metrics = summary["ds"], ws.layout
    weekday = dt.date.fromisoformat(ds).strftime("%a")
    validated = results.read(metrics, "validate", ds)
    rows = f"{validated['rows']:,}" if validated else "-"
    trained = results.read(metrics, "train", ds)
    aucs = "  ".join(f"{m} {v['auc']:.4f}" for m, v in trained["models"].items()) if trained else "not trained"
    stable = results.read(metrics, "stability", ds)
    baseline = "" if not stable or stable["numbers"].get("baseline_ds") else "*"
    published = results.read(metrics, "publish", ds)
    version = published["version"] if published and published.get("published") else "-"
    gates = f"{_verdict(results.read(metrics, 'evaluate', ds)):<5}{_verdict(stable) + baseline:<6}"
    gates += f"{_verdict(results.read(metrics, 'export', ds)):<5}"
    return (f"{ds} {weekday}  {rows:>9}  {_verdict(validated):<5}  {aucs:<28}  {gates}  {version:<22}"
            f"{summary['state']} ({summary['seconds']:.0f}s)")  # fmt: skip


HEADER = (f"{'day':<14}  {'rows':>9}  {'valid':<5}  {'test-day AUC':<28}  {'AUC  stab  onnx':<16}  "
          f"{'published':<22}airflow run")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hrlrec.demo", description=__doc__)
    parser.add_argument("--workspace", type=Path, default=Path(".work/demo"))
    parser.add_argument("--airflow-home", type=Path, default=None, help="default: WORKSPACE/../airflow")
    parser.add_argument("--params", type=Path, default=None, help="replace the workspace's params.yaml with this")
    parser.add_argument("--days", type=int, default=DAYS)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    try:
        ws = prepare(args.workspace, args.params)
    except HrlrecError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return exc.exit_code
    home = (args.airflow_home or ws.root.parent / "airflow").resolve()
    shutil.rmtree(home, ignore_errors=True)  # a fresh metadata DB: each make run is its own set of DAG runs
    home.mkdir(parents=True)
    last = dt.date.fromisoformat(ws.cfg.ds)
    days = days_from((last - dt.timedelta(days=args.days - 1)).isoformat(), args.days)
    print(f"workspace {ws.root} (git + DVC, remote {ws.root.parent / (ws.root.name + '.dvc-remote')})")
    print(f"airflow home {home}: hrlrec_daily, one dag.test() run per day; * = no baseline a week back\n")
    print(HEADER)
    summaries = local.run_days(ws.root, home, days, log=home / "make-run.log", on_day=lambda s: print(row(ws, s)))
    seconds = time.perf_counter() - t0
    print(f"\nran {len(summaries)} of {len(days)} days through Airflow in {seconds:.0f}s")
    totals: dict[str, list[float]] = {}
    for s in summaries:
        for task, secs in s.get("durations", {}).items():
            totals.setdefault(task, []).append(secs)
    slowest = sorted(((sum(v) / len(v), t) for t, v in totals.items()), reverse=True)[:6]
    print("mean seconds per task: " + ", ".join(f"{t} {m:.0f}" for m, t in slowest))
    print(f"on-call report of the last day: {ws.layout.report_page(days[-1])}")
    print(f"metrics: {ws.layout.results_archive}/; Airflow log: {home / 'make-run.log'}")
    tags = subprocess.run(["git", "tag", "--list", "ds-*"], cwd=ws.root, capture_output=True, text=True).stdout
    print(f"versioned days (git tags): {' '.join(tags.split()) or 'none'}; `git checkout <tag> && dvc pull` there")
    said_no = [s["ds"] for s in summaries if s["state"] != "success" and not _broken(s)]
    broken = [s["ds"] for s in summaries if _broken(s)]
    if said_no:
        print(f"gates said no on {', '.join(said_no)}: production was left as it was; the reports say why")
    if broken or len(summaries) != len(days):
        print(
            f"make run: a task failed for another reason than a gate on {', '.join(broken) or 'a day'}; "
            f"see {home / 'make-run.log'}",
            file=sys.stderr,
        )
        return 1
    return 0


GATE_TASKS = {"validate", "evaluate", "stability", "export", "decide"}


def _broken(summary: dict[str, Any]) -> bool:
    """A run that failed somewhere other than a check or gate saying FAIL (a bug or an outage)."""
    failed = {task for task, state in summary["tasks"].items() if state == "failed"}
    return summary["state"] != "success" and not (failed and failed <= GATE_TASKS)


if __name__ == "__main__":
    sys.exit(main())
