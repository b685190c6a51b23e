"""The off-policy measurement on a real (tiny) day: logged propensities joined right, estimates well formed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from hrlrec.data import batches
from hrlrec.evaluation import offpolicy
from hrlrec.models import factory
from hrlrec.models.spec import ModelSpec
from hrlrec.train import features_of
from tests.conftest import TRAIN_DAYS, model_config, workspace

DS = TRAIN_DAYS[-1]


@pytest.fixture(scope="module")
def day(trained_workspace: Path):
    ws = workspace(trained_workspace, model_config("gates.ope.max_requests=40", "gates.ope.bootstrap=50"))
    return ws, batches.load(ws.layout.dataset_day(DS))


def test_logged_propensities_are_the_raw_days_values_at_each_lists_positions(day) -> None:
    ws, stream = day
    lists = stream.lists("test")[:25]
    got = offpolicy.logged_propensities(ws, DS, stream, lists, ws.cfg.list_len)
    raw = pq.read_table(ws.layout.raw_day(DS), columns=["session_id", "position", "propensity"]).to_pandas()
    lookup = {(int(s), int(p)): float(v) for s, p, v in raw.itertuples(index=False)}
    for i, lst in enumerate(lists):
        session = int(stream.session_id[stream.offset[lst]])
        for k in range(ws.cfg.list_len):
            want = lookup.get((session, k), 0.0) if k < stream.length[lst] else 0.0
            assert got[i, k] == pytest.approx(want), (i, k)
    assert ((got > 0) & (got <= 1)).sum() == min(stream.length[lists].clip(max=ws.cfg.list_len).sum(), got.size)


def test_measure_reports_each_estimator_with_its_support_and_the_logged_value(day) -> None:
    ws, stream = day
    torch.manual_seed(0)
    model = factory.build("hrlrec", ModelSpec.of(ws.cfg), features_of(stream))
    spec = ModelSpec.of(ws.cfg)
    out = offpolicy.measure(ws, DS, stream, {"candidate": (model, spec), "production": (model, spec)})
    assert out["measured"] and out["lists"] == 40 and out["policy"]["epsilon"] == ws.cfg.gates.ope.epsilon
    for name in ("ips", "snips", "dr"):
        e = out["candidate"][name]
        assert e["low"] <= e["high"] and 0 <= e["overlap"] <= 1 and e["ess"] >= 0 and e["kind"] == "sequential"
    diff = out["candidate_minus_production"]  # the same model twice: exactly no difference
    assert diff["value"] == pytest.approx(0.0) and diff["low"] == pytest.approx(0.0) == diff["high"]
    # With 40 lists the weights cannot correct the model: the intervals also carry the model's measured error.
    g = ws.cfg.gates.ope
    assert out["candidate"]["dr"]["inconclusive"]
    assert out["reward_model_judge"] == "candidate"  # the same head twice: a tie goes to the candidate
    assert diff["model_margin"] == g.difference_margin
    assert diff["high_with_margin"] == pytest.approx(g.difference_margin)
    dr = out["candidate"]["dr"]
    assert dr["high_with_margin"] - dr["high"] == pytest.approx(g.value_margin * abs(dr["value"]))
    assert np.isfinite(out["logging_policy"]["clicks_per_list"]["mean"])


def test_a_day_without_propensities_is_not_evaluated(day, tmp_path: Path) -> None:
    import shutil

    ws, stream = day
    root = tmp_path / "ws"
    shutil.copytree(ws.root, root)
    copy = workspace(root, ws.cfg)
    for f in copy.layout.raw_day(DS).glob("*.parquet"):
        pq.write_table(pq.read_table(f).drop_columns(["propensity"]), f)
    out = offpolicy.measure(copy, DS, stream, {})
    assert out == {"measured": False, "reason": "no propensities: not evaluated (the day has no propensity column)"}
