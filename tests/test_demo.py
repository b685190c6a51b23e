"""`make run`'s driver, end to end on a small world in a throwaway workspace."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hrlrec import demo
from tests.conftest import model_config


@pytest.mark.slow
def test_demo_simulates_and_ingests_consecutive_days(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(model_config().model_dump()))
    ws = tmp_path / "ws"
    assert demo.main(["--workspace", str(ws), "--params", str(tmp_path / "params.yaml"), "--days", "3"]) == 0
    out = capsys.readouterr().out
    assert "2026-11-06" in out and "2026-11-08" in out  # the 3 days ending at ds
    assert "not built yet" in out and "hrlrec 0." in out and "AUC gate " in out and "stability PASS" in out
    assert sorted(p.name for p in (ws / "data" / "raw").iterdir()) == [
        "ds=2026-11-06",
        "ds=2026-11-07",
        "ds=2026-11-08",
    ]
    # A second run reuses the workspace and its params, and rewrites the same days.
    assert demo.main(["--workspace", str(ws), "--days", "3"]) == 0
