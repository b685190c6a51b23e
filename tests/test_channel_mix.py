"""Mix anchoring: offsets that pin the policy's mean channel mix, on crafted scores and on a model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hrlrec.models.channel_policy import ChannelPolicy
from hrlrec.train.channel_mix import fit_bucket_offsets, fit_offset, mean_policy


def test_offsets_reach_the_target_mix_on_crafted_scores() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(0, 2, size=(5000, 4)) + np.array([2.0, 0.0, -1.0, 0.5])  # a skewed policy
    target = np.array([0.4, 0.2, 0.1, 0.3])
    offset, iterations = fit_offset(scores, target)
    np.testing.assert_allclose(mean_policy(scores, offset), target, atol=1e-6)
    assert iterations < 500 and abs(offset.mean()) < 1e-9
    # state dependence survives: the per-state policies still differ
    z = scores - offset
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    assert p[:, 0].std() > 0.1


def test_a_target_already_met_needs_no_offset() -> None:
    scores = np.log(np.tile([[0.1, 0.2, 0.3, 0.4]], (10, 1)))
    offset, _ = fit_offset(scores, np.array([0.1, 0.2, 0.3, 0.4]))
    np.testing.assert_allclose(offset, 0.0, atol=1e-6)


@pytest.mark.parametrize(
    "target", [np.array([0.5, 0.5, 0.0, 0.0]), np.array([0.5, 0.6, -0.1, 0.0]), np.array([0.2, 0.2, 0.2])]
)
def test_a_bad_target_is_refused(target: np.ndarray) -> None:
    with pytest.raises(ValueError):
        fit_offset(np.zeros((10, 4)), target)


def test_the_served_policy_subtracts_its_hours_offsets_and_old_weights_load() -> None:
    torch.manual_seed(0)
    policy = ChannelPolicy(state_dim=6, n_channels=4, temperature=0.5)
    state = torch.randn(3, 6)
    hour = torch.tensor([0, 7, 23])
    with torch.no_grad():
        policy.mix_offset.copy_(torch.arange(24.0)[:, None] * torch.tensor([1.0, 0.0, -1.0, 0.0]))
    expected = torch.log_softmax(policy.prior(state), -1) + policy.q(state) / 0.5 - policy.mix_offset[hour]
    torch.testing.assert_close(policy.served(state, hour), expected)
    assert not torch.allclose(policy.served(state, hour), policy.served(state, torch.zeros_like(hour)))
    old = {k: v for k, v in policy.state_dict().items() if k != "mix_offset"}
    fresh = ChannelPolicy(state_dim=6, n_channels=4, temperature=0.5)
    fresh.load_state_dict(old)  # strict: the missing offset is filled with zeros, nothing else is
    assert (fresh.mix_offset == 0).all()
    daily = {**old, "mix_offset": torch.tensor([0.5, 0.0, -0.5, 0.0])}  # saved with one offset per channel
    fresh.load_state_dict(daily)
    assert fresh.mix_offset.shape == (24, 4) and (fresh.mix_offset == daily["mix_offset"]).all()
    with pytest.raises(RuntimeError):
        fresh.load_state_dict({k: v for k, v in old.items() if k != "prior.bias"})


def test_bucket_offsets_pin_each_buckets_mix_and_thin_buckets_keep_the_days() -> None:
    rng = np.random.default_rng(3)
    n = 6000
    state_hours = rng.integers(0, 24, n)
    state_hours[state_hours // 4 == 5] = 0  # bucket 20-24 gets no states
    state_hours[:100] = 21  # ... except 100: too few for a fit of its own
    # Q's tilt depends on the hour: night states prefer channel 0, day states channel 3
    scores = rng.normal(0, 1, size=(n, 4)) + np.where(state_hours[:, None] < 12, [1.5, 0, 0, 0], [0, 0, 0, 1.5])
    targets = rng.dirichlet(np.full(4, 5.0), size=6)
    day_target = np.full(4, 0.25)
    cal = fit_bucket_offsets(scores, state_hours, targets, day_target, hours=4)
    assert cal.fitted == [True] * 5 + [False] and cal.states[5] == 100
    for b in range(5):
        np.testing.assert_allclose(cal.served[b], targets[b], atol=1e-5)
    day, _ = fit_offset(scores, day_target)
    np.testing.assert_allclose(cal.offset[5], day)
    # one bucket of 24 hours is the daily anchor
    whole = fit_bucket_offsets(scores, state_hours, day_target[None], day_target, hours=24)
    assert whole.fitted == [False] and np.allclose(whole.offset[0], day)
    np.testing.assert_allclose(whole.served[0], day_target, atol=1e-5)
    with pytest.raises(ValueError, match="buckets"):
        fit_bucket_offsets(scores, state_hours, targets, day_target, hours=6)


def test_the_soft_value_is_the_kl_regularised_optimum() -> None:
    """alpha logsumexp(log pi_b + Q / alpha) = max_pi E_pi[Q] - alpha KL(pi || pi_b), at pi ∝ pi_b e^(Q / alpha)."""
    torch.manual_seed(1)
    policy = ChannelPolicy(state_dim=5, n_channels=4, temperature=0.7)
    policy.target_q.load_state_dict(policy.q.state_dict())
    state = torch.randn(8, 5)
    with torch.no_grad():
        log_b, q = policy.log_prior(state), policy.q(state)
        pi = torch.softmax(log_b + q / 0.7, -1)
        objective = (pi * q).sum(-1) - 0.7 * (pi * (pi.log() - log_b)).sum(-1)
    torch.testing.assert_close(policy.target_value(state), objective, atol=1e-5, rtol=1e-5)
