"""One writer per workspace: a second run waits, then says who holds the workspace; a dead holder frees it."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from hrlrec.errors import Busy
from hrlrec.workspace_lock import workspace_lock

CTX = multiprocessing.get_context("fork")


def _hold(root: str, started, seconds: float) -> None:
    with workspace_lock(Path(root), "train", "2026-11-08"):
        started.set()
        time.sleep(seconds)


def test_a_second_run_is_refused_naming_the_holder(tmp_path: Path) -> None:
    started = CTX.Event()
    holder = CTX.Process(target=_hold, args=(str(tmp_path), started, 5.0))
    holder.start()
    try:
        assert started.wait(20)
        busy = rf"workspace busy: step train of 2026-11-08 by pid {holder.pid} since "
        with pytest.raises(Busy, match=busy), workspace_lock(tmp_path, "evaluate", "2026-11-08", wait_s=0.3):
            pass
    finally:
        holder.kill()
        holder.join()


def test_a_killed_holder_frees_the_workspace(tmp_path: Path) -> None:
    started = CTX.Event()
    holder = CTX.Process(target=_hold, args=(str(tmp_path), started, 60.0))
    holder.start()
    assert started.wait(20)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join()
    with workspace_lock(tmp_path, "evaluate", "2026-11-08", wait_s=5):
        pass


def test_a_waiting_run_goes_ahead_when_the_holder_finishes(tmp_path: Path) -> None:
    started = CTX.Event()
    holder = CTX.Process(target=_hold, args=(str(tmp_path), started, 1.0))
    holder.start()
    assert started.wait(20)
    t0 = time.monotonic()
    with workspace_lock(tmp_path, "evaluate", "2026-11-08", wait_s=30):
        assert time.monotonic() - t0 > 0.3  # it waited for the holder
    holder.join()


def test_the_lock_is_re_entrant_within_a_process(tmp_path: Path) -> None:
    with (
        workspace_lock(tmp_path, "validate", "2026-11-08", wait_s=0.5),
        workspace_lock(tmp_path, "ingest", "2026-11-08", wait_s=0.5),
    ):
        pass
    with workspace_lock(tmp_path, "report", "2026-11-08", wait_s=0.5):  # released after the outer one
        pass


def test_a_torchrun_follower_rank_runs_while_its_rank_0_holds_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (CI 2026-12-02): rank 1 of a DDP train waited on rank 0's lock while rank 0 waited in a collective."""
    started = CTX.Event()
    holder = CTX.Process(target=_hold, args=(str(tmp_path), started, 5.0))
    holder.start()
    try:
        assert started.wait(20)
        monkeypatch.setenv("RANK", "1")
        with workspace_lock(tmp_path, "train", "2026-11-08", wait_s=0.3):
            pass  # no Busy: the follower does not take the lock
        monkeypatch.setenv("RANK", "0")
        with pytest.raises(Busy), workspace_lock(tmp_path, "train", "2026-11-08", wait_s=0.3):
            pass  # rank 0 (or a run outside torchrun) still does
    finally:
        holder.kill()
        holder.join()
