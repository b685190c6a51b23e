"""Mix anchoring: offsets that pin the policy's mean channel mix, on crafted scores and on a model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hrlrec.models.channel_policy import ChannelPolicy
from hrlrec.train.channel_mix import fit_offset, mean_policy


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


def test_the_served_policy_subtracts_the_offsets_and_old_weights_load_without_them() -> None:
    torch.manual_seed(0)
    policy = ChannelPolicy(state_dim=6, n_channels=4, temperature=0.5)
    state = torch.randn(3, 6)
    with torch.no_grad():
        policy.mix_offset.copy_(torch.tensor([1.0, 0.0, -1.0, 0.0]))
    expected = torch.log_softmax(policy.prior(state), -1) + policy.q(state) / 0.5 - policy.mix_offset
    torch.testing.assert_close(policy.served(state), expected)
    old = {k: v for k, v in policy.state_dict().items() if k != "mix_offset"}
    fresh = ChannelPolicy(state_dim=6, n_channels=4, temperature=0.5)
    fresh.load_state_dict(old)  # strict: the missing offset is filled with zeros, nothing else is
    assert (fresh.mix_offset == 0).all()
    with pytest.raises(RuntimeError):
        fresh.load_state_dict({k: v for k, v in old.items() if k != "prior.bias"})


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
