"""One writer per workspace: every pipeline step runs holding the workspace's lock.

The CLI, `dvc repro` and Airflow's tasks all call `hrlrec.pipeline.run`, so
they all take this lock: two of them can never interleave their writes to
the same days, candidates or registry (the DAG's max_active_runs=1 alone only
covers Airflow). The lock is an flock on `<workspace>/.hrlrec.lock`, which
also says who holds it (step, day, pid, since), so a waiting or refused run
can name the holder. The kernel releases it when the holder dies: a killed
run never leaves the workspace locked. Re-entrant within one process (a step
that runs another step does not wait for itself). Steps that Airflow runs in
parallel (the three gates) take turns.

A torchrun job is one writer: its rank-0 process takes the lock for the job,
and the other ranks (which write nothing) run without it. Were every rank to
take it, rank 1 would wait for rank 0 while rank 0 waits for rank 1 in the
first collective: a deadlock until WAIT_S.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hrlrec.atomic import flock_waiting

log = logging.getLogger(__name__)

LOCK_FILE = ".hrlrec.lock"
WAIT_S = 3600.0  # a run waits this long for the workspace before giving up (training can take a while)

_held: dict[str, int] = {}  # workspace root -> nesting depth in this process
_guard = threading.Lock()


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096).decode() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another process"
    return f"step {info.get('step')} of {info.get('ds')} by pid {info.get('pid')} since {info.get('since')}"


def _follower_rank() -> bool:
    """True in a torchrun worker other than rank 0 (RANK is set by torchrun for every worker)."""
    return os.environ.get("RANK", "0").strip() not in ("", "0")


@contextmanager
def workspace_lock(root: Path, step: str, ds: str, wait_s: float | None = None) -> Iterator[None]:
    """Hold `root`'s workspace lock while running `step` for `ds`; Busy (exit 2) after `wait_s` seconds."""
    if _follower_rank():
        log.debug("rank %s of a torchrun job: its rank 0 holds the workspace lock", os.environ.get("RANK"))
        yield
        return
    key = str(Path(root).resolve())
    with _guard:
        if _held.get(key):
            _held[key] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _guard:
                _held[key] -= 1
        return
    Path(root).mkdir(parents=True, exist_ok=True)
    wait_s = WAIT_S if wait_s is None else wait_s
    fd = os.open(Path(root) / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        flock_waiting(
            fd, wait_s,
            busy=lambda: f"workspace busy: {_holder(fd)} (waited {wait_s:.0f} s for {root}); nothing was changed, "
            "run again when it has finished",
            on_wait=lambda: log.info("waiting for the workspace %s: %s", root, _holder(fd)),
            poll_s=0.2,
        )  # fmt: skip
        since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"step": step, "ds": ds, "pid": os.getpid(), "since": since}).encode(), 0)
        with _guard:
            _held[key] = 1
        try:
            yield
        finally:
            with _guard:
                _held[key] = 0
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock
