"""bench/unseen_seeds.py's rule on crafted units: tracking, the AUC and clicks floors, and "no difference"."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_unseen_seeds", ROOT / "bench" / "unseen_seeds.py")
unseen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(unseen)

RHO = {"news": 0.4, "article": 0.45, "long_video": 0.5, "short_video": 0.42}


def _arm(tracking: float, clicks: float = 1.4, auc: float = 0.78) -> dict:
    return {"proportions": [[0.17, 0.26, 0.23, 0.34]] * 6, "tracking_error": tracking, "clicks_per_list": clicks,
            "clicks_ratio_to_logs": clicks / 0.8, "spearman": RHO, "auc": auc}  # fmt: skip


def _units(shift: float, spread: float = 0.0, auc_shift: float = 0.0, clicks_shift: float = 0.0) -> list[dict]:
    rng = np.random.default_rng(0)
    out = []
    for seed in (7, 8, 9, 10):
        for day in ("2026-11-08", "2026-11-15"):
            base = 0.03 + 0.004 * seed  # units differ; pairing removes it
            arms = {unseen.CONTROL: _arm(base),
                    unseen.FILLED: _arm(base + shift + spread * rng.normal(), 1.4 * (1 + clicks_shift),
                                        0.78 + auc_shift)}  # fmt: skip
            out.append({"seed": seed, "day": day, "arms": arms})
    return out


def test_a_fill_that_tracks_better_at_the_same_auc_is_chosen() -> None:
    assert unseen.judge(_units(-0.012, spread=0.002), min_share=0.01) == unseen.FILLED


def test_a_fill_inside_the_noise_keeps_the_control() -> None:
    assert unseen.judge(_units(-0.001, spread=0.01), min_share=0.01) == unseen.CONTROL


def test_a_fill_that_costs_auc_or_clicks_is_not_eligible() -> None:
    assert unseen.judge(_units(-0.012, auc_shift=-0.002), min_share=0.01) == unseen.CONTROL
    assert unseen.judge(_units(-0.012, clicks_shift=-0.03), min_share=0.01) == unseen.CONTROL
