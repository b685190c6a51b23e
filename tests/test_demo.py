"""`make run`'s driver, end to end through Airflow on a tiny world in a throwaway workspace."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from hrlrec import demo
from hrlrec.workspace import Workspace
from tests.conftest import model_config


@pytest.mark.slow
def test_make_run_drives_the_dag_day_by_day_and_versions_published_days(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = model_config(
        "gates.auc.floor=0.5", "gates.auc.min_relaimpr=-1", "gates.auc.max_drop=1",
        "gates.stability.max_requests=64", "gates.export.min_identical_lists=0.8",
        "gates.export.max_near_tie_share=1", "airflow.retries=0",
    )  # fmt: skip
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    ws = tmp_path / "ws"
    code = demo.main(["--workspace", str(ws), "--params", str(params), "--days", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2026-11-07 Sat" in out and "2026-11-08 Sun" in out  # the 2 days ending at ds, one row each
    assert out.count("success (") == 2 and "hrlrec 0." in out and "lr 0." in out
    assert "mean seconds per task: " in out and "train" in out
    assert "ds-2026-11-07 ds-2026-11-08" in out  # versioned days
    tags = subprocess.run(["git", "tag"], cwd=ws, capture_output=True, text=True, check=True).stdout.split()
    assert tags == ["ds-2026-11-07", "ds-2026-11-08"]
    assert Workspace.open(ws).layout.report_page("2026-11-08").is_file()
    assert (tmp_path / "ws.dvc-remote").is_dir() and any((tmp_path / "ws.dvc-remote").rglob("*"))
