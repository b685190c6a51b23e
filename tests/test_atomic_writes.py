"""Small files are replaced whole (issue 14 item 11: params.yaml was rewritten in place, folders never fsynced)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hrlrec import atomic
from hrlrec.errors import BadInput
from hrlrec.orchestration.versioning import set_day


def test_set_day_replaces_params_yaml_whole_and_keeps_its_comments(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text('# the day\nds: "2026-11-01"  # set by the DAG\nseed: 7\n')
    inode = params.stat().st_ino
    set_day(params, "2026-11-08")
    assert params.read_text() == '# the day\nds: "2026-11-08"  # set by the DAG\nseed: 7\n'
    assert params.stat().st_ino != inode  # a new file renamed over the old, never a truncate-and-write
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]
    params.write_text("seed: 7\n")
    with pytest.raises(BadInput, match="no top-level `ds:` line"):
        set_day(params, "2026-11-08")


def test_write_text_fsyncs_the_file_and_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    atomic.write_text(tmp_path / "a.json", "{}\n")
    assert (tmp_path / "a.json").read_text() == "{}\n"
    assert synced == ["file", "dir"]


def test_a_scratch_folder_is_removed_after_use_and_a_dead_runs_is_cleared_but_not_a_live_ones(tmp_path: Path) -> None:
    import fcntl

    final = tmp_path / "ds=2026-11-08"
    dead = tmp_path / ".ds=2026-11-08.scratch-dead0000"
    live = tmp_path / ".ds=2026-11-08.scratch-live0000"
    dead.mkdir()
    live.mkdir()
    (dead / "half.parquet").write_bytes(b"x")
    held = os.open(live, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(held, fcntl.LOCK_EX)  # another run, still working in it
    try:
        with atomic.scratch_dir(final) as scratch:
            assert scratch.parent == tmp_path and scratch.name.startswith(".ds=2026-11-08.scratch-")
            (scratch / "big.bin").write_bytes(b"y")
            assert not dead.exists() and live.is_dir()
        assert not scratch.exists()
        with pytest.raises(RuntimeError), atomic.scratch_dir(final) as failed:
            raise RuntimeError("the build broke")
        assert not failed.exists()
        # A live run's folder is kept; and nothing else is created beside the output.
        assert sorted(p.name for p in tmp_path.iterdir()) == [live.name]
    finally:
        os.close(held)
