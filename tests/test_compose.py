"""docker-compose.yml: the designed services, a GPU reservation, and no baked-in secrets."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from tests.conftest import ROOT

COMPOSE = (ROOT / "docker-compose.yml").read_text()


def test_has_the_designed_services() -> None:
    services = yaml.safe_load(COMPOSE)["services"]
    expected = {
        "postgres",
        "redis",
        "api-server",
        "scheduler",
        "dag-processor",
        "triggerer",
        "worker-cpu",
        "worker-gpu",
    }
    assert expected <= set(services)
    for name in expected - {"airflow-init"}:
        assert "healthcheck" in services[name], name


def test_gpu_worker_serves_queue_gpu_with_an_nvidia_reservation() -> None:
    gpu = yaml.safe_load(COMPOSE)["services"]["worker-gpu"]
    assert "gpu" in gpu["command"][gpu["command"].index("--queues") + 1]
    device = gpu["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]


def test_no_secret_has_a_default() -> None:
    for var in (
        "POSTGRES_PASSWORD",
        "REDIS_PASSWORD",
        "AIRFLOW_FERNET_KEY",
        "AIRFLOW_JWT_SECRET",
        "AIRFLOW_ADMIN_PASSWORD",
    ):
        uses = re.findall(r"\$\{" + var + r"([^}]*)\}", COMPOSE)
        assert uses, var
        assert all(not u.startswith(":-") and not u.startswith("-") for u in uses), (var, uses)
        assert any(u.startswith(":?") for u in uses), f"{var} must be required (${{{var}:?...}})"


def test_init_creates_the_gpu_pool_and_a_versioned_workspace() -> None:
    init = " ".join(yaml.safe_load(COMPOSE)["services"]["airflow-init"]["command"])
    assert "airflow db migrate" in init and "airflow pools set gpu" in init
    assert "hrlrec --workspace /workspace init --project /opt/hrlrec" in init and "HRLREC_DVC_REMOTE" in init


def test_the_api_server_listens_on_loopback_only() -> None:
    ports = yaml.safe_load(COMPOSE)["services"]["api-server"]["ports"]
    assert ports and all(str(p).startswith("127.0.0.1:") for p in ports), ports


def test_no_password_is_passed_on_a_command_line() -> None:
    for name, service in yaml.safe_load(COMPOSE)["services"].items():
        command = service.get("command") or []
        words = command if isinstance(command, list) else [command]
        assert not any("--requirepass" in w for w in words), name
        test = " ".join((service.get("healthcheck") or {}).get("test") or [])
        assert "redis-cli -a" not in test, name


FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"


def test_the_api_server_uses_the_fab_auth_manager_installed_in_the_image() -> None:
    """Issue 14 item 10: the api-server ran Airflow 3's development-only SimpleAuthManager."""
    services = yaml.safe_load(COMPOSE)["services"]
    for name in ("airflow-init", "api-server", "scheduler", "dag-processor", "worker-cpu", "worker-gpu"):
        assert services[name]["environment"]["AIRFLOW__CORE__AUTH_MANAGER"] == FAB, name
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r'"apache-airflow-providers-fab==\d+\.\d+\.\d+"', dockerfile), "pin the FAB provider"
    assert "SimpleAuthManager" not in json.dumps(services)


def test_the_first_admin_password_reaches_airflow_on_stdin_only(tmp_path: Path) -> None:
    """Run airflow-init's own shell line with a stand-in `airflow` that records its arguments and stdin.

    The stand-in isolates the shell plumbing (what `ps` would show); it does not claim to test Airflow.
    """
    init = yaml.safe_load(COMPOSE)["services"]["airflow-init"]["command"]
    assert init[:2] == ["bash", "-c"]
    line = init[2].replace("$$", "$")  # compose's escape for a literal $
    log = tmp_path / "calls.jsonl"
    for tool in ("airflow", "hrlrec"):
        stub = tmp_path / tool
        stub.write_text(
            "#!/usr/bin/env python3\nimport json, sys\n"
            "stdin = '' if sys.stdin.isatty() else sys.stdin.read()\n"
            f"call = {{'argv': [{tool!r}, *sys.argv[1:]], 'stdin': stdin}}\n"
            f"open({str(log)!r}, 'a').write(json.dumps(call) + '\\n')\n"
        )
        stub.chmod(0o755)
    secret = "s3cret-admin-pw"
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "AIRFLOW_ADMIN_USER": "oncall", "AIRFLOW_ADMIN_PASSWORD": secret,
           "AIRFLOW_ADMIN_EMAIL": "oncall@example.org"}  # fmt: skip
    subprocess.run(["bash", "-c", line], env=env, check=True, stdin=subprocess.DEVNULL, timeout=60)
    calls = [json.loads(x) for x in log.read_text().splitlines()]
    create = next(c for c in calls if c["argv"][1:3] == ["users", "create"])
    assert "oncall" in create["argv"] and "--password" not in create["argv"] and "-p" not in create["argv"]
    assert create["stdin"] == f"{secret}\n{secret}\n"  # getpass's prompt and its confirmation
    assert not any(secret in " ".join(c["argv"]) for c in calls)
    assert ["airflow", "fab-db", "migrate"] in [c["argv"] for c in calls]
