"""docker-compose.yml: the designed services, a GPU reservation, and no baked-in secrets."""

from __future__ import annotations

import re

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
    for var in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET"):
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
