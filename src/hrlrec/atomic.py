"""Atomic writes: a reader sees the old output or the new one, never half of one.

Every step writes its outputs through these helpers. A directory is built under
a hidden temporary name beside its destination (same filesystem, so `rename`
is atomic) and swapped in only when complete; a killed task leaves at most a
hidden `.NAME.tmp-*` folder, which the next run of the same step removes.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _hidden_sibling(path: Path, kind: str) -> Path:
    return path.parent / f".{path.name}.{kind}-{uuid.uuid4().hex[:8]}"


def remove_leftovers(path: Path) -> None:
    """Delete temporary siblings of `path` left behind by a killed earlier run."""
    if not path.parent.is_dir():
        return
    for kind in ("tmp", "old"):
        for leftover in path.parent.glob(f".{path.name}.{kind}-*"):
            shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a fresh temporary directory that replaces `final` when the block succeeds.

    On any exception the temporary directory is deleted and `final` is untouched.
    Replacing an existing directory takes two renames (old aside, new in); a crash
    between them leaves no `final` and a hidden `.old` copy, never a mixed one.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(final)
    tmp = _hidden_sibling(final, "tmp")
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(tmp)
    if final.exists():
        old = _hidden_sibling(final, "old")
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, final)
    _fsync_dir(final.parent)


def write_text(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _hidden_sibling(path, "tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
