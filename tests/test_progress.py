"""Progress: a bar on a terminal, periodic log lines with an ETA under Airflow and CI, nothing when off."""

from __future__ import annotations

import logging

import pytest

from hrlrec import progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_without_a_terminal_it_logs_a_line_with_count_rate_and_eta_every_interval(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("HRLREC_PROGRESS", "log")
    clock = FakeClock()
    shown = progress.Progress("ranking 100 requests", 100, unit="requests", every_s=30, clock=clock)
    with caplog.at_level(logging.INFO, logger="hrlrec.progress"):
        for _ in range(10):
            clock.now += 2.0  # 10 requests in 20 s: too soon for a line
            shown.update()
        assert caplog.records == []
        for _ in range(10):
            clock.now += 2.0
            shown.update()
        shown.note(loss="0.4210")
        clock.now += 40.0
        shown.update(5)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "ranking 100 requests: 15/100 (15%), 0.5 requests/s, ETA 2:50"
    assert len(lines) == 2 and lines[1].startswith("ranking 100 requests: 25/100 (25%)")
    assert lines[1].endswith("loss 0.4210")


def test_an_unknown_total_reports_elapsed_time_instead_of_an_eta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HRLREC_PROGRESS", "log")
    clock = FakeClock()
    shown = progress.Progress("simulating", None, unit="chunks", clock=clock)
    clock.now = 65.0
    shown.update(13)
    assert shown.line() == "simulating: 13, 0.2 chunks/s, elapsed 1:05"


def test_track_counts_weighted_items_and_yields_every_item(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HRLREC_PROGRESS", "off")
    assert list(progress.track(range(0, 10, 4), "batches", total=10, weight=lambda i: min(4, 10 - i))) == [0, 4, 8]


def test_on_a_terminal_it_draws_a_bar_and_off_means_silent(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("HRLREC_PROGRESS", "bar")
    list(progress.track(range(3), "training epoch 1/2", unit="batches"))
    assert "training epoch 1/2" in capsys.readouterr().err
    monkeypatch.setenv("HRLREC_PROGRESS", "off")
    list(progress.track(range(3), "quiet"))
    assert capsys.readouterr().err == ""
    list(progress.track(range(3), "disabled", enabled=False))  # a caller may switch it off (--no-progress)
    assert capsys.readouterr().err == ""


def test_a_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HRLREC_PROGRESS", "fancy")
    with pytest.raises(ValueError, match="HRLREC_PROGRESS='fancy': choose one of bar, log, off"):
        progress.mode()
