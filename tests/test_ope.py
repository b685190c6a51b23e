"""Off-policy estimators on crafted logs whose answers are known in closed form."""

from __future__ import annotations

import numpy as np
import pytest

from hrlrec.errors import BadInput
from hrlrec.evaluation import ope


def _one_slot_log(n: int = 1000, model: float | None = None) -> ope.SlateLog:
    """One position; logging picks A or B with 1/2 each (exactly half the log is A); A is always clicked,
    B never. The target always picks A, so its true value is 1 click per list."""
    a = np.arange(n) % 2 == 0
    rewards = a.astype(float)[:, None]
    predicted = None if model is None else np.full((n, 1), model)
    expected = None if model is None else np.full((n, 1), model)  # the model's guess for the target's choice (A)
    return ope.SlateLog(
        rewards=rewards, logging=np.full((n, 1), 0.5), target=a.astype(float)[:, None], kind="marginal",
        predicted=predicted, expected=expected,
    )  # fmt: skip


def test_ips_and_snips_recover_a_deterministic_target_exactly() -> None:
    log = _one_slot_log()
    ips = ope.estimate(log, "ips", n_boot=200)
    snips = ope.estimate(log, "snips", n_boot=200)
    assert ips.value == pytest.approx(1.0) and snips.value == pytest.approx(1.0)
    assert ips.overlap == pytest.approx(0.5)  # the target never produces B: half the logged slots
    assert ips.low <= 1.0 <= ips.high
    assert snips.high - snips.low == pytest.approx(0.0, abs=1e-12)  # self-normalised: every resample says 1


@pytest.mark.parametrize("model", [1.0, 0.5, 0.0])
def test_dr_is_exact_whatever_the_model_gets_wrong(model: float) -> None:
    """DR = model term + weighted residual: 0.5 model -> 0.5 + (1/n) * (n/2) * 2 * 0.5 = 1."""
    dr = ope.estimate(_one_slot_log(model=model), "dr", n_boot=200)
    assert dr.value == pytest.approx(1.0)
    if model == 1.0:  # a perfect model leaves nothing to correct: no variance at all
        assert dr.high - dr.low == pytest.approx(0.0, abs=1e-12)


def test_dr_needs_the_models_predictions() -> None:
    with pytest.raises(BadInput, match="doubly robust estimate needs"):
        ope.estimate(_one_slot_log(), "dr")
    assert set(ope.estimate_all(_one_slot_log(), n_boot=50)) == {"ips", "snips"}


def test_sequential_weights_are_prefix_products_and_end_at_an_empty_slot() -> None:
    log = ope.SlateLog(
        rewards=np.array([[1.0, 1.0, 0.0, 0.0]]),
        logging=np.array([[0.5, 0.25, 0.5, 0.0]]),  # position 3 empty
        target=np.array([[1.0, 0.5, 0.25, 0.0]]),
        kind="sequential",
    )
    support = ope.weights(log)
    assert support.w[0].tolist() == pytest.approx([2.0, 4.0, 2.0, 0.0])
    assert ope.estimate(log, "ips", n_boot=10).value == pytest.approx(2.0 + 4.0)
    clipped = ope.weights(log, clip=3.0)
    assert clipped.w[0].tolist() == pytest.approx([2.0, 3.0, 2.0, 0.0])
    assert clipped.clipped_share == pytest.approx(1 / 3)  # one of three placed slots


def test_cascade_ips_and_dr_are_unbiased_on_a_simulated_two_position_world() -> None:
    """Two items to place in two slots; the click at slot 2 depends on slot 1 (a cascade).
    Logging and target are Plackett-Luce with different weights; the truth is summed exactly."""
    rng = np.random.default_rng(3)
    p_log, p_tgt = np.array([0.7, 0.3]), np.array([0.2, 0.8])  # first-choice probabilities; slot 2 is forced
    click = {(0, 1): (0.5, 0.1), (1, 0): (0.2, 0.6)}  # list -> click probability at slots 1 and 2
    truth = sum(p_tgt[first] * sum(click[(first, 1 - first)]) for first in (0, 1))
    n = 40_000
    first = (rng.random(n) < p_log[1]).astype(int)
    lists = [(f, 1 - f) for f in first]
    probs = np.array([click[lst] for lst in lists])
    rewards = (rng.random((n, 2)) < probs).astype(float)
    logging = np.stack([p_log[first], np.ones(n)], 1)
    target = np.stack([p_tgt[first], np.ones(n)], 1)
    model = probs + 0.1  # a biased click model
    # The model's value of the target's own list, per slot: its expectation over the target's first choice.
    expected = np.tile([sum(p_tgt[f] * (click[(f, 1 - f)][k] + 0.1) for f in (0, 1)) for k in (0, 1)], (n, 1))
    log = ope.SlateLog(rewards, logging, target, "sequential", predicted=model, expected=expected)
    for name in ("ips", "snips", "dr"):
        est = ope.estimate(log, name, n_boot=300)
        assert est.low <= truth <= est.high, (name, est.value, truth)
        assert est.value == pytest.approx(truth, abs=0.02), name
    naive = rewards.sum(1).mean()  # what the logs earned: not the target's value
    assert abs(naive - truth) > 0.05


def test_independent_item_ips_matches_the_target_on_a_position_based_world() -> None:
    """Clicks depend only on the item at each slot: marginal weights recover the target's value."""
    rng = np.random.default_rng(5)
    n, K, items = 30_000, 3, 4
    ctr = np.array([0.05, 0.1, 0.2, 0.4])
    pos_bias = np.array([1.0, 0.6, 0.3])
    log_marg = np.full((K, items), 1 / items)  # logging: any item at any slot, uniformly (marginals)
    tgt_marg = np.array([[0.1, 0.1, 0.2, 0.6], [0.1, 0.2, 0.4, 0.3], [0.25, 0.25, 0.25, 0.25]])
    truth = float((tgt_marg * ctr[None, :] * pos_bias[:, None]).sum())
    logged = rng.integers(0, items, (n, K))
    rewards = (rng.random((n, K)) < ctr[logged] * pos_bias[None, :]).astype(float)
    log = ope.SlateLog(rewards, log_marg[np.arange(K), logged], tgt_marg[np.arange(K), logged], "marginal")
    est = ope.estimate(log, "ips", n_boot=300)
    assert est.low <= truth <= est.high and est.value == pytest.approx(truth, abs=0.02)


def test_cascade_dr_keeps_the_models_value_of_every_position_when_the_weights_vanish() -> None:
    """A target that never repeats a logged list (weights 0 everywhere): DR is the model's value of the
    target's own lists, all positions, not only the first (a prefix-weighted model term would keep one)."""
    n, K = 500, 4
    zero = np.zeros((n, K))
    log = ope.SlateLog(np.ones((n, K)), np.full((n, K), 0.5), zero, "sequential", predicted=np.full((n, K), 0.9),
                       expected=np.full((n, K), 0.25))  # fmt: skip
    dr = ope.estimate(log, "dr", n_boot=50, min_ess=10)
    assert dr.value == pytest.approx(K * 0.25) and dr.ess == 0.0
    assert dr.inconclusive is not None and "effective sample size" in dr.inconclusive


def test_the_models_term_counts_where_the_logged_list_is_shorter() -> None:
    log = ope.SlateLog(np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]]), "sequential",
                       predicted=np.array([[0.5, 0.0]]), expected=np.array([[0.5, 0.3]]))  # fmt: skip
    assert ope.estimate(log, "dr", n_boot=10).value == pytest.approx(0.5 + 0.3 + 1.0 * (1.0 - 0.5))


def test_effective_sample_size_and_inconclusive_support() -> None:
    n = 400
    even = ope.SlateLog(np.ones((n, 1)), np.full((n, 1), 0.5), np.full((n, 1), 0.5), "marginal")
    assert ope.estimate(even, "ips", n_boot=20).ess == pytest.approx(n)
    target = np.zeros((n, 1))
    target[0] = 1.0  # one logged slot carries all the weight
    spiky = ope.SlateLog(np.ones((n, 1)), np.full((n, 1), 0.01), target, "marginal")
    est = ope.estimate(spiky, "ips", n_boot=20, min_ess=50, min_overlap=0.2)
    assert est.ess == pytest.approx(1.0) and est.overlap == pytest.approx(1 / n)
    assert est.inconclusive is not None
    assert "overlap 0.2% < 20%" in est.inconclusive and "effective sample size 1 < 50" in est.inconclusive
    assert ope.estimate(even, "ips", n_boot=20, min_ess=50, min_overlap=0.2).inconclusive is None


def test_bad_logs_are_refused_naming_the_field_and_slot() -> None:
    ones = np.ones((3, 2))
    with pytest.raises(BadInput, match=r"logging propensity 1.5 at list 1, position 0 is outside \(0, 1\]"):
        ope.SlateLog(ones, np.array([[0.5, 0.5], [1.5, 0.5], [0.5, 0.5]]), ones, "marginal")
    with pytest.raises(BadInput, match=r"target propensity -0.1 at list 2, position 1"):
        ope.SlateLog(ones, ones * 0.5, np.array([[1, 1], [1, 1], [1, -0.1]]), "marginal")
    with pytest.raises(BadInput, match="propensity kind 'joint'"):
        ope.SlateLog(ones, ones, ones, "joint")
    with pytest.raises(BadInput, match=r"target: shape \(3, 1\) differs"):
        ope.SlateLog(ones, ones, np.ones((3, 1)), "marginal")
    with pytest.raises(BadInput, match="rewards: not a finite number in list 0"):
        ope.SlateLog(np.array([[np.nan, 1], [1, 1], [1, 1]]), ones, ones, "marginal")
    with pytest.raises(BadInput, match="estimator 'magic'"):
        ope.estimate(ope.SlateLog(ones, ones, ones, "marginal"), "magic")


def test_a_paired_difference_cancels_what_both_policies_share() -> None:
    """Two targets on the same log: A always picks the clicked item, B picks it half the time."""
    log_a = _one_slot_log(model=0.5)
    n = log_a.n
    half = ope.SlateLog(log_a.rewards, log_a.logging, np.full((n, 1), 0.5), "marginal",
                        predicted=log_a.predicted, expected=np.full((n, 1), 0.5))  # fmt: skip
    d = ope.difference(log_a, half, "dr", n_boot=300)
    # A's value is 1, B's is 0.5 (it picks A half the time): the difference is exactly 0.5
    assert d["value"] == pytest.approx(0.5) and d["low"] <= 0.5 <= d["high"]
    with pytest.raises(BadInput, match="same logged lists"):
        ope.difference(log_a, _one_slot_log(n=10), "dr")
    with pytest.raises(BadInput, match="choose ips or dr"):
        ope.difference(log_a, half, "snips")


def test_platt_calibration_recovers_a_distorted_click_model() -> None:
    """Clicks follow p; the model says sigmoid(2 logit(p) + 1) (too sure, too high). Platt undoes it."""
    rng = np.random.default_rng(8)
    p = rng.uniform(0.02, 0.6, (20_000, 3))
    clicks = (rng.random(p.shape) < p).astype(float)
    z = np.log(p / (1 - p))
    model = 1 / (1 + np.exp(-(2 * z + 1)))
    slots = np.ones(p.shape, bool)
    slots[:, 2] = False  # only placed slots count
    cal = ope.calibrate(model, clicks, slots)
    assert cal.a == pytest.approx(0.5, abs=0.05) and cal.b == pytest.approx(-0.5, abs=0.08)
    assert cal.after == pytest.approx(cal.observed, abs=1e-6) and cal.before > cal.observed + 0.05
    np.testing.assert_allclose(cal(model[:100]), p[:100], atol=0.03)
    assert cal(np.zeros(3)).tolist() == [0.0, 0.0, 0.0]  # no item, no click


def test_calibration_refuses_logs_without_any_click() -> None:
    with pytest.raises(BadInput, match="with and without clicks"):
        ope.calibrate(np.full((5, 2), 0.3), np.zeros((5, 2)), np.ones((5, 2), bool))


def test_the_reward_model_is_the_one_that_predicts_the_logged_clicks_best() -> None:
    rng = np.random.default_rng(3)
    truth = rng.uniform(0.02, 0.6, (4000, 3))
    clicks = (rng.random(truth.shape) < truth).astype(float)
    slots = np.ones(truth.shape, bool)
    informed = np.clip(truth + rng.normal(0, 0.02, truth.shape), 0.01, 0.99)
    untrained = rng.uniform(0.45, 0.55, truth.shape)  # an untrained head: noise around one half
    best, fits, losses = ope.choose_reward_model({"candidate": untrained, "production": informed}, clicks, slots)
    assert best == "production" and losses["production"] < losses["candidate"]
    assert set(fits) == {"candidate", "production"}
    # A tie goes to the candidate, and so does a small lead of a rival (within the tolerance) ...
    best, _, losses = ope.choose_reward_model({"production": informed, "candidate": informed}, clicks, slots)
    assert best == "candidate" and losses["candidate"] == losses["production"]
    slightly = np.clip(truth + rng.normal(0, 0.06, truth.shape), 0.01, 0.99)
    _, _, losses = ope.choose_reward_model({"candidate": slightly, "production": informed}, clicks, slots)
    gap = losses["candidate"] - losses["production"]
    assert gap > 0
    pick = ope.choose_reward_model({"candidate": slightly, "production": informed}, clicks, slots, tolerance=2 * gap)
    assert pick[0] == "candidate"
    # ... but not a clear one.
    assert ope.choose_reward_model({"candidate": slightly, "production": informed}, clicks, slots,
                                   tolerance=gap / 2)[0] == "production"  # fmt: skip


def test_log_loss_counts_only_placed_slots() -> None:
    p = np.array([[0.5, 0.9]])
    y = np.array([[1.0, 0.0]])
    assert ope.log_loss(p, y, np.array([[True, False]])) == pytest.approx(np.log(2))
