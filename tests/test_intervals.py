"""Student-t and bootstrap intervals: quantiles against known values, intervals against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hrlrec.evaluation.intervals import bootstrap_interval, t_interval, t_quantile


def test_t_quantiles_match_published_values_and_tend_to_the_normal() -> None:
    assert t_quantile(1) == 12.706 and t_quantile(4) == 2.776 and t_quantile(8) == 2.306 and t_quantile(30) == 2.042
    assert t_quantile(200) == 1.960
    with pytest.raises(ValueError, match="at least two values"):
        t_quantile(0)


def test_the_interval_is_the_mean_plus_minus_t_times_the_standard_error() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0]  # mean 3, sample sd sqrt(2.5)
    mean, lo, hi = t_interval(values)
    half = 2.776 * math.sqrt(2.5) / math.sqrt(5)
    assert (mean, lo, hi) == pytest.approx((3.0, 3.0 - half, 3.0 + half))
    assert t_interval(np.full(4, 0.7)) == pytest.approx((0.7, 0.7, 0.7))
    one = t_interval([0.5])
    assert one[0] == 0.5 and math.isnan(one[1]) and math.isnan(one[2])


def test_the_bootstrap_interval_is_a_point_without_spread_and_covers_the_mean_with_it() -> None:
    lo, hi = bootstrap_interval(np.full(6, -0.0002))
    assert lo == hi == -0.0002
    noisy = np.array([-0.002, 0.001, 0.0, -0.001, 0.002, -0.0005])
    lo, hi = bootstrap_interval(noisy)
    assert lo < noisy.mean() < hi
    assert bootstrap_interval(noisy) == (lo, hi)  # seeded: a judge re-run gives the same verdict
    with pytest.raises(ValueError, match="no values"):
        bootstrap_interval(np.array([]))


def test_the_bootstrap_interval_agrees_with_the_t_interval_on_many_normal_values() -> None:
    values = np.random.default_rng(3).normal(0.5, 1.0, 400)
    _, t_lo, t_hi = t_interval(values)
    lo, hi = bootstrap_interval(values)
    assert lo == pytest.approx(t_lo, abs=0.02) and hi == pytest.approx(t_hi, abs=0.02)
