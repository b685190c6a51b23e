"""hrlrec_daily run by real Airflow (dag.test() on SQLite) on a tiny world, in a versioned workspace.

One workspace for the module, days in order: a clean day runs through publish
and is versioned (then restored from its git tag and the DVC remote in a
fresh clone); a corrupted day is quarantined, fails the run, leaves production
alone and notifies; a day whose gate says WARN waits for a human and, with
nobody answering, keeps production (the timeout's default).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from hrlrec import contract, registry, results, simulator
from hrlrec.orchestration import local, versioning
from hrlrec.workspace import Workspace
from tests.conftest import ROOT, model_config

pytestmark = pytest.mark.slow

CLEAN, CORRUPT, WARNED = "2026-11-04", "2026-11-05", "2026-11-06"


def _params(*extra: str) -> str:
    cfg = model_config(
        "gates.auc.floor=0.5", "gates.auc.min_relaimpr=-1", "gates.auc.max_drop=1",
        "gates.stability.max_requests=64", "gates.export.min_identical_lists=0.8",
                           "gates.export.max_near_tie_share=1",
        "airflow.retries=0", "airflow.start_date=2026-11-01", "airflow.approval_timeout_s=3", *extra,
    )  # fmt: skip
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)


@pytest.fixture(scope="module")
def daily(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("daily")
    ws = versioning.init(base / "ws", ROOT)
    (ws / "params.yaml").write_text(_params())
    home = base / "airflow"
    return {"ws": ws, "home": home, "log": base / "airflow.log"}


def _run(daily: dict, ds: str) -> dict:
    (summary,) = local.run_days(daily["ws"], daily["home"], [ds], log=daily["log"])
    return summary


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_clean_day_runs_through_publish_and_its_tag_restores_it(daily: dict, tmp_path: Path) -> None:
    summary = _run(daily, CLEAN)
    tasks = summary["tasks"]
    assert summary["state"] == "success", (summary, daily["log"].read_text()[-3000:])
    for task in ("land", "wait_for_landing", "ingest", "validate", "dataset", "train", "evaluate", "stability",
                 "export", "decide", "publish", "report", "version"):  # fmt: skip
        assert tasks[task] == "success", (task, tasks)
    assert tasks["approve_warn"] == "skipped" and tasks["publish_approved"] == "skipped"
    ws = Workspace.open(daily["ws"])
    production = registry.production(ws)
    assert production is not None and production.meta["ds"] == CLEAN
    assert ws.layout.report_page(CLEAN).is_file()
    tags = subprocess.run(["git", "tag"], cwd=ws.root, capture_output=True, text=True, check=True).stdout.split()
    assert versioning.tag_of(CLEAN) in tags

    # git checkout <tag> && dvc pull, in a fresh clone, gives back exactly that day's data and models.
    originals = {
        rel: _sha(ws.root / rel)
        for rel in (path.relative_to(ws.root) for path in (
            ws.layout.candidate_weights(CLEAN), ws.layout.export_day(CLEAN) / "item_logits.onnx",
            ws.layout.dataset_meta(CLEAN), production.weights(),
        ))
    }  # fmt: skip
    clone = tmp_path / "restore"
    subprocess.run(["git", "clone", "--quiet", str(ws.root), str(clone)], check=True)
    subprocess.run(["git", "checkout", "--quiet", versioning.tag_of(CLEAN)], cwd=clone, check=True)
    pulled = subprocess.run([sys.executable, "-m", "dvc", "pull", "--quiet"], cwd=clone, capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert pulled.returncode == 0, pulled.stderr
    assert {rel: _sha(clone / rel) for rel in originals} == originals
    assert yaml.safe_load((clone / "params.yaml").read_text())["ds"] == CLEAN


def _corrupt_landing(ws: Path, ds: str) -> None:
    """Dwell time on impressions nobody clicked: passes the structural contract, fails validation."""
    w = Workspace.open(ws)
    simulator.run(w.cfg, ds, 1, w.layout.landing)
    for f in sorted(w.layout.landing_day(ds).glob("*.parquet"))[:1]:
        table = pq.read_table(f)
        dwell = table.column("dwell_time_s").to_numpy(zero_copy_only=False).copy()
        unclicked = np.flatnonzero(table.column("clicked").to_numpy() == 0)[:400]
        dwell[unclicked] = 12.5
        field = contract.SCHEMA.field("dwell_time_s")
        table = table.set_column(table.schema.get_field_index("dwell_time_s"), field, pa.array(dwell, field.type))
        pq.write_table(table, f)


def test_a_corrupted_day_is_quarantined_fails_the_run_and_notifies(daily: dict) -> None:
    ws = Workspace.open(daily["ws"])
    before = registry.production(ws)
    _corrupt_landing(ws.root, CORRUPT)
    summary = _run(daily, CORRUPT)
    tasks = summary["tasks"]
    assert summary["state"] == "failed"
    assert tasks["validate"] == "failed" and tasks["train"] == "upstream_failed"
    assert tasks["publish"] == "upstream_failed" and tasks["report"] == "success"
    assert ws.layout.quarantine_day(CORRUPT).is_dir()
    assert registry.production(ws).name == before.name  # production untouched
    notes = [json.loads(line) for line in ws.layout.notifications.read_text().splitlines()]
    note = next(n for n in notes if n["ds"] == CORRUPT)
    assert note["task_id"] == "validate" and note["verdict"].startswith(f"validate {CORRUPT}: FAIL")
    assert note["report"].endswith(f"reports/ds={CORRUPT}/index.html") and Path(note["report"]).is_file()
    page = Path(note["report"]).read_text()
    assert "FAIL" in page and "hrlrec validate" in page and "--accept" in page


def test_a_warn_nobody_answers_keeps_production_and_records_the_timeout(daily: dict) -> None:
    ws = Workspace.open(daily["ws"])
    before = registry.production(ws)
    # A warn margin wider than any AUC: the AUC gate says WARN, so the DAG asks a human.
    (ws.root / "params.yaml").write_text(_params("gates.auc.warn_margin=0.6"))
    try:
        summary = _run(daily, WARNED)
    finally:
        (ws.root / "params.yaml").write_text(_params())
    tasks = summary["tasks"]
    assert summary["state"] == "success", summary
    assert tasks["approve_warn"] == "success" and tasks["keep_production"] == "success"
    assert tasks["publish"] == "skipped" and tasks["publish_approved"] == "skipped"
    assert registry.production(ws).name == before.name
    record = results.read(ws.layout, "publish", WARNED)
    assert record["published"] is False and record["decision"]["approved"] is False
    assert record["decision"]["by"].startswith("timeout after 3s")
    assert "timeout after 3s" in ws.layout.report_page(WARNED).read_text()
