"""Intervals for a handful of paired measurements (seeds, days, benchmark rounds).

Benchmarks here repeat a measurement 3 to 12 times; a normal quantile would
understate those intervals by up to a factor of 2, and scipy is not a runtime
dependency, so the two-sided 97.5 % t quantiles are tabled (to 3 decimals; the
normal 1.960 beyond 30 degrees of freedom). The benches' rules written before
their runs (bench/anchor_seeds.py, encoder_seeds.py, lr_step.py, unseen_seeds.py) use the
percentile bootstrap instead, so that is kept here too, once.
"""

from __future__ import annotations

import numpy as np

T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042)  # fmt: skip


def t_quantile(df: int) -> float:
    """The two-sided 95 % Student-t quantile for `df` degrees of freedom (>= 1)."""
    if df < 1:
        raise ValueError(f"degrees of freedom {df}: a t-interval needs at least two values")
    return T975[df - 1] if df <= len(T975) else 1.960


def t_interval(values: np.ndarray | list[float]) -> tuple[float, float, float]:
    """Mean and 95 % t-interval of the mean of `values`; one value gives (x, nan, nan): no interval."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("no values")
    mean = float(x.mean())
    if x.size == 1:
        return mean, float("nan"), float("nan")
    half = t_quantile(x.size - 1) * float(x.std(ddof=1)) / float(np.sqrt(x.size))
    return mean, mean - half, mean + half


BOOTSTRAP_DRAWS = 10_000


def bootstrap_interval(values: np.ndarray, draws: int = BOOTSTRAP_DRAWS, seed: int = 0) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of the mean of `values` (units resampled with replacement).

    The rules of the seed benches name it; with 6-16 paired units it makes no
    normality assumption about the differences. Seeded, so a judge re-run on the
    same units gives the same verdict.
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("no values")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, (draws, x.size))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))
