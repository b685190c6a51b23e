"""bench/make_run_pair.py reads `make run`'s summary and compares two runs: on crafted output."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_make_run_pair", ROOT / "bench" / "make_run_pair.py")
pair = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pair)

OUTPUT = """\
day                  rows  valid  test-day AUC                  AUC  stab  onnx   published             airflow run
2026-11-01 Sun    229,320  PASS   hrlrec 0.7798  lr 0.7498      PASS PASS* PASS   2026-11-01-e508a86c   success (296s)
2026-11-02 Mon    196,180  PASS   hrlrec 0.7807  lr 0.7488      FAIL PASS* PASS   -                     success (282s)

ran 2 of 2 days through Airflow in 578s
"""


def test_the_summary_line_and_the_published_ids_are_read() -> None:
    got = pair.parsed(OUTPUT)
    assert (got["days_ran"], got["days_asked"], got["airflow_seconds"]) == (2, 2, 578)
    assert got["published"] == {"2026-11-01": "2026-11-01-e508a86c"}  # 11-02 published nothing
    assert got["verdicts"] == {"2026-11-01": "PASS PASS PASS* PASS success",
                               "2026-11-02": "PASS FAIL PASS* PASS success"}  # fmt: skip


def test_a_run_that_never_reached_its_summary_says_so() -> None:
    with pytest.raises(ValueError, match="did not reach its summary"):
        pair.parsed(OUTPUT.rsplit("ran ", 1)[0])


def test_ratios_and_differing_ids() -> None:
    new = {"wall_seconds": 1200, **pair.parsed(OUTPUT)}
    old_output = OUTPUT.replace("e508a86c", "d21cc421").replace("in 578s", "in 1200s")
    old = {"wall_seconds": 2500, **pair.parsed(old_output)}
    got = pair.compared(new, old)
    assert got["wall_ratio"] == 0.48 and got["airflow_ratio"] == round(578 / 1200, 3)
    assert got["ids_differ"] == ["2026-11-01"]
    assert pair.compared(new, new)["ids_differ"] == []


def test_days_whose_verdicts_differ_are_named_with_both_sides() -> None:
    new = pair.parsed(OUTPUT)
    old = pair.parsed(OUTPUT.replace("FAIL PASS* PASS", "PASS WARN  PASS").replace("success (282s)", "failed (90s)"))
    got = pair.compared(new, old)
    assert got["verdicts_differ"] == {"2026-11-02": ["PASS FAIL PASS* PASS success", "PASS PASS WARN PASS failed"]}
    assert "wall_ratio" not in got  # saved logs carry no wall time
    assert pair.compared(new, new)["verdicts_differ"] == {}


def test_two_saved_logs_are_compared_without_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "new.log").write_text(OUTPUT)
    (tmp_path / "old.log").write_text(OUTPUT.replace("in 578s", "in 1156s"))
    assert pair.main(["--logs", str(tmp_path / "new.log"), str(tmp_path / "old.log")]) == 0
    out = capsys.readouterr().out
    assert '"airflow_ratio": 0.5' in out and '"verdicts_differ": {}' in out
