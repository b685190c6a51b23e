"""bench/anchor_seeds.py's rule on crafted units: pairing, eligibility, "no difference" and the week changes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_anchor_seeds", ROOT / "bench" / "anchor_seeds.py")
anchors = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(anchors)

SEEDS, DAYS = [7, 8, 9, 10], ["2026-11-08", "2026-11-15"]
WINDOW, BUCKETS = "daily, whole window", "4-hour buckets"
RHO = {"news": 0.4, "article": 0.45, "long_video": 0.5, "short_video": 0.42}


def _arm(tracking: float, clicks: float, rho: dict | None = None, props: list | None = None) -> dict:
    return {"proportions": props or [[0.17, 0.26, 0.23, 0.34]] * 6, "tracking_error": tracking,
            "clicks_per_list": clicks, "clicks_ratio_to_logs": clicks / 0.8, "spearman": rho or RHO}  # fmt: skip


def _units(shift: dict[str, float], spread: float = 0.0, clicks: dict[str, float] | None = None) -> list[dict]:
    """Units whose arm tracks the logs with the control's error plus shift[arm] (plus noise of `spread`)."""
    rng = np.random.default_rng(0)
    out = []
    for seed in SEEDS:
        for day in DAYS:
            base = 0.03 + 0.005 * seed  # units differ from each other; pairing must remove it
            arms = {anchors.CONTROL: _arm(base, 1.40)}
            for arm, delta in shift.items():
                arms[arm] = _arm(base + delta + spread * rng.normal(), 1.40 * (1 + (clicks or {}).get(arm, 0.0)))
            out.append({"seed": seed, "day": day, "arms": arms})
    return out


def test_pairs_take_the_difference_within_each_unit() -> None:
    units = _units({WINDOW: -0.004, BUCKETS: 0.0})
    np.testing.assert_allclose(anchors.paired(units, WINDOW, "tracking_error"), -0.004, atol=1e-12)
    rel = anchors.paired(_units({WINDOW: 0.0, BUCKETS: 0.0}, clicks={WINDOW: -0.02}), WINDOW, "clicks_per_list",
                         relative=True)  # fmt: skip
    np.testing.assert_allclose(rel, -0.02, atol=1e-12)


def test_an_arm_that_tracks_better_on_every_unit_is_chosen() -> None:
    assert anchors.judge(_units({WINDOW: -0.004, BUCKETS: -0.008}), 0.02) == BUCKETS


def test_a_gain_inside_the_noise_keeps_the_control() -> None:
    # Three of four better by a little, one worse: the old every-pair rule's case, now a mean with its interval.
    assert anchors.judge(_units({WINDOW: -0.001, BUCKETS: -0.001}, spread=0.01), 0.02) == anchors.CONTROL


def test_an_arm_that_costs_clicks_is_not_eligible_however_well_it_tracks() -> None:
    units = _units({WINDOW: -0.004, BUCKETS: -0.008}, clicks={BUCKETS: -0.03})
    ok, why = anchors.eligible(units, BUCKETS)
    assert not ok and "clicks difference" in why
    assert anchors.judge(units, 0.02) == WINDOW


def test_one_weak_channel_on_one_unit_makes_an_arm_ineligible() -> None:
    units = _units({WINDOW: -0.004, BUCKETS: -0.008})
    units[3]["arms"][BUCKETS]["spearman"] = RHO | {"news": 0.25}
    ok, why = anchors.eligible(units, BUCKETS)
    assert not ok and "Spearman" in why and "news" in why
    units[5]["arms"][WINDOW]["clicks_ratio_to_logs"] = 1.02
    assert anchors.judge(units, 0.02) == anchors.CONTROL


def test_week_changes_compare_each_seeds_last_day_with_its_first() -> None:
    units = _units({WINDOW: 0.0, BUCKETS: 0.0})
    later = [[0.17 * 1.2, 0.26, 0.23, 0.34 - 0.17 * 0.2]] * 6  # news up 20 % in every bucket
    for u in units:
        if u["day"] == DAYS[1] and u["seed"] == 8:
            u["arms"][WINDOW]["proportions"] = later
    changes = anchors.week_changes(units, WINDOW, 0.02)
    assert set(changes) == set(SEEDS)
    worst_mean, worst_max = changes[8]
    assert worst_mean == pytest.approx(0.2) and worst_max == pytest.approx(0.2)
    assert changes[7] == (0.0, 0.0)


def test_units_are_read_from_several_runs_files(tmp_path: Path) -> None:
    units = _units({WINDOW: 0.0, BUCKETS: 0.0})
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text("".join(json.dumps(u) + "\n" for u in units[:3]))
    second.write_text("".join(json.dumps(u) + "\n" for u in units[3:]) + "\n")
    assert anchors.units([first, second, tmp_path / "absent.jsonl"]) == units


@pytest.mark.slow
def test_a_unit_refits_each_arm_from_one_training_and_the_trained_arm_is_the_gates_own_record(ws: Path) -> None:
    from hrlrec import stability
    from tests.conftest import TRAIN_DAYS, model_config, workspace

    day = TRAIN_DAYS[-1]
    seeded = workspace(ws, model_config("train.seed=3"))
    unit = anchors.measure_unit(seeded, day, 3)  # raises when refitting does not reproduce training's offsets
    assert set(unit["arms"]) == set(anchors.ARMS)
    gate = stability.build_record(seeded, day)  # the pipeline's record of the same candidate
    trained = anchors.configured_arm(seeded.cfg.model.channel_mix_hours, seeded.cfg.model.channel_mix_fit)
    assert unit["arms"][trained]["proportions"] == gate["proportions"]
    assert unit["model_sha256"] == gate["model_sha256"]
    for arm in unit["arms"].values():
        shares = np.array(arm["proportions"])
        np.testing.assert_allclose(np.nansum(shares, axis=1), 1.0, atol=1e-9)
        assert np.isfinite(arm["tracking_error"]) and arm["clicks_per_list"] > 0
        assert set(arm["spearman"]) == set(seeded.cfg.channels)
    assert unit["code"] == anchors.code_fingerprint()[:16] and unit["cpu"]


def test_units_of_other_code_are_left_out_and_said(capsys: pytest.CaptureFixture[str]) -> None:
    units = _units({WINDOW: 0.0, BUCKETS: 0.0})
    for i, u in enumerate(units):
        u["code"] = "new" if i % 2 else "old"
    kept = anchors.current(units, "new")
    assert len(kept) == len(units) // 2 and all(u["code"] == "new" for u in kept)
    assert "left out 4 units of other code (old; this code: new)" in capsys.readouterr().out


def test_the_trained_arm_is_the_one_params_name() -> None:
    assert anchors.configured_arm(24, "validation") == anchors.CONTROL
    assert anchors.configured_arm(24, "window") == WINDOW
    assert anchors.configured_arm(4, "validation") == BUCKETS == anchors.configured_arm(4, "window")
    with pytest.raises(ValueError, match="channel_mix_hours=6"):
        anchors.configured_arm(6, "validation")


def test_judge_only_judges_each_code_versions_units_on_their_own(capsys: pytest.CaptureFixture[str]) -> None:
    """Committed units outlive the package version that made them: --judge-only still judges them."""
    better = _units({WINDOW: -0.004, BUCKETS: -0.008})
    same = _units({WINDOW: -0.001, BUCKETS: -0.001}, spread=0.01)
    for u in better:
        u["code"] = "old"
    for u in same[:-1]:
        u["code"] = "older"
    chosen = anchors.judge_recorded(better + same[:-1], 0.02, anchors.judge)
    assert chosen == {"old": BUCKETS, "older": anchors.CONTROL}
    assert list(chosen) == ["old", "older"]  # the largest group first
    out = capsys.readouterr().out
    assert f"## units made by code old ({len(better)})" in out
    assert f"## units made by code older ({len(same) - 1})" in out
