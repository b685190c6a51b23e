"""The real thing: PostgreSQL, `airflow scheduler`, `dag-processor` and `api-server` as processes.

The project's script starts a throwaway PostgreSQL cluster; Airflow runs with
LocalExecutor against it. The DAG run is triggered through the REST API with
a token from the simple auth manager. Its AUC gate is set to say WARN, so the
run stops at the human-in-the-loop approval; the test answers "Publish" with a
comment through the REST API, as the on-call would in the UI, and the run
reaches success with the candidate in production and the decision recorded.
Every process is stopped afterwards, whatever happened.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hrlrec import registry, results
from hrlrec.orchestration import local, versioning
from hrlrec.workspace import Workspace
from tests.conftest import ROOT, model_config

pytestmark = pytest.mark.slow

DS = "2026-11-04"
USER, PASSWORD = "oncall", secrets.token_hex(8)
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    """A small REST client for Airflow's public API (/api/v2) with a bearer token."""

    def __init__(self, base: str) -> None:
        self.base, self.token = base, None

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()[:500]
        except (urllib.error.URLError, ConnectionError):
            return 0, None

    def wait(self, what: str, check, timeout: float, every: float = 2.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            time.sleep(every)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict]:
    """PostgreSQL + api-server + scheduler + dag-processor on free ports; all stopped at the end."""
    pg_dir = Path(tempfile.mkdtemp(prefix="hrlrec-pg-"))  # under /tmp: the postgres user must reach it
    pg_port, api_port = _free_port(), _free_port()
    subprocess.run(["bash", str(ROOT / "scripts" / "postgres.sh"), "start", str(pg_dir), str(pg_port)], check=True)
    procs: list[subprocess.Popen] = []
    try:
        ws = versioning.init(tmp_path / "ws", ROOT)
        cfg = model_config("gates.auc.floor=0.5", "gates.auc.min_relaimpr=-1", "gates.auc.warn_margin=0.6",
                           "gates.stability.max_requests=64", "gates.export.min_identical_lists=0.8",
                           "gates.export.max_near_tie_share=1",
                           "airflow.retries=0", "airflow.schedule=null", "airflow.start_date=2026-11-01")  # fmt: skip
        (ws / "params.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
        home = tmp_path / "airflow"
        home.mkdir()
        (home / "passwords.json").write_text(json.dumps({USER: PASSWORD}))
        env = local.airflow_env(ws, home)
        env.update(
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"postgresql+psycopg2://airflow@127.0.0.1:{pg_port}/airflow",
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="4",
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{api_port}/execution/",
            AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{api_port}",
            AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(32),
            AIRFLOW__API__SECRET_KEY=secrets.token_hex(16),
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{USER}:admin",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(home / "passwords.json"),
            AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="2",
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
        )
        airflow = str(BIN / "airflow")
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
        subprocess.run([airflow, "pools", "set", "gpu", "1", "GPU training"], env=env, check=True,
                       capture_output=True, timeout=120)  # fmt: skip
        for component in (["api-server", "--port", str(api_port)], ["scheduler"], ["dag-processor"]):
            log = open(home / f"{component[0]}.log", "w")  # noqa: SIM115 (closed with the process)
            procs.append(subprocess.Popen([airflow, *component], env=env, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True))  # fmt: skip
        yield {"ws": ws, "home": home, "api": Api(f"http://127.0.0.1:{api_port}")}
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        subprocess.run(["bash", str(ROOT / "scripts" / "postgres.sh"), "stop", str(pg_dir)], check=False)
        subprocess.run(["rm", "-rf", str(pg_dir)], check=False)
    assert all(p.poll() is not None for p in procs), "an Airflow process outlived the test"


def _logs(home: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-2500:]}" for p in sorted(home.glob("*.log")))


def test_scheduler_runs_the_dag_triggered_through_the_api_and_a_human_approves(stack: dict) -> None:
    api, home = stack["api"], stack["home"]
    api.wait("the api-server", lambda: api.call("GET", "/api/v2/monitor/health")[0] == 200, 120)
    status, token = api.call("POST", "/auth/token", {"username": USER, "password": PASSWORD})
    assert status == 201, token
    api.token = token["access_token"]
    api.wait("the DAG to be parsed", lambda: api.call("GET", "/api/v2/dags/hrlrec_daily")[0] == 200, 180)
    status, run = api.call("POST", "/api/v2/dags/hrlrec_daily/dagRuns",
                           {"logical_date": f"{DS}T00:00:00Z", "conf": {}})  # fmt: skip
    assert status == 200, run
    assert api.call("PATCH", "/api/v2/dags/hrlrec_daily", {"is_paused": False})[0] == 200
    run_path = f"/api/v2/dags/hrlrec_daily/dagRuns/{urllib.parse.quote(run['dag_run_id'], safe='')}"

    def awaiting() -> bool:
        code, ti = api.call("GET", f"{run_path}/taskInstances/approve_warn")
        state = ti.get("state") if code == 200 else None
        if state in ("failed", "upstream_failed", "skipped"):
            raise AssertionError(f"approve_warn ended {state}:\n{_logs(home)}")
        return state == "awaiting_input"

    try:
        api.wait("the approval request", awaiting, 600)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{_logs(home)}") from None
    code, detail = api.call("GET", f"{run_path}/taskInstances/approve_warn/-1/hitlDetails")
    assert code == 200 and detail["options"] == ["Publish", "Keep production"], detail
    assert "WARN" in detail["subject"] and "index.html" in detail["body"]
    time.sleep(10)  # Airflow 3.3.2 can fail a task answered within seconds of parking (scheduler race)
    answer = {"chosen_options": ["Publish"], "params_input": {"comment": "read the report, fine"}}
    code, given = api.call("PATCH", f"{run_path}/taskInstances/approve_warn/-1/hitlDetails", answer)
    assert code == 200, given

    def finished() -> str | None:
        state = api.call("GET", run_path)[1]["state"]
        return state if state in ("success", "failed") else None

    assert api.wait("the run to finish", finished, 600) == "success", _logs(home)
    code, tis = api.call("GET", f"{run_path}/taskInstances")
    states = {t["task_id"]: t["state"] for t in tis["task_instances"]}
    assert states["publish_approved"] == "success" and states["publish"] == "skipped", states
    ws = Workspace.open(stack["ws"])
    production = registry.production(ws)
    assert production is not None and production.meta["ds"] == DS
    decision = results.read(ws.layout, "publish", DS)["decision"]
    assert decision == {**decision, "approved": True, "by": USER, "via": "airflow-hitl",
                        "comment": "read the report, fine"}  # fmt: skip
    code, links = api.call("GET", f"{run_path}/taskInstances/report/links")
    assert code == 200 and links["extra_links"]["On-call report"].endswith(f"reports/ds={DS}/index.html"), links
    code, events = api.call("GET", "/api/v2/assets/events?limit=10")
    assert code == 200 and any(e["extra"].get("version") == production.name for e in events["asset_events"])
