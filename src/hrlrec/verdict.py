"""One vocabulary for every gate: PASS, WARN or FAIL, with a reason in words and its numbers.

A gate's metrics file holds its Verdict; the CLI exit code (0 for PASS and
WARN, 1 for FAIL), the DVC stage and the Airflow task all read the same
object, so no caller re-implements a gate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
_RANK = {PASS: 0, WARN: 1, FAIL: 2}


@dataclass(frozen=True)
class Check:
    """One comparison of a number with its threshold."""

    name: str
    level: str  # PASS, WARN or FAIL
    value: float | None
    threshold: float | None
    reason: str


@dataclass
class Verdict:
    """A gate's decision: the worst of its checks, and why."""

    gate: str
    ds: str
    level: str
    reason: str
    checks: list[Check] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    model_sha256: str | None = None  # the exact weights judged (publish promotes only those)

    @property
    def exit_code(self) -> int:
        return 1 if self.level == FAIL else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "ds": self.ds,
            "verdict": self.level,
            "reason": self.reason,
            "checks": [asdict(c) for c in self.checks],
            "numbers": self.numbers,
            "model_sha256": self.model_sha256,
        }


def worst(levels: list[str]) -> str:
    """The most severe level of `levels` (PASS when empty)."""
    return max(levels, key=_RANK.__getitem__, default=PASS)


def decide(gate: str, ds: str, checks: list[Check], numbers: dict[str, Any]) -> Verdict:
    """Combine checks into a verdict whose reason lists what failed or warned, else what passed."""
    level = worst([c.level for c in checks])
    shown = [c for c in checks if c.level == level] if level != PASS else checks
    reason = "; ".join(c.reason for c in shown)
    return Verdict(gate, ds, level, f"{level}: {reason}", checks, numbers)


def at_least(name: str, value: float, threshold: float, warn_margin: float, what: str) -> Check:
    """value >= threshold passes, but within warn_margin above it warns."""
    if value < threshold:
        return Check(
            name, FAIL, value, threshold, f"{what} {value:.4f} is below {threshold:.4f} by {threshold - value:.4f}"
        )
    if value < threshold + warn_margin:
        return Check(name, WARN, value, threshold, f"{what} {value:.4f} is within {warn_margin} of {threshold:.4f}")
    return Check(name, PASS, value, threshold, f"{what} {value:.4f} >= {threshold:.4f}")
