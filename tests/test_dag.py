"""The hrlrec_daily DAG's integrity, read the way Airflow reads it (a DagBag, in a clean process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hrlrec.orchestration.local import DAGS, airflow_env

PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags["hrlrec_daily"]
heavy = sorted(m for m in ("torch", "great_expectations", "pandas", "onnxruntime", "matplotlib") if m in sys.modules)
tasks = {}
for t in dag.tasks:
    tasks[t.task_id] = {
        "type": type(t).__name__, "retries": t.retries, "backoff": float(t.retry_exponential_backoff or 0),
        "pool": t.pool, "queue": t.queue, "trigger_rule": str(t.trigger_rule),
        "upstream": sorted(t.upstream_task_ids), "mode": getattr(t, "mode", None),
        "timeout": getattr(t, "timeout", None), "outlets": [getattr(o, "name", None) for o in t.outlets],
        "callbacks": [type(c).__name__ for c in (t.on_failure_callback or [])]
        if isinstance(t.on_failure_callback, list) else [type(t.on_failure_callback).__name__],
        "links": [l.name for l in (t.operator_extra_links or [])],
    }
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "heavy": heavy,
                  "schedule": str(dag.schedule), "catchup": dag.catchup, "max_active_runs": dag.max_active_runs,
                  "tasks": tasks, "order": [t.task_id for t in dag.topological_sort()]}))
"""


@pytest.fixture(scope="module")
def dag_info(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("dag")
    env = airflow_env(root / "ws", root / "airflow")
    out = subprocess.run([sys.executable, "-c", PROBE, str(DAGS)], env=env, capture_output=True, text=True,
                         timeout=120, check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_dag_file_parses_without_heavy_imports(dag_info: dict) -> None:
    assert dag_info["errors"] == {}
    assert dag_info["heavy"] == [], "the DAG file must not import torch, Great Expectations, pandas ... at parse time"


def test_schedule_catchup_and_one_run_at_a_time(dag_info: dict) -> None:
    assert "1 day" in dag_info["schedule"] or "@daily" in dag_info["schedule"] or "0 0 * * *" in dag_info["schedule"]
    assert dag_info["catchup"] is True and dag_info["max_active_runs"] == 1


def test_expected_tasks_in_dependency_order(dag_info: dict) -> None:
    tasks, order = dag_info["tasks"], dag_info["order"]
    assert set(tasks) == {
        "land", "wait_for_landing", "ingest", "validate", "dataset", "train", "evaluate", "stability", "export",
        "decide", "publish", "warnings", "approve_warn", "after_approval", "publish_approved", "keep_production",
        "report", "version",
    }  # fmt: skip
    chain = ["land", "wait_for_landing", "ingest", "validate", "dataset", "train"]
    assert [t for t in order if t in chain] == chain  # topological_sort also proves there is no cycle
    for gate in ("evaluate", "stability", "export"):
        assert tasks[gate]["upstream"] == ["train"]
    assert tasks["decide"]["upstream"] == ["evaluate", "export", "stability"]
    assert tasks["approve_warn"]["type"] == "HITLOperator" and tasks["approve_warn"]["upstream"] == ["warnings"]
    assert tasks["publish_approved"]["upstream"] == tasks["keep_production"]["upstream"] == ["after_approval"]
    assert tasks["report"]["trigger_rule"].lower().endswith("all_done")
    assert set(tasks["version"]["upstream"]) == {"publish", "publish_approved", "report"}


def test_retries_pools_sensor_notifier_and_asset(dag_info: dict) -> None:
    tasks = dag_info["tasks"]
    for io in ("land", "ingest", "dataset", "publish", "publish_approved", "report", "version"):
        assert tasks[io]["retries"] >= 1 and tasks[io]["backoff"] >= 2.0, io
    for gate in ("validate", "evaluate", "stability", "export", "decide"):
        assert tasks[gate]["retries"] == 0, f"{gate}: a gate's FAIL is an answer, never retried"
    assert tasks["train"]["pool"] == "gpu" and tasks["train"]["queue"] == "gpu"
    sensor = tasks["wait_for_landing"]
    assert sensor["mode"] == "reschedule" and sensor["timeout"] and sensor["timeout"] > 0
    assert all("PipelineNotifier" in t["callbacks"] for t in tasks.values())
    assert tasks["publish"]["outlets"] == tasks["publish_approved"]["outlets"] == ["hrlrec_production_model"]
    assert "On-call report" in tasks["report"]["links"]


def test_dags_folder_holds_only_thin_wiring() -> None:
    source = (Path(DAGS) / "hrlrec_daily.py").read_text()
    assert "import torch" not in source and "great_expectations" not in source
    assert source.count("from hrlrec.orchestration import tasks") >= 10  # every task is one call into tasks
