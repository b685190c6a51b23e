"""Off-policy estimates of a ranking policy's expected clicks per list, from logged lists.

What an estimate needs, per logged list i and position k (arrays of shape (n, K)):

- `rewards`: what was observed there (a click, 0/1, or an eq. (7) reward);
- `logging`: the logging policy's probability of the logged item there;
- `target`: the evaluated policy's probability of that same item there;
- for the doubly robust estimate, a reward model's `predicted` reward of the logged
  item there (after the logged items before it) and its `expected` reward at
  position k of the *target policy's own list* (the direct method: the target's
  list rolled out, or its expectation, and scored by the same reward model).

The two probabilities must be of the same *kind*, and the kind chooses the estimator:

- `marginal`: the probability that the item appears at position k at all (a
  position-based slate). The per-slot weight is target / logging: the
  independent-item estimator, unbiased when a click at k depends on the item at k
  only (no interaction with the rest of the list).
- `sequential`: the probability of choosing the item at k given the items placed
  before it (what Plackett-Luce logging and our ranker record). The weight at k is
  the product of the ratios at positions 1..k (the probability ratio of the whole
  prefix): the cascade estimator, unbiased when a click at k depends on the items
  at 1..k only, which is how the simulated world and the paper's session model work.

The doubly robust estimate is the same sum for both kinds,

    DR = sum_k expected_k + sum_k w_k (r_k - predicted_k),

the reward model's value of the target's own list plus the importance-weighted
residuals on the logged slots. For the cascade this is the sequential doubly
robust estimator with Q_k = predicted_k + (the model's value of the rest of the
target's list): its continuation terms telescope, so no prefix weight multiplies
the model's term. (Weighting the model's one-step term by the prefix weight up
to k - 1 is also unbiased, but with a top-10 policy those prefix weights vanish
after one or two positions, and the estimate collapses to position 1: 0.43
against a truth of 1.31 clicks on 2026-11-29.) When the weights are tiny the
residuals barely correct the model, and the estimate is only as good as the
reward model: the effective sample size says when that is the case.

Every estimate comes with a percentile bootstrap interval over lists, the
effective sample size of its weights (per position, (sum w)^2 / sum w^2; the
smallest position's is reported, since that is where the estimate is weakest),
the share of weights clipped, and the overlap (share of logged slots the
evaluated policy could have produced at all). With too little support (overlap
or effective sample size under the caller's minimum) the estimate is marked
inconclusive and says why: a number is still given, never as a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hrlrec.errors import BadInput

KINDS = ("marginal", "sequential")
ESTIMATORS = ("ips", "snips", "dr")


@dataclass(frozen=True)
class SlateLog:
    """Logged lists with both policies' probabilities of what was logged (see the module doc)."""

    rewards: np.ndarray
    logging: np.ndarray
    target: np.ndarray
    kind: str
    predicted: np.ndarray | None = None
    expected: np.ndarray | None = None
    placed: np.ndarray | None = None  # (n, K) bool: a slot holds an item (default: logging > 0)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise BadInput(f"propensity kind {self.kind!r}: choose one of {', '.join(KINDS)}")
        shape = np.shape(self.rewards)
        if len(shape) != 2:
            raise BadInput(f"rewards: expected (lists, positions), got shape {shape}")
        named = {"logging": self.logging, "target": self.target, "predicted": self.predicted,
                 "expected": self.expected, "placed": self.placed}  # fmt: skip
        for name, values in named.items():
            if values is not None and np.shape(values) != shape:
                raise BadInput(f"{name}: shape {np.shape(values)} differs from rewards' {shape}")
        slots = self.slots
        _check_probabilities("logging", self.logging, slots, allow_zero=False)
        _check_probabilities("target", self.target, slots, allow_zero=True)
        everywhere = np.ones(shape, dtype=bool)  # the model's term counts at the target's positions too
        for name, where in (("rewards", slots), ("predicted", slots), ("expected", everywhere)):
            values = getattr(self, name)
            if values is not None and not np.isfinite(np.asarray(values, float)[where]).all():
                row = int(np.argwhere(~np.isfinite(np.asarray(values, float)) & where)[0][0])
                raise BadInput(f"{name}: not a finite number in list {row}")

    @property
    def slots(self) -> np.ndarray:
        """(n, K) bool: the positions that hold a logged item."""
        if self.placed is not None:
            return np.asarray(self.placed, bool)
        return np.asarray(self.logging, float) > 0

    @property
    def n(self) -> int:
        return int(np.shape(self.rewards)[0])


def _check_probabilities(name: str, values: np.ndarray, slots: np.ndarray, allow_zero: bool) -> None:
    p = np.asarray(values, float)
    bad = slots & ~(np.isfinite(p) & (p >= 0 if allow_zero else p > 0) & (p <= 1 + 1e-6))
    if bad.any():
        row, pos = (int(x) for x in np.argwhere(bad)[0])
        allowed = "[0, 1]" if allow_zero else "(0, 1]"
        raise BadInput(f"{name} propensity {float(p[row, pos])!r} at list {row}, position {pos} is outside {allowed}")


@dataclass(frozen=True)
class Estimate:
    """One estimator's answer: the value per list, its interval, and how far to trust it."""

    estimator: str
    kind: str
    value: float
    low: float
    high: float
    level: float
    lists: int
    ess: float  # smallest per-position effective sample size of the weights
    ess_share: float  # ess / lists
    clipped_share: float  # share of placed slots whose weight was clipped
    clip: float | None
    overlap: float  # share of placed slots the target policy could have produced (target > 0)
    inconclusive: str | None  # why the estimate is too weakly supported to judge by, or None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Support:
    """The weights of a log and what they say about support."""

    w: np.ndarray  # (n, K) weight for the observed reward at k (0 where no item)
    clipped_share: float
    overlap: float
    ess: float


def weights(log: SlateLog, clip: float | None = None) -> Support:
    """Importance weights of `log` (see the module doc), clipped at `clip` when given."""
    slots = log.slots
    target = np.where(slots, np.asarray(log.target, float), 0.0)
    logging = np.where(slots, np.asarray(log.logging, float), 1.0)
    ratio = np.where(slots, target / logging, 0.0)
    # Sequential: the prefix product; an empty slot ends the list, so the product stops there.
    w = ratio if log.kind == "marginal" else np.cumprod(ratio, axis=1)
    clipped = 0.0
    if clip is not None:
        clipped = float(((w > clip) & slots).sum() / max(slots.sum(), 1))
        w = np.minimum(w, clip)
    overlap = float(((target > 0) & slots).sum() / max(slots.sum(), 1))
    return Support(w, clipped, overlap, _ess(w, slots))


def _ess(w: np.ndarray, slots: np.ndarray) -> float:
    """Smallest per-position (sum w)^2 / sum w^2 over positions that hold items."""
    out = []
    for k in range(w.shape[1]):
        col = w[slots[:, k], k]
        if len(col) == 0:
            continue
        sq = float((col**2).sum())
        out.append(float(col.sum()) ** 2 / sq if sq > 0 else 0.0)
    return min(out, default=0.0)


def _per_list(log: SlateLog, support: Support, estimator: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-list numerators (n, K) and, for the self-normalised estimate, denominators (n, K)."""
    slots = log.slots
    r = np.where(slots, np.asarray(log.rewards, float), 0.0)
    if estimator == "ips":
        return support.w * r, None
    if estimator == "snips":
        return support.w * r, support.w
    if log.predicted is None or log.expected is None:
        raise BadInput("the doubly robust estimate needs the model's `predicted` and `expected` rewards")
    predicted = np.where(slots, np.asarray(log.predicted, float), 0.0)
    # The model's term covers the target's own positions, logged or not (a logged list may be shorter).
    return np.asarray(log.expected, float) + support.w * (r - predicted), None


def _value(num: np.ndarray, den: np.ndarray | None, counts: np.ndarray | None = None) -> np.ndarray | float:
    """The estimate from per-list terms; with bootstrap `counts` (B, n), one value per resample."""
    if counts is None:
        if den is None:
            return float(num.sum(1).mean())
        d = den.sum(0)
        return float(np.divide(num.sum(0), d, out=np.zeros_like(d), where=d > 0).sum())
    n = num.shape[0]
    if den is None:
        return counts @ num.sum(1) / n
    nums, dens = counts @ num, counts @ den  # (B, K)
    return np.divide(nums, dens, out=np.zeros_like(nums), where=dens > 0).sum(1)


def estimate(
    log: SlateLog,
    estimator: str,
    clip: float | None = None,
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
    min_ess: float = 0.0,
    min_overlap: float = 0.0,
) -> Estimate:
    """`estimator` (ips, snips or dr) of `log`'s expected reward per list under the target policy."""
    if estimator not in ESTIMATORS:
        raise BadInput(f"estimator {estimator!r}: choose one of {', '.join(ESTIMATORS)}")
    if not 0 < level < 1:
        raise BadInput(f"level {level}: must lie in (0, 1)")
    if log.n == 0:
        raise BadInput("no logged lists to estimate from")
    support = weights(log, clip)
    num, den = _per_list(log, support, estimator)
    value = _value(num, den)
    rng = np.random.default_rng([seed, 4242])
    boots = []
    for start in range(0, n_boot, 100):
        b = min(100, n_boot - start)
        counts = rng.multinomial(log.n, np.full(log.n, 1.0 / log.n), size=b).astype(float)
        boots.append(_value(num, den, counts))
    dist = np.concatenate(boots)
    tail = (1 - level) / 2
    low, high = (float(x) for x in np.quantile(dist, [tail, 1 - tail]))
    problems = []
    if support.overlap < min_overlap:
        problems.append(f"overlap {support.overlap:.1%} < {min_overlap:.0%}")
    if support.ess < min_ess:
        problems.append(f"effective sample size {support.ess:.0f} < {min_ess:.0f}")
    return Estimate(
        estimator=estimator,
        kind=log.kind,
        value=float(value),
        low=low,
        high=high,
        level=level,
        lists=log.n,
        ess=support.ess,
        ess_share=support.ess / log.n,
        clipped_share=support.clipped_share,
        clip=clip,
        overlap=support.overlap,
        inconclusive="; ".join(problems) or None,
    )


@dataclass(frozen=True)
class Calibration:
    """Platt scaling of a click model on logged slots: p -> sigmoid(a * logit(p) + b)."""

    a: float
    b: float
    slots: int
    observed: float  # mean logged reward per slot
    before: float  # mean prediction per slot before calibration
    after: float  # ... and after

    def __call__(self, p: np.ndarray) -> np.ndarray:
        q = np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
        return np.where(np.asarray(p) > 0, 1.0 / (1.0 + np.exp(-(self.a * np.log(q / (1 - q)) + self.b))), 0.0)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def calibrate(predicted: np.ndarray, clicks: np.ndarray, slots: np.ndarray, iterations: int = 50) -> Calibration:
    """Fit Platt scaling of `predicted` click probabilities to the logged 0/1 `clicks` on `slots` (Newton).

    Why: a click model trained on earlier days can be off in level on the test day (in the simulated
    world the weekday, the day's pull and fatigue move click rates), and when the importance weights
    are too small to correct it, the doubly robust estimate inherits that error whole. Its own logged
    slots show the error without any ground truth; the fit uses only what a real log has.
    """
    slots = np.asarray(slots, bool)
    p = np.clip(np.asarray(predicted, float)[slots], 1e-6, 1 - 1e-6)
    y = np.asarray(clicks, float)[slots]
    if len(y) < 2 or y.min() == y.max():
        raise BadInput(f"calibration needs logged slots with and without clicks (got {len(y)} slots)")
    x = np.stack([np.log(p / (1 - p)), np.ones_like(p)], 1)
    theta = np.array([1.0, 0.0])
    for _ in range(iterations):
        mu = 1.0 / (1.0 + np.exp(-(x @ theta)))
        grad = x.T @ (y - mu)
        hess = (x * (mu * (1 - mu))[:, None]).T @ x + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        theta = theta + step
        if np.abs(step).max() < 1e-10:
            break
    a, b = (float(v) for v in theta)
    after = float((1.0 / (1.0 + np.exp(-(x @ theta)))).mean())
    return Calibration(a, b, len(y), float(y.mean()), float(p.mean()), after)


def log_loss(predicted: np.ndarray, clicks: np.ndarray, slots: np.ndarray) -> float:
    """Mean negative log-likelihood of the logged 0/1 `clicks` on `slots` under `predicted` probabilities."""
    slots = np.asarray(slots, bool)
    p = np.clip(np.asarray(predicted, float)[slots], 1e-6, 1 - 1e-6)
    y = np.asarray(clicks, float)[slots]
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def choose_reward_model(
    predicted: dict[str, np.ndarray], clicks: np.ndarray, slots: np.ndarray, prefer: str = "candidate",
    tolerance: float = 0.0,
) -> tuple[str, dict[str, Calibration], dict[str, float]]:  # fmt: skip
    """The reward model that judges every policy, each model's calibration, and their log-losses on the logged slots.

    `prefer` judges unless its calibrated log-loss is worse than the best by more than `tolerance`;
    then the best does. Why: one yardstick must judge every policy. A candidate whose click head is
    broken (an untrained one, say) predicts every list alike, so as the judge it would rate its own
    useless lists level with production's and pass; its log-loss on the logged slots gives it away.
    But each head also rates its own lists higher than a rival's, so the judge must not flip with
    the small log-loss differences between two sound heads: hence the tolerance.
    """
    if prefer not in predicted:
        raise BadInput(f"the preferred reward model {prefer!r} is not among {', '.join(predicted)}")
    fits = {name: calibrate(p, clicks, slots) for name, p in predicted.items()}
    losses = {name: log_loss(fits[name](p), clicks, slots) for name, p in predicted.items()}
    best = min(losses, key=lambda name: (losses[name], name != prefer))
    return (prefer if losses[prefer] <= losses[best] + tolerance else best), fits, losses


def estimate_all(log: SlateLog, **options: Any) -> dict[str, Estimate]:
    """IPS, SNIPS and (when the log carries the model's predictions) DR, with the same options."""
    names = [e for e in ESTIMATORS if e != "dr" or (log.predicted is not None and log.expected is not None)]
    return {name: estimate(log, name, **options) for name in names}


def difference(
    a: SlateLog, b: SlateLog, estimator: str = "dr", clip: float | None = None, level: float = 0.95,
    n_boot: int = 1000, seed: int = 0,
) -> dict[str, float]:  # fmt: skip
    """Estimated value of policy `a` minus policy `b` on the same logged lists, with a paired bootstrap interval.

    Pairing (the same resampled lists for both) removes the lists' own variance from the difference,
    which is what a release decision compares. IPS and DR only (their values are means over lists).
    """
    if estimator not in ("ips", "dr"):
        raise BadInput(f"difference of {estimator!r}: choose ips or dr (means over lists)")
    if a.n != b.n or not np.array_equal(np.asarray(a.rewards), np.asarray(b.rewards)):
        raise BadInput("a paired difference needs the same logged lists and rewards for both policies")
    terms = [_per_list(log, weights(log, clip), estimator)[0].sum(1) for log in (a, b)]
    delta = terms[0] - terms[1]
    rng = np.random.default_rng([seed, 4343])
    boots = [rng.multinomial(a.n, np.full(a.n, 1.0 / a.n), size=min(100, n_boot - s)).astype(float) @ delta / a.n
             for s in range(0, n_boot, 100)]  # fmt: skip
    tail = (1 - level) / 2
    low, high = (float(x) for x in np.quantile(np.concatenate(boots), [tail, 1 - tail]))
    return {"estimator": estimator, "value": float(delta.mean()), "low": low, "high": high, "level": level}
