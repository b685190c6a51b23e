"""Atomic writes: a reader sees the old output or the new one, never half of one.

Every step writes its outputs through these helpers. A directory is built under
a hidden temporary name beside its destination (same filesystem, so `rename`
is atomic) and swapped in only when complete; a killed task leaves at most a
hidden `.NAME.tmp-*` folder, which the next run of the same step removes.

Writers of one output exclude each other with an advisory lock (`locked`) on
the folder that holds it: the CLI, `dvc repro` and Airflow may all write the
same workspace, and without it a second run would delete the first one's
temporary folder as a "leftover". Locking the parent folder (an flock on its
descriptor) leaves no lock file among the outputs, at the price of making two
writers of sibling outputs (two days of data/raw) take turns. The kernel drops
the lock when its holder dies, so a killed run never blocks the next.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from hrlrec.errors import Busy

LOCK_WAIT_S = 900.0  # how long a writer waits for another writer of the same folder before giving up


def _hidden_sibling(path: Path, kind: str) -> Path:
    return path.parent / f".{path.name}.{kind}-{uuid.uuid4().hex[:8]}"


def remove_leftovers(path: Path) -> None:
    """Clear what a killed earlier run left beside `path`.

    A run killed between the two renames of a replacement leaves no `path` and
    a complete `.old` copy: that copy is put back, never deleted. Half-built
    `.tmp` folders are deleted (one step writes one output at a time: the DAG
    runs with max_active_runs=1 and DVC locks the workspace).
    """
    if not path.parent.is_dir():
        return
    olds = sorted(path.parent.glob(f".{path.name}.old-*"))
    if olds and not path.exists():
        os.rename(olds[-1], path)
        olds = olds[:-1]
    for leftover in [*olds, *path.parent.glob(f".{path.name}.tmp-*")]:
        shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)


def flock_waiting(
    fd: int, wait_s: float, busy: Callable[[], str], on_wait: Callable[[], None] | None = None, poll_s: float = 0.1
) -> None:
    """Take an exclusive flock on `fd`, polling up to `wait_s` seconds; Busy(busy()) after that.

    `on_wait` runs once, the first time the lock turns out to be held by someone else.
    """
    deadline, waited = time.monotonic() + wait_s, False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise Busy(busy()) from None
            if on_wait is not None and not waited:
                on_wait()
            waited = True
            time.sleep(poll_s)


@contextmanager
def locked(path: Path, wait_s: float | None = None) -> Iterator[None]:
    """Hold the exclusive writer's lock of `path` (its parent folder), waiting up to `wait_s`, else Busy.

    Not re-entrant: a process that already holds the lock of a folder must not take it again.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    wait_s = LOCK_WAIT_S if wait_s is None else wait_s
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        flock_waiting(
            fd, wait_s,
            lambda: f"{path}: another process is writing it or beside it (the lock of {path.parent} was held "
            f"for more than {wait_s:.0f} s); nothing was changed, run again when it has finished",
        )  # fmt: skip
        yield
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a fresh temporary directory that replaces `final` when the block succeeds.

    On any exception the temporary directory is deleted and `final` is untouched.
    Replacing an existing directory takes two renames (old aside, new in); a crash
    between them leaves no `final` and a hidden `.old` copy, never a mixed one.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    with locked(final):
        remove_leftovers(final)  # safe: no other writer of `final` is running
        tmp = _hidden_sibling(final, "tmp")
        tmp.mkdir()
        try:
            yield tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _fsync_tree(tmp)
        if final.exists():
            old = _hidden_sibling(final, "old")
            os.rename(final, old)
            os.rename(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, final)
        _fsync_dir(final.parent)


@contextmanager
def scratch_dir(final: Path) -> Iterator[Path]:
    """A private working folder beside `final` for work too big for memory, removed when the block ends.

    It is not under `final`'s writer lock (which covers the whole parent folder,
    so holding it through long work would make every sibling's writer wait), so
    it holds a lock of its own, on itself: a scratch folder whose lock can be
    taken belongs to a run that died, and is removed here; a live one is left.
    Being a sibling, its files can be renamed into `atomic_dir`'s temporary folder.
    """
    with locked(final):  # briefly: no other run creates or clears a scratch folder of `final` meanwhile
        for stale in final.parent.glob(f".{final.name}.scratch-*"):
            stale_fd = os.open(stale, os.O_RDONLY | os.O_DIRECTORY)
            try:
                fcntl.flock(stale_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # another run is working in it
            else:
                shutil.rmtree(stale, ignore_errors=True)
            finally:
                os.close(stale_fd)
        scratch = _hidden_sibling(final, "scratch")
        scratch.mkdir()
        fd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # new and unseen by others: never blocks
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        os.close(fd)


def write_text(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (temporary file in the same folder, then rename)."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically: a uniquely named temporary file beside it, fsynced, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _hidden_sibling(path, "tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)  # the rename itself survives a power cut
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync_tree(folder: Path) -> None:
    """Flush every file and folder under `folder` to disk before it is renamed into place."""
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file():
            with open(path, "rb+") as fh:
                os.fsync(fh.fileno())
        elif path.is_dir():
            _fsync_dir(path)
    _fsync_dir(folder)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
