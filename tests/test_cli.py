"""The installed `hrlrec` entry point, run as a user runs it (a real subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hrlrec import pipeline
from hrlrec.layout import SUCCESS
from hrlrec.workspace import Workspace
from tests.conftest import DAY, ROOT

HRLREC = Path(sys.executable).with_name("hrlrec")


def hrlrec(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HRLREC), *args], cwd=cwd, capture_output=True, text=True, timeout=120, env={**os.environ}, check=False
    )


def _workspace(tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    return tmp_path


def test_help_lists_every_step_with_a_line() -> None:
    out = hrlrec("--help", cwd=ROOT)
    assert out.returncode == 0
    for step in ("simulate", "land", "ingest", "validate"):
        assert step in out.stdout
    assert "Exit codes" in out.stdout


def test_simulate_then_ingest_under_the_workspace(tmp_path: Path) -> None:
    ws = _workspace(tmp_path / "ws")
    small = "-S", "profiles.small.simulator_users=300"
    sim = hrlrec("--workspace", str(ws), *small, "simulate", "--start", DAY, "--days", "2", cwd=tmp_path)
    assert sim.returncode == 0, sim.stderr
    layout = Workspace.open(ws).layout
    assert (layout.landing_day(DAY) / SUCCESS).is_file()
    # options after the step work too
    ing = hrlrec("ingest", "--ds", DAY, "--no-backfill", "--workspace", str(ws), cwd=tmp_path)
    assert ing.returncode == 0, ing.stderr
    assert f"ingested {DAY}" in ing.stdout
    assert pq.read_table(layout.raw_day(DAY)).num_rows > 0


def test_default_workspace_is_the_current_directory(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    small = ("-S", "profiles.small.simulator_users=200")
    land = hrlrec(*small, "land", "--ds", DAY, "--no-backfill", cwd=ws)
    assert land.returncode == 0, land.stderr
    out = hrlrec(*small, "ingest", "--ds", DAY, "--no-backfill", cwd=ws)
    assert out.returncode == 0, out.stderr
    assert (Workspace.open(ws).layout.raw_day(DAY) / SUCCESS).is_file()


def test_contract_breach_exits_2_with_a_message_not_a_traceback(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    day = Workspace.open(ws).layout.landing_day(DAY)
    day.mkdir(parents=True)
    (day / "part-0.parquet").write_bytes(b"garbage")
    (day / SUCCESS).touch()
    out = hrlrec("ingest", "--ds", DAY, "--no-backfill", cwd=ws)
    assert out.returncode == 2
    assert "not a readable Parquet file" in out.stderr and "Traceback" not in out.stderr
    assert not (ws / "data").exists()


def test_bad_params_exit_2_naming_the_key(tmp_path: Path) -> None:
    out = hrlrec("-S", "simulator.userz=3", "simulate", "--start", DAY, cwd=_workspace(tmp_path))
    assert out.returncode == 2
    assert "simulator.userz: unknown key" in out.stderr


def test_paths_outside_the_workspace_exit_2_and_write_nothing(tmp_path: Path) -> None:
    ws = _workspace(tmp_path / "ws")
    outside = tmp_path / "elsewhere"
    out = hrlrec("simulate", "--start", DAY, "--out", str(outside), cwd=ws)
    assert out.returncode == 2 and "is outside the workspace" in out.stderr and not outside.exists()
    out = hrlrec("simulate", "--start", DAY, "--out", "../elsewhere", cwd=ws)
    assert out.returncode == 2 and not outside.exists()
    out = hrlrec("-S", "paths.data_docs=/abs", "simulate", "--start", DAY, cwd=ws)
    assert out.returncode == 2 and "paths.data_docs: '/abs' must be a relative path inside the workspace" in out.stderr
    assert "Traceback" not in out.stderr


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    assert hrlrec("ingest", "--ds", "2026-11-31", cwd=tmp_path).returncode == 2
    assert hrlrec("simulate", "--start", DAY, "--days", "0", cwd=tmp_path).returncode == 2
    assert hrlrec("frobnicate", cwd=tmp_path).returncode == 2


def test_validate_exit_codes_and_release(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    layout = Workspace.open(ws).layout
    small = ("-S", "profiles.small.simulator_users=300")
    assert hrlrec(*small, "land", "--ds", DAY, "--no-backfill", cwd=ws).returncode == 0
    assert hrlrec(*small, "ingest", "--ds", DAY, "--no-backfill", cwd=ws).returncode == 0
    ok = hrlrec(*small, "validate", "--ds", DAY, "--no-backfill", cwd=ws)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("PASS") and "SKIPPED volume" in ok.stdout and "data docs:" in ok.stdout

    # A day with a dwell time but no click: a clean "no" (exit 1), quarantined, with the way out printed.
    raw = layout.raw_day(DAY) / "part-00000.parquet"
    table = pq.read_table(raw)
    dwell = [5.0] * table.num_rows
    table = table.set_column(
        table.schema.get_field_index("dwell_time_s"), "dwell_time_s", pa.array(dwell, pa.float32())
    )
    pq.write_table(table, raw)
    bad = hrlrec(*small, "validate", "--ds", DAY, "--no-backfill", cwd=ws)
    assert bad.returncode == 1, bad.stderr
    assert "FAILED no_dwell_without_click [dwell_without_click]" in bad.stdout
    assert "--accept --reason" in bad.stdout
    assert layout.quarantine_day(DAY).is_dir()

    assert hrlrec("validate", "--ds", DAY, "--accept", cwd=ws).returncode == 2  # no reason given
    released = hrlrec("validate", "--ds", DAY, "--accept", "--reason", "known logger bug", cwd=ws)
    assert released.returncode == 0, released.stderr
    assert released.stdout.startswith("WARN") and "known logger bug" in released.stdout
    assert hrlrec("validate", "--ds", "2026-12-01", "--no-backfill", cwd=ws).returncode == 2  # never ingested


def test_an_unexpected_error_exits_3_with_one_line_and_the_traceback_in_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hrlrec import cli

    def broken(ws, ds, **options):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(pipeline.Step, "function", lambda self: broken)
    code = cli.main(["--workspace", str(_workspace(tmp_path)), "evaluate", "--ds", DAY])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == cli.UNEXPECTED == 3
    last = err[-1]
    assert "unexpected error ZeroDivisionError: a bug" in last and "traceback in" in last
    trace = Path(last.rsplit("traceback in ", 1)[1].rstrip(")"))
    assert "ZeroDivisionError" in trace.read_text() and "Traceback" not in "\n".join(err)
