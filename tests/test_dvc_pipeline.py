"""`dvc repro` runs the stages built so far, for real, in a throwaway copy of the project."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from hrlrec import pipeline
from tests.conftest import ROOT, model_config

BIN = Path(sys.executable).parent


def run(*cmd: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "DVC_NO_ANALYTICS": "1"}
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}"
    return out


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The project's pipeline files in a fresh git + DVC repo (never the developer's checkout)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("dvc.yaml", "params.yaml", ".gitignore", ".dvcignore"):
        shutil.copy(ROOT / name, repo / name)
    shutil.copytree(ROOT / "data_checks", repo / "data_checks")
    shutil.copytree(ROOT / "src", repo / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    # The project's params with a world and model small enough for a test.
    # (gate thresholds lowered: a tiny model is not expected to reach the production floor)
    # (and the export's list parity: the 1-epoch model's top similarities lie within 1e-5 of each other, so
    # runtimes split near ties; tests/test_serving.py holds parity to 99.9 % and this test reports the ties)
    cfg = model_config("gates.auc.floor=0.5", "gates.auc.min_relaimpr=-1", "gates.stability.max_requests=64",
                       "gates.export.min_identical_lists=0.8", "gates.export.max_near_tie_share=1")  # fmt: skip
    (repo / "params.yaml").write_text(yaml.safe_dump(cfg.model_dump(), sort_keys=False))
    run("git", "init", "-q", cwd=repo)
    run(str(BIN / "dvc"), "init", "-q", cwd=repo)
    return repo


@pytest.mark.slow
def test_dvc_repro_builds_the_day_and_is_then_up_to_date(project_copy: Path) -> None:
    dvc = str(BIN / "dvc")
    ds = yaml.safe_load((project_copy / "params.yaml").read_text())["ds"]
    run(dvc, "repro", cwd=project_copy)
    raw = project_copy / "data" / "raw"
    assert pq.read_table(raw / f"ds={ds}").num_rows > 0
    # backfill (on by default) brought in the window the dataset reads (train_days 2 + lookback 2 here)
    assert len(list(raw.glob("ds=*"))) == 5
    lock = yaml.safe_load((project_copy / "dvc.lock").read_text())
    assert set(lock["stages"]) == {s.name for s in pipeline.STEPS}
    metrics = json.loads(run(dvc, "metrics", "show", "--json", cwd=project_copy).stdout)
    shown = metrics[""]["data"]
    assert shown["metrics/validate.json"]["data"]["verdict"] == "PASS"
    assert shown["metrics/evaluate.json"]["data"]["verdict"] == "PASS"
    assert "no baseline a week back" in shown["metrics/stability.json"]["data"]["reason"]
    assert 0.5 < shown["metrics/train.json"]["data"]["models"]["hrlrec"]["auc"] <= 1.0
    assert (project_copy / "models" / "candidates" / f"ds={ds}" / "hrlrec.pt").is_file()
    exported = shown["metrics/export.json"]["data"]
    assert exported["verdict"] == "PASS"
    assert exported["numbers"]["differing_at_near_tie"] == exported["numbers"]["differing_requests"]
    assert shown["metrics/publish.json"]["data"]["published"] is True
    assert (project_copy / "models" / "registry" / "production.json").is_file()
    assert "up to date" in run(dvc, "status", cwd=project_copy).stdout
    # dvc plots show renders AUC over days and the channel proportions (self-contained HTML).
    run(dvc, "plots", "show", "--out", "plots-out", cwd=project_copy)
    page = (project_copy / "plots-out" / "index.html").read_text()
    assert "AUC over days" in page and "Channel proportions per hour bucket" in page and "candidate_auc" in page

    # A failing gate stops the pipeline with the gate's words (and DVC's non-zero exit).
    params = yaml.safe_load((project_copy / "params.yaml").read_text())
    params["gates"]["auc"]["floor"] = 0.99
    (project_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    failed = subprocess.run(
        [dvc, "repro"], cwd=project_copy, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
    )  # fmt: skip
    assert failed.returncode != 0 and "is below 0.9900" in failed.stdout + failed.stderr

    # A parameter change re-runs exactly the stages that read it, as `dvc exp run -S` would.
    params = yaml.safe_load((project_copy / "params.yaml").read_text())
    params["gates"]["auc"]["floor"] = 0.5  # back to the value the lock recorded
    params["seed"] = 11
    (project_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    changed = _changed_stages(run(dvc, "status", "--json", cwd=project_copy).stdout)
    readers = {s.name for s in pipeline.STEPS if "seed" in s.params or pipeline.ALL_PARAMS in s.params}
    assert "stability" in changed and "land" in changed  # both read `seed`
    assert changed == readers, f"dvc status says {sorted(changed)}; the step table says {sorted(readers)}"
    dag = run(dvc, "dag", cwd=project_copy).stdout
    assert all(s.name in dag for s in pipeline.STEPS)


def _changed_stages(status_json: str) -> set[str]:
    """Stage names `dvc status --json` reports as changed (keys look like `dvc.yaml:stage`)."""
    return {key.split(":")[-1] for key in json.loads(status_json or "{}")}
