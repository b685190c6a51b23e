"""Rankings kept between steps: a hit returns exactly the ranking, anything the ranking reads changes the key."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from hrlrec.data import batches
from hrlrec.models import factory
from hrlrec.models.spec import ModelSpec
from hrlrec.serving import memo
from hrlrec.serving.backends import TorchBackend
from hrlrec.serving.ranker import FIELDS, Ranker, ServingPolicy, pool_from_rows, rank_lists
from hrlrec.train import features_of
from tests.conftest import TRAIN_DAYS, model_config, workspace

DS = TRAIN_DAYS[-1]
SAMPLE = ServingPolicy("sample")


@pytest.fixture(scope="module")
def setup(trained_workspace: Path):
    stream = batches.load(workspace(trained_workspace).layout.dataset_day(DS))
    cfg = model_config()
    torch.manual_seed(0)
    model = factory.build("hrlrec", ModelSpec.of(cfg), features_of(stream))
    spec = ModelSpec.of(cfg)
    lists = stream.lists("test")[:40]
    pool = pool_from_rows(stream, stream.rows(stream.lists("test")), per_channel=30)
    return stream, model, spec, lists, pool


def _fresh(stream, model, spec, lists, pool, policy=SAMPLE, seed=3):
    return rank_lists(Ranker(TorchBackend(model), stream.cat_columns, spec.list_len), stream, lists, pool,
                      spec.history_len, policy, seed)  # fmt: skip


def _same(a, b) -> None:
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


def test_a_kept_ranking_is_the_ranking_and_is_read_not_recomputed(setup, tmp_path: Path, monkeypatch) -> None:
    stream, model, spec, lists, pool = setup
    first = memo.ranked(tmp_path / f"ds={DS}", model, spec, stream, lists, pool, SAMPLE, 3)
    _same(first, _fresh(stream, model, spec, lists, pool))
    assert len(list((tmp_path / f"ds={DS}").glob("*.npz"))) == 1

    def no_ranking(*args, **kwargs):
        raise AssertionError("a kept ranking was recomputed")

    monkeypatch.setattr(memo, "rank_lists", no_ranking)
    _same(memo.ranked(tmp_path / f"ds={DS}", model, spec, stream, lists, pool, SAMPLE, 3), first)


def test_without_a_folder_nothing_is_kept(setup, tmp_path: Path) -> None:
    stream, model, spec, lists, pool = setup
    _same(memo.ranked(None, model, spec, stream, lists, pool, SAMPLE, 3), _fresh(stream, model, spec, lists,
                                                                                      pool))  # fmt: skip


def test_everything_the_ranking_reads_is_in_the_key(setup, monkeypatch) -> None:
    stream, model, spec, lists, pool = setup
    base = memo.ranking_key(model, spec, stream, lists, pool, SAMPLE, 3)
    assert memo.ranking_key(model, spec, stream, lists, pool, SAMPLE, 3) == base  # deterministic
    other_model = factory.build("hrlrec", spec, features_of(stream))
    with torch.no_grad():
        other_model.load_state_dict(model.state_dict())
        next(other_model.parameters()).view(-1)[0] += 1e-6
    assert memo.ranking_key(other_model, spec, stream, lists, pool, SAMPLE, 3) != base
    assert memo.ranking_key(model, spec, stream, lists[:-1], pool, SAMPLE, 3) != base
    assert memo.ranking_key(model, spec, stream, lists, pool[:-1], SAMPLE, 3) != base
    assert memo.ranking_key(model, spec, stream, lists, pool, ServingPolicy("argmax"), 3) != base
    assert memo.ranking_key(model, spec, stream, lists, pool, ServingPolicy("sample", 0.1), 3) != base
    assert memo.ranking_key(model, spec, stream, lists, pool, SAMPLE, 4) != base
    changed = batches.Stream(**{**stream.__dict__, "dense": stream.dense.clone()})
    changed.dense[0, 0] += 1.0
    assert memo.ranking_key(model, spec, changed, lists, pool, SAMPLE, 3) != base
    monkeypatch.setattr(memo, "code_fingerprint", lambda: "edited")
    assert memo.ranking_key(model, spec, stream, lists, pool, SAMPLE, 3) != base


def test_keeping_a_day_removes_other_days(setup, tmp_path: Path) -> None:
    stream, model, spec, lists, pool = setup
    memo.ranked(tmp_path / "ds=2026-11-01", model, spec, stream, lists, pool, SAMPLE, 3)
    memo.ranked(tmp_path / f"ds={DS}", model, spec, stream, lists, pool, SAMPLE, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"ds={DS}"]


def test_an_unreadable_kept_ranking_is_ranked_again(setup, tmp_path: Path, caplog) -> None:
    stream, model, spec, lists, pool = setup
    good = memo.ranked(tmp_path / f"ds={DS}", model, spec, stream, lists, pool, SAMPLE, 3)
    (kept,) = (tmp_path / f"ds={DS}").glob("*.npz")
    kept.write_bytes(b"not an npz")
    with caplog.at_level(logging.WARNING, logger="hrlrec.serving.memo"):
        _same(memo.ranked(tmp_path / f"ds={DS}", model, spec, stream, lists, pool, SAMPLE, 3), good)
    kept.write_bytes(kept.read_bytes()[:100])  # a zip cut short
    with caplog.at_level(logging.WARNING, logger="hrlrec.serving.memo"):
        again = memo.ranked(tmp_path / f"ds={DS}", model, spec, stream, lists, pool, SAMPLE, 3)
    _same(again, good)
    assert "unreadable kept ranking" in caplog.text
