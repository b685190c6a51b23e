"""bench/encoder_seeds.py's rule on crafted units: the AUC, clicks and tracking floors, and the per-unit checks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_encoder_seeds", ROOT / "bench" / "encoder_seeds.py")
encoder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(encoder)

RHO = {"news": 0.4, "article": 0.45, "long_video": 0.5, "short_video": 0.42}


def _arm(tracking: float = 0.04, clicks: float = 1.4, auc: float = 0.78, rho: dict | None = None) -> dict:
    """One unit's arm as measure_arm records it."""
    return {"proportions": [[0.17, 0.26, 0.23, 0.34]] * 6, "tracking_error": tracking, "clicks_per_list": clicks,
            "clicks_ratio_to_logs": clicks / 0.8, "spearman": rho or RHO, "auc": auc,
            "train_seconds": 60.0}  # fmt: skip


def _units(auc_shift: float = 0.0, clicks_shift: float = 0.0, tracking_shift: float = 0.0, spread: float = 0.0,
           rho: dict | None = None) -> list[dict]:  # fmt: skip
    out = []
    for seed in (7, 8, 9, 10):
        for i, day in enumerate(("2026-11-08", "2026-11-15")):
            base = 0.775 + 0.002 * seed  # units differ; pairing removes it
            arms = {encoder.CONTROL: _arm(auc=base),
                    encoder.TREATMENTS['all']: _arm(0.04 + tracking_shift, 1.4 * (1 + clicks_shift),
                                         base + auc_shift + spread * (-1) ** i, rho)}  # fmt: skip
            out.append({"seed": seed, "day": day, "arms": arms})
    return out


def test_a_shared_encoder_that_serves_as_well_is_eligible() -> None:
    assert encoder.judge(_units(auc_shift=0.0005, spread=0.0003), min_share=0.01) == encoder.TREATMENTS["all"]


def test_an_auc_loss_whose_interval_reaches_below_the_floor_is_not_eligible() -> None:
    assert encoder.judge(_units(auc_shift=-0.0005, spread=0.002), min_share=0.01) == encoder.CONTROL
    assert any("AUC" in why for why in encoder.reasons(_units(auc_shift=-0.002)))


def test_fewer_clicks_worse_tracking_or_a_weak_channel_is_not_eligible() -> None:
    assert any("clicks" in why for why in encoder.reasons(_units(clicks_shift=-0.03)))
    assert any("tracking" in why for why in encoder.reasons(_units(tracking_shift=0.02)))
    weak = encoder.reasons(_units(rho=RHO | {"news": 0.1}))
    assert any("Spearman" in why and "news" in why for why in weak)
    assert encoder.reasons(_units()) == []


def test_units_of_two_shared_arms_are_not_judged_together() -> None:
    other = _units()
    for r in other:
        r["arms"]["shared attention"] = r["arms"].pop("shared")
    with pytest.raises(ValueError, match="one arm's units at a time"):
        encoder.judge(_units() + other, min_share=0.01)
    assert encoder.judge(other, min_share=0.01) == "shared attention"
