"""Run `hrlrec_daily` through real Airflow on one machine: SQLite metadata DB, in-process `dag.test()`.

    python -m hrlrec.orchestration.local --workspace W --airflow-home H DAY [DAY ...]

For each day, in order: a DAG run of `hrlrec_daily` with that logical date,
every task executed by Airflow's own task runner against the metadata DB in
H (created and migrated on first use; the `gpu` pool is created too). Prints
one JSON line per day: the run's state and each task's state. Exit 0 when
every run succeeded, 1 otherwise. This is what `make run` and the DAG tests
use; production runs the same DAG under the scheduler (docker-compose.yml).

The Airflow environment must be in place before Airflow is imported, so the
work happens in a child process started with `airflow_env()`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

DAGS = Path(__file__).resolve().parents[3] / "dags"  # the project's dags/ (editable install)
DAG_ID = "hrlrec_daily"
MARK = "HRLREC-RUN "  # prefix of the summary lines on stdout (Airflow logs there too)


def airflow_env(workspace: Path, airflow_home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a self-contained Airflow: its own home and SQLite DB, the project's DAGs."""
    env = dict(os.environ if base is None else base)
    env.update(
        AIRFLOW_HOME=str(airflow_home),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{airflow_home / 'airflow.db'}",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__LOGGING__LOGGING_LEVEL=env.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"),
        HRLREC_WORKSPACE=str(workspace),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def run_days(
    workspace: Path,
    airflow_home: Path,
    days: list[str],
    log: Path | None = None,
    on_day: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run the DAG for `days` in a child process; returns one summary per day (state, task states).

    Airflow's own output goes to `log` (or nowhere); `on_day` sees each day's summary as it lands.
    """
    airflow_home.mkdir(parents=True, exist_ok=True)
    airflow_home = airflow_home.resolve()
    cmd = [sys.executable, "-m", "hrlrec.orchestration.local", "--workspace", str(workspace),
           "--airflow-home", str(airflow_home), *days]  # fmt: skip
    summaries: list[dict[str, Any]] = []
    with open(log or os.devnull, "a", encoding="utf-8") as err:
        env = airflow_env(workspace, airflow_home)
        with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=err, text=True) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith(MARK):
                    summaries.append(json.loads(line[len(MARK) :]))
                    if on_day:
                        on_day(summaries[-1])
    return summaries


def _prepare_db() -> None:
    """Migrate the metadata DB (idempotent) and make sure the `gpu` pool exists."""
    from airflow.models.pool import Pool
    from airflow.utils.db import initdb

    initdb()
    if Pool.get_pool("gpu") is None:
        Pool.create_or_update_pool("gpu", slots=1, description="GPU training, one task per GPU", include_deferred=False)


def _sweep_approval_timeouts(stop: threading.Event, every_s: float = 5.0) -> None:
    """Apply human-in-the-loop timeouts while dag.test() runs.

    The scheduler resolves approvals nobody answered in time (their default
    answer wins); dag.test() has no scheduler and would wait forever, so this
    thread runs the scheduler's own sweep (`check_awaiting_input_timeouts`).
    """
    import logging

    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    class _Sweeper:
        log = logging.getLogger("hrlrec.approval-timeouts")

    while not stop.wait(every_s):
        try:
            SchedulerJobRunner.check_awaiting_input_timeouts(_Sweeper())
        except Exception as exc:  # a busy SQLite database: try again next round
            _Sweeper.log.warning("approval timeout sweep failed (%s); retrying", exc)


def _dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    return bag.get_dag(DAG_ID)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hrlrec.orchestration.local", description=__doc__)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--airflow-home", type=Path, required=True)
    parser.add_argument("days", nargs="+")
    args = parser.parse_args(argv)
    home = args.airflow_home.resolve()
    if os.environ.get("AIRFLOW_HOME") != str(home):  # started by hand: re-run with the environment
        env = airflow_env(args.workspace.resolve(), home)
        return subprocess.call([sys.executable, "-m", "hrlrec.orchestration.local", *sys.argv[1:]], env=env)
    _prepare_db()
    dag = _dag()
    ok = True
    stop = threading.Event()
    threading.Thread(target=_sweep_approval_timeouts, args=(stop,), daemon=True).start()
    for ds in args.days:
        start = dt.datetime.now(dt.UTC)
        run = dag.test(logical_date=dt.datetime.fromisoformat(ds).replace(tzinfo=dt.UTC))
        instances = run.get_task_instances()
        states = {ti.task_id: str(ti.state) for ti in instances}
        durations = {ti.task_id: round(ti.duration, 1) for ti in instances if ti.duration is not None}
        seconds = (dt.datetime.now(dt.UTC) - start).total_seconds()
        print(MARK + json.dumps({"ds": ds, "run_id": run.run_id, "state": str(run.state), "seconds": round(seconds, 1),
                          "tasks": states, "durations": durations}), flush=True)  # fmt: skip
        ok &= str(run.state) == "success"
    stop.set()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
