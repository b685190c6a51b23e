"""True value of served lists: the logging policy's equals the sidecar, models' lists are scored, no truth says so."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from hrlrec import evaluate
from hrlrec.candidates import load_candidate
from hrlrec.evaluation import truth as policy_value
from hrlrec.train import step as train_step
from tests.conftest import TRAIN_DAYS, model_config, workspace

DS = TRAIN_DAYS[-1]


@pytest.fixture(scope="module")
def evaluated(trained_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("value-ws") / "ws"
    shutil.copytree(trained_workspace, root)
    ws = workspace(root)
    train_step.run(ws, DS, progress=False)
    evaluate.run(ws, DS)
    return root


def test_evaluate_records_the_true_value_of_candidate_and_logs(evaluated: Path) -> None:
    result = json.loads(workspace(evaluated).layout.result("evaluate").read_text())
    value = result["numbers"]["policy_value"]
    assert value["measured"] is True and 0 < value["requests"] <= model_config().gates.stability.max_requests
    for name in ("candidate", "logging_policy"):
        c = value[name]["clicks_per_list"]
        assert 0 < c["low"] <= c["mean"] <= c["high"] < 10
        assert value[name]["reward_per_list"]["mean"] > 0
    diff = value["candidate"]["clicks_vs_logging"]
    assert diff["low"] <= diff["mean"] <= diff["high"]
    assert value["candidate"]["clicks_ratio_to_logging"] == pytest.approx(
        value["candidate"]["clicks_per_list"]["mean"] / value["logging_policy"]["clicks_per_list"]["mean"]
    )
    assert "production" not in value  # nothing published in this workspace


def test_the_logging_policy_s_value_is_the_sum_of_the_sidecar_s_click_probabilities(evaluated: Path) -> None:
    ws = workspace(evaluated)
    candidate = load_candidate(ws, DS)
    day = policy_value.DayValue(ws, DS, candidate.stream)
    clicks, reward = day.per_list(day.logged)
    truth = pq.read_table(ws.layout.truth_day(DS)).to_pandas()
    per_session = truth.groupby("session_id").p_click.sum()
    np.testing.assert_allclose(clicks, per_session.loc[day.session].to_numpy(), rtol=1e-5)
    assert (reward > 0).all()


def test_a_model_s_lists_are_pool_items_scored_by_the_truth(evaluated: Path) -> None:
    ws = workspace(evaluated)
    candidate = load_candidate(ws, DS)
    day = policy_value.DayValue(ws, DS, candidate.stream)
    lists = day.lists_of(candidate.model, candidate.spec)
    assert lists.shape == (len(day.sample), candidate.spec.list_len)
    assert np.isin(lists, day.pool_item).all()  # every placed item is a pool item, by its raw id
    assert (np.diff(np.sort(lists, 1), axis=1) != 0).all()  # no duplicates
    channel_col = candidate.stream.column("channel")
    pool_channels = day.pool[:, channel_col] - 1
    by_item = dict(zip(day.pool_item.tolist(), pool_channels.tolist(), strict=True))
    world_channels = day.oracle.item_channel(lists)
    assert (np.vectorize(by_item.get)(lists) == world_channels).all()  # raw ids map to the right items


def test_without_ground_truth_the_value_is_not_measured(evaluated: Path, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    shutil.copytree(evaluated, root)
    ws = workspace(root)
    shutil.rmtree(ws.layout.truth_day(DS))
    value = policy_value.measure(ws, DS, load_candidate(ws, DS).stream, {})
    assert value == {"measured": False, "reason": value["reason"]} and "no simulator ground truth" in value["reason"]


def test_spearman_matches_the_textbook_on_ties_and_monotone_data() -> None:
    x = np.array([1.0, 2.0, 2.0, 3.0, 5.0])
    assert policy_value.average_ranks(x).tolist() == [1.0, 2.5, 2.5, 4.0, 5.0]
    assert policy_value.spearman(x, x**3) == pytest.approx(1.0)
    assert policy_value.spearman(x, -x) == pytest.approx(-1.0)
    # textbook value with ties: ranks (1, 2.5, 2.5, 4, 5) vs (2, 1, 3, 5, 4) -> Pearson of the ranks
    y = np.array([0.2, 0.1, 0.3, 0.9, 0.5])
    rx, ry = np.array([1, 2.5, 2.5, 4, 5]), np.array([2, 1, 3, 5, 4])
    assert policy_value.spearman(x, y) == pytest.approx(np.corrcoef(rx, ry)[0, 1])
    assert np.isnan(policy_value.spearman(np.ones(4), np.arange(4.0)))


def test_state_dependence_and_mix_are_recorded_per_channel(evaluated: Path) -> None:
    value = json.loads(workspace(evaluated).layout.result("evaluate").read_text())["numbers"]["policy_value"]
    channels = model_config().channels
    for name in ("candidate", "logging_policy"):
        assert set(value[name]["state_dependence"]) == set(channels)
        assert sum(value[name]["channel_mix"].values()) == pytest.approx(1.0)
    # the logging policy draws channels from the users' (noisy) preferences: clearly state dependent
    assert all(rho is not None and rho > 0.1 for rho in value["logging_policy"]["state_dependence"].values())
