"""The dataset step: lists, history windows, stable ids, no leakage, validated days only."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from hrlrec import dataset, validation
from hrlrec.data import batches, build
from hrlrec.errors import BadInput, Rejected
from tests.conftest import TRAIN_DAYS, workspace


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
