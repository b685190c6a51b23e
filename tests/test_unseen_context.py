"""Context ids no training row holds (the test day's weekday in a short window) read as the trained rows' mean."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import torch

from hrlrec import checkpoints, train
from hrlrec.data import batches
from hrlrec.models.factory import build
from hrlrec.models.layers import FieldEmbedding
from hrlrec.models.spec import ModelSpec
from hrlrec.train.step import features_of
from hrlrec.train.unseen_context import fill_unseen_context, trained_ids
from tests.conftest import TRAIN_DAYS, model_config, workspace

DS = TRAIN_DAYS[-1]


def _weekday_id(ds: str) -> int:
    """The dataset's weekday id of a day: Monday 1 .. Sunday 7 (0 is padding)."""
    return dt.date.fromisoformat(ds).isoweekday()


def _tables(model: torch.nn.Module, field: str) -> list[torch.nn.Embedding]:
    return [m.tables[field] for m in model.modules() if isinstance(m, FieldEmbedding) and field in m.tables]


def test_the_test_days_weekday_is_never_read_in_a_short_window_and_gets_the_mean(trained_workspace: Path) -> None:
    cfg = model_config()
    stream = batches.load(workspace(trained_workspace).layout.dataset_day(DS))
    seen = trained_ids(stream, "weekday")
    assert _weekday_id(DS) not in seen and set(seen) == {_weekday_id(d) for d in TRAIN_DAYS[:-1]}
    torch.manual_seed(0)
    model = build("hrlrec", ModelSpec.of(cfg), features_of(stream))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    filled = fill_unseen_context(model, stream)
    unseen = sorted(set(range(1, 8)) - set(seen.tolist()))
    assert filled["weekday"] == unseen and _weekday_id(DS) in filled["weekday"]
    tables = _tables(model, "weekday")
    assert len(tables) >= 2  # both state encoders read the weekday
    for table in tables:
        mean = table.weight[torch.as_tensor(seen)].mean(0)
        for i in unseen:
            torch.testing.assert_close(table.weight[i], mean)
    # Nothing else moves: trained weekday rows, padding, and every non-context table (items, users, tags).
    after = model.state_dict()
    for key, value in before.items():
        if "tables.weekday" in key:
            keep = [i for i in range(value.shape[0]) if i not in unseen]
            torch.testing.assert_close(after[key][keep], value[keep], rtol=0, atol=0)
        elif "tables.hour" in key or "tables.device" in key or "tables.position" in key:
            ids = set(range(1, value.shape[0])) - set(trained_ids(stream, key.split(".")[-2]).tolist())
            keep = [i for i in range(value.shape[0]) if i not in ids]
            torch.testing.assert_close(after[key][keep], value[keep], rtol=0, atol=0)
        else:
            torch.testing.assert_close(after[key], value, rtol=0, atol=0)


def test_mean_is_the_shipped_default() -> None:
    """Chosen by bench/unseen_seeds.py's rule on validation days (docs/results.md)."""
    assert model_config().model.unseen_context == "mean"


def test_training_with_mean_fills_the_saved_weights_and_says_so_on_the_card(ws: Path) -> None:
    w = workspace(ws, model_config("model.unseen_context=mean"))
    result = train.run(w, DS, models=["hrlrec"], progress=False)
    state, card = checkpoints.load(result.out_dir / "hrlrec.pt")
    assert _weekday_id(DS) in card["unseen_context_filled"]["weekday"]
    stream = batches.load(w.layout.dataset_day(DS))
    seen = torch.as_tensor(trained_ids(stream, "weekday"))
    keys = [k for k in state if k.endswith("tables.weekday.weight")]
    assert keys
    for key in keys:
        torch.testing.assert_close(state[key][_weekday_id(DS)], state[key][seen].mean(0))
    kept = train.run(workspace(ws, model_config("model.unseen_context=keep")), DS, models=["hrlrec"], progress=False)
    _, card = checkpoints.load(kept.out_dir / "hrlrec.pt")
    assert card["unseen_context_filled"] is None
    assert np.isfinite(card["metrics"]["auc"])
