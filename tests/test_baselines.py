"""The baselines see HRL-Rec's inputs: the behaviours before each impression, the list above it, DIN."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hrlrec.data import batches
from hrlrec.data.batches import CLICKED, NOT_CLICKED, PAD, UNKNOWN, Stream
from hrlrec.models import factory
from hrlrec.models.baselines import REGISTRY
from hrlrec.models.baselines.common import list_counts
from hrlrec.models.spec import ModelSpec
from hrlrec.train import features_of
from tests.conftest import TRAIN_DAYS, model_config, workspace

COLUMNS = ["user", "channel", "item", "tag0", "tag1"]


def crafted_stream() -> Stream:
    """Two users: user 1 has a list of 3 then a list of 2; user 2 a list of 3. Rows are in stream order."""
    #            user ch item tag0 tag1
    rows = [
        [1, 1, 11, 5, 0],  # 0  user 1, list A pos 0
        [1, 2, 12, 6, 0],  # 1  list A pos 1
        [1, 1, 13, 5, 7],  # 2  list A pos 2
        [1, 1, 14, 7, 0],  # 3  list B pos 0
        [1, 2, 15, 5, 0],  # 4  list B pos 1
        [2, 3, 16, 8, 0],  # 5  user 2, list C pos 0
        [2, 3, 17, 8, 0],  # 6  list C pos 1
        [2, 1, 18, 9, 0],  # 7  list C pos 2
    ]
    n = len(rows)
    return Stream(
        cat=torch.tensor(rows), dense=torch.zeros(n, 2), clicked=torch.tensor([0, 1, 0, 0, 1, 1, 0, 0.0]),
        dwell=torch.zeros(n), cat_columns=COLUMNS, offset=np.array([0, 3, 5]), length=np.array([3, 2, 3]),
        user_start=np.array([0, 0, 5]), split=np.array([1, 1, 1]), session_id=np.arange(n), meta={},
    )  # fmt: skip


def test_the_behaviours_before_an_impression_are_hrl_recs_window() -> None:
    stream = crafted_stream()
    b = batches.impression_batch(stream, np.array([4, 0, 7]), history_len=2, list_len=3)
    assert b.before_cat.shape == (3, 4, 5)  # L = m + K - 1
    # row 4 (list B pos 1): history = rows 1, 2 (the last m = 2 of user 1 before list B), then row 3 in the list
    assert b.before_cat[0, :, 2].tolist() == [0, 12, 13, 14]
    assert b.before_feedback[0].tolist() == [PAD, CLICKED, NOT_CLICKED, UNKNOWN]
    # row 0: nothing before it
    assert (b.before_cat[1] == 0).all() and (b.before_feedback[1] == PAD).all()
    # row 7 (user 2, pos 2): never user 1's rows; its own list's two earlier positions
    assert b.before_cat[2, :, 2].tolist() == [0, 0, 16, 17]
    assert b.before_feedback[2].tolist() == [PAD, PAD, UNKNOWN, UNKNOWN]


def test_a_row_that_is_not_a_list_position_is_refused() -> None:
    stream = crafted_stream()
    with pytest.raises(ValueError, match="stream row 2 is not one of the first 2 positions"):
        batches.impression_batch(stream, np.array([0, 2]), history_len=2, list_len=2)


def test_list_counts_count_earlier_positions_of_the_same_list_only() -> None:
    stream = crafted_stream()
    b = batches.impression_batch(stream, np.array([2, 4, 7]), history_len=2, list_len=3)
    counts = list_counts(b, channel_col=1, tag_cols=[3, 4], list_len=3) * 3
    # row 2 (ch 1, tags 5 7): above it rows 0 (ch 1, tag 5) and 1 (ch 2): 1 same channel, 1 shared tag
    # row 4 (ch 2, tag 5): above it in list B only row 3 (ch 1, tag 7): none; history rows 1, 2 do not count
    # row 7 (ch 1, tag 9): above it rows 5, 6 (ch 3, tag 8): none
    assert counts.tolist() == [[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]]


@pytest.fixture(scope="module")
def stream(trained_workspace: Path) -> Stream:
    return batches.load(workspace(trained_workspace).layout.dataset_day(TRAIN_DAYS[-1]))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_baseline_reads_the_list_above_the_impression(stream: Stream, name: str) -> None:
    cfg = model_config()
    torch.manual_seed(0)
    model = factory.build(name, ModelSpec.of(cfg), features_of(stream)).eval()
    assert model.features.history_len == cfg.active.history_len
    rows = stream.rows(stream.lists("test"))[:256]
    batch = batches.impression_batch(stream, rows, cfg.active.history_len, cfg.list_len)
    with torch.no_grad():
        # an item table that is not all-but-zero, so the list fields cannot vanish by chance
        for module in model.modules():
            if hasattr(module, "earlier_items"):
                torch.nn.init.normal_(module.earlier_items.weight, std=1.0)
        logits = model(batch)
        assert logits.shape == (len(rows),) and torch.isfinite(logits).all()
        earlier = batch.before_feedback == UNKNOWN
        assert earlier.any(1).sum() > 0
        changed = batches.ImpressionBatch(**vars(batch))
        changed.before_cat = batch.before_cat.clone()
        item = stream.column("item")
        ids = batch.before_cat[..., item]
        other = torch.where(ids > 1, ids - 1, ids + 1)  # another real item id
        changed.before_cat[..., item] = torch.where(earlier, other, ids)
        moved = (model(changed) - logits).abs() > 1e-6
    # every impression with an earlier position moves when the items above it change, and no other does
    assert (moved == earlier.any(1)).all()


def test_din_attends_over_the_history_before_the_list(stream: Stream) -> None:
    cfg = model_config()
    torch.manual_seed(0)
    model = factory.build("din", ModelSpec.of(cfg), features_of(stream)).eval()
    rows = stream.rows(stream.lists("test"))[:256]
    batch = batches.impression_batch(stream, rows, cfg.active.history_len, cfg.list_len)
    history = (batch.before_feedback == CLICKED) | (batch.before_feedback == NOT_CLICKED)
    assert history.any()
    flipped = batches.ImpressionBatch(**vars(batch))
    flipped.before_feedback = torch.where(history, 1 - batch.before_feedback, batch.before_feedback)
    with torch.no_grad():
        moved = (model(flipped) - model(batch)).abs() > 1e-6
    assert (moved == history.any(1)).all()  # a click in the history counts; without history nothing moves


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_a_baseline_gathers_history_only_when_it_reads_it(stream: Stream, name: str) -> None:
    """Every baseline but DIN gets the list above alone (m = 0) and gives the logits of the full window."""
    from hrlrec.models.baselines.common import behaviour_window

    cfg = model_config()
    torch.manual_seed(0)
    model = factory.build(name, ModelSpec.of(cfg), features_of(stream)).eval()
    m, K = cfg.active.history_len, cfg.list_len
    window = behaviour_window(model)
    assert window == ((m, K) if name == "din" else (0, K))
    rows = stream.rows(stream.lists("test"))[:256]
    with torch.no_grad():
        full = model(batches.impression_batch(stream, rows, m, K))
        own = model(batches.impression_batch(stream, rows, *window))
    torch.testing.assert_close(own, full, rtol=1e-6, atol=1e-6)
