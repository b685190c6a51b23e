"""The dataset step: lists, history windows, stable ids, no leakage, validated days only."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from hrlrec import dataset, validation
from hrlrec.data import batches, build
from hrlrec.errors import BadInput, Rejected
from tests.conftest import TRAIN_DAYS, model_config, workspace


@pytest.fixture(scope="module")
def stream(trained_workspace: Path) -> batches.Stream:
    return batches.load(workspace(trained_workspace).layout.dataset_day(TRAIN_DAYS[-1]))


def test_lists_are_contiguous_full_and_split_chronologically(stream: batches.Stream) -> None:
    assert (stream.length == 10).all()
    test = stream.lists("test")
    train, val = stream.lists("train"), stream.lists("val")
    assert len(test) and len(train) and len(val)
    # Each list's rows share one session id and are positions 0..9 in order.
    rows = stream.rows(test[:50])
    sessions = stream.session_id[rows].reshape(-1, 10)
    assert (sessions == sessions[:, :1]).all()
    positions = stream.cat[rows, stream.column("position")].numpy().reshape(-1, 10)
    assert (positions == np.arange(10) + 1).all()  # ids: 0 is padding, position p is p + 1


def test_history_is_the_same_users_earlier_rows(stream: batches.Stream) -> None:
    user = stream.cat[:, stream.column("user")].numpy()
    for li in stream.lists("test")[:200]:
        s0, u0 = stream.offset[li], stream.user_start[li]
        assert u0 <= s0
        assert (user[u0 : s0 + 10] == user[s0]).all()
        if u0 > 0:
            assert user[u0 - 1] != user[u0]


def test_click_features_never_see_the_current_list(stream: batches.Stream) -> None:
    # The cumulative click mix comes from earlier lists only: constant within a list.
    click_cols = [i for i in range(stream.dense.shape[1]) if i >= stream.dense.shape[1] // 2]
    rows = stream.rows(stream.lists("train")[:300])
    mix = stream.dense[rows][:, click_cols].numpy().reshape(-1, 10, len(click_cols))
    assert np.allclose(mix, mix[:, :1])


def test_feature_ids_are_stable_and_bounded() -> None:
    ids = np.array([5, 123456789, 2**40 + 3])
    a = build._stable_hash(ids, 1000, 3)
    assert (a == build._stable_hash(ids, 1000, 3)).all()
    assert ((a >= 1) & (a < 1000)).all()
    import pyarrow as pa

    names = build._hash_strings(pa.array(["ios", "web", None, "ios"]), 64)
    assert names[0] == names[3] and names[2] == 0 and (names[:2] > 0).all()
    # a channel not in params maps to 0 (unknown), never an error
    assert build._channel_codes(pa.chunked_array([["news", "podcast"]]), ["news"]).tolist() == [1, 0]


def test_only_validated_days_are_used(trained_workspace: Path, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    shutil.copytree(trained_workspace, root)
    ws = workspace(root)
    result = dataset.run(ws, TRAIN_DAYS[-1])
    assert result.train_days == TRAIN_DAYS[:-1]
    assert set(result.skipped_days) == {"2026-10-31", "2026-11-01"}  # lookback days never ingested

    # Quarantine a training day: it is skipped and the reason recorded.
    record = ws.layout.validation_result(TRAIN_DAYS[0])
    record.write_text(record.read_text().replace('"state": "passed"', '"state": "quarantined"'))
    result = dataset.run(ws, TRAIN_DAYS[-1])
    assert result.train_days == [TRAIN_DAYS[1]] and "quarantined" in result.skipped_days[TRAIN_DAYS[0]]

    # The held-out day itself must be clean.
    record = ws.layout.validation_result(TRAIN_DAYS[-1])
    record.write_text(record.read_text().replace('"state": "passed"', '"state": "quarantined"'))
    with pytest.raises(Rejected, match="quarantined"):
        dataset.run(ws, TRAIN_DAYS[-1])
    with pytest.raises(BadInput, match="never validated"):
        validation.require_validated(ws, "2026-12-24")


def test_gather_is_advanced_indexing_of_rows() -> None:
    table = torch.arange(40.0).view(10, 4)
    rows = torch.tensor([[3, 0, 9], [9, 9, 1]])
    assert torch.equal(batches.gather(table, rows), table[rows])
    assert torch.equal(batches.gather(table[:, 0], rows), table[:, 0][rows])


def _lists_by_key(stream: batches.Stream) -> dict[tuple[int, int, int], int]:
    """Each list by (logged list id, hashed user, weekday) of its first row: the same in any row order."""
    first = np.array(stream.offset)  # a writable copy: torch warns when indexed by a read-only (Arrow) array
    keys = zip(
        stream.session_id[first].tolist(),
        stream.cat[first, stream.column("user")].tolist(),
        stream.cat[first, stream.column("weekday")].tolist(),
        strict=True,
    )
    out = {key: i for i, key in enumerate(keys)}
    assert len(out) == len(first)
    return out


def test_a_sharded_build_is_the_unsharded_build_in_another_user_order(trained_workspace: Path, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    shutil.copytree(trained_workspace, root)
    ds = TRAIN_DAYS[-1]
    whole = batches.load(workspace(root).layout.dataset_day(ds))
    ws = workspace(root, model_config("dataset.shard_rows=1000"))
    result = dataset.run(ws, ds)
    meta = json.loads((ws.layout.dataset_day(ds) / build.META).read_text())
    assert meta["shards"] > 3 and result.rows == whole.cat.shape[0]
    built = ws.layout.dataset_day(ds)
    assert not list(built.parent.glob(".*"))  # no scratch left behind, beside the output or in it
    assert sorted(p.name for p in built.iterdir()) == sorted([build.STREAM, build.LISTS, build.META])
    sharded = batches.load(ws.layout.dataset_day(ds))
    assert not torch.equal(sharded.cat, whole.cat)  # the rows really moved

    a, b = _lists_by_key(whole), _lists_by_key(sharded)
    assert a.keys() == b.keys()
    ia = np.array(list(a.values()))
    ib = np.array([b[k] for k in a])
    # Same split (the validation slice included), length and history length per list ...
    assert (whole.split[ia] == sharded.split[ib]).all()
    assert (whole.length[ia] == sharded.length[ib]).all()
    assert ((whole.offset - whole.user_start)[ia] == (sharded.offset - sharded.user_start)[ib]).all()
    # ... and the same rows: the list's own and the user's earlier ones, every feature and label.
    for li, lj in zip(ia[::7], ib[::7], strict=True):
        ra = np.arange(whole.user_start[li], whole.offset[li] + whole.length[li])
        rb = np.arange(sharded.user_start[lj], sharded.offset[lj] + sharded.length[lj])
        for name in ("cat", "dense", "clicked", "dwell"):
            assert torch.equal(getattr(whole, name)[ra], getattr(sharded, name)[rb]), name


def test_the_validation_slice_is_the_latest_lists_of_every_shard_together() -> None:
    def shard(times: list[int], users: list[int]) -> build._Built:
        n = len(times)
        lists = {
            "offset": np.arange(n, dtype=np.int64),
            "length": np.ones(n, np.int32),
            "user_start": np.zeros(n, np.int64),
            "split": np.full(n, build.SPLITS["train"], np.int8),
            "day": np.zeros(n, np.int32),
        }
        t = np.array(times, np.int64)
        return build._Built(None, lists, t, t, np.array(users, np.int64), np.arange(n, dtype=np.int64))

    early, late = shard([1, 2, 3], [7, 7, 8]), shard([10, 11, 12], [9, 9, 9])
    split = build._assign_validation(build._concat([early, late.rebased(3)]), val_fraction=1 / 3)["split"]
    # 2 of 6 lists: both from the later shard (a per-shard choice would take one from each).
    assert split.tolist() == [1, 1, 1, 1, 2, 2]
    # Equal times: the later user (stream order) is the later list, as in an unsharded build.
    tied = build._assign_validation(build._concat([shard([5, 5], [3, 2])]), val_fraction=0.5)["split"]
    assert tied.tolist() == [2, 1]


def _mapping(address: int) -> tuple[str, str]:
    """(permissions, file) of the mapping of this process that holds `address` (file "" if anonymous)."""
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        lo, hi = (int(x, 16) for x in fields[0].split("-"))
        if lo <= address < hi:
            return fields[1], fields[5] if len(fields) > 5 else ""
    return "", ""


def test_a_loaded_stream_maps_the_parquet_values_and_never_writes_back(trained_workspace: Path) -> None:
    folder = workspace(trained_workspace).layout.dataset_day(TRAIN_DAYS[-1])
    before = sorted(os.listdir(folder.parent))
    stream = batches.load(folder)
    perms, backing = _mapping(stream.cat.data_ptr())
    assert backing.startswith(str(folder.parent))  # file-backed, not process memory ...
    assert perms == "rw-p"  # ... and private: writes are copied on write, never written back
    table = pq.read_table(folder / build.STREAM)
    for i, name in enumerate(stream.cat_columns):
        assert (stream.cat[:, i].numpy() == table.column(name).to_numpy()).all(), name
    dense = [n for n in table.column_names if n.startswith("recent_")]
    assert np.array_equal(stream.dense.numpy(), np.stack([table.column(n).to_numpy() for n in dense], 1))
    assert np.array_equal(stream.clicked.numpy(), table.column("clicked").to_numpy().astype(np.float32))
    assert np.array_equal(stream.session_id, table.column("session_id").to_numpy())
    # Copy-on-write: editing one loaded stream changes neither the file nor another load.
    stream.dense[0, 0] = float("nan")
    again = batches.load(folder)
    assert not torch.isnan(again.dense[0, 0])
    assert sorted(os.listdir(folder.parent)) == before  # the scratch files have no name


def test_a_stream_that_cannot_be_mapped_is_loaded_into_memory_with_a_warning(
    trained_workspace: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    folder = workspace(trained_workspace).layout.dataset_day(TRAIN_DAYS[-1])
    mapped = batches.load(folder)

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(batches.tempfile, "TemporaryFile", no_space)
    in_memory = batches.load(folder)
    assert "cannot write the stream's mapped copy" in caplog.text and "No space left" in caplog.text
    assert _mapping(in_memory.cat.data_ptr())[1] in ("", "[heap]")
    for name in ("cat", "dense", "clicked", "dwell"):
        assert torch.equal(getattr(in_memory, name), getattr(mapped, name)), name
    assert np.array_equal(in_memory.session_id, mapped.session_id)


def test_the_global_validation_slice_is_the_old_one_on_lists_in_stream_order() -> None:
    """The old rule: a stable argsort of the lists' first times, the lists in stream order
    (user, start time, day, session). Crafted with many ties in every key."""
    rng = np.random.default_rng(3)
    n = 3000
    user, start, day, session = (rng.integers(0, k, n) for k in (40, 6, 3, 5000))
    first = start + rng.integers(0, 2, n)  # a list's first row is not always its earliest
    order = np.lexsort((session, day, start, user))  # stream order
    user, start, day, session, first = (a[order] for a in (user, start, day, session, first))
    lists = {
        "offset": np.arange(n, dtype=np.int64),
        "length": np.ones(n, np.int32),
        "user_start": np.zeros(n, np.int64),
        "split": np.where(rng.random(n) < 0.8, build.SPLITS["train"], build.SPLITS["history"]).astype(np.int8),
        "day": day.astype(np.int32),
    }
    built = build._Built(None, lists, first, start, user, session)
    for fraction in (0.1, 0.37):
        new = build._assign_validation(built, fraction)["split"]
        old = lists["split"].copy()
        train_idx = np.flatnonzero(old == build.SPLITS["train"])
        n_val = max(1, round(len(train_idx) * fraction))
        old[train_idx[np.argsort(first[train_idx], kind="stable")[-n_val:]]] = build.SPLITS["val"]
        assert np.array_equal(new, old)
        # Sharded: the same lists in shard order (users split in two), offsets rebased.
        in_shard = user % 2
        parts = [
            build._Built(None, {k: v[in_shard == s] for k, v in lists.items()}, first[in_shard == s],
                         start[in_shard == s], user[in_shard == s], session[in_shard == s])
            for s in (0, 1)
        ]  # fmt: skip
        sharded = build._assign_validation(build._concat(parts), fraction)["split"]
        assert np.array_equal(np.concatenate([new[in_shard == 0], new[in_shard == 1]]), sharded)
