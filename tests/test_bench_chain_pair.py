"""bench/chain_pair.py on crafted chains and on two committed ones: pairing by day, week 2, the intervals."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_chain_pair", ROOT / "bench" / "chain_pair.py")
chain_pair = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(chain_pair)

CHAINS = ROOT / "docs" / "policy-chains"


def _chain(shift: float = 0.0, clicks_factor: float = 1.0, days: int = 14) -> list[dict]:
    """Rows like bench/policy.py's: no stability baseline in week 1; day i's figures grow with i."""
    rows = []
    for i in range(days):
        week2 = i >= 7
        rows.append({"ds": f"2026-11-{16 + i:02d}", "auc": 0.77 + 0.001 * i + shift / 100,
                     "stability_verdict": "PASS",
                     "mean_change": 0.05 + 0.01 * (i % 3) + shift if week2 else None,
                     "max_change": 0.10 + 0.02 * (i % 2) + 2 * shift if week2 else None,
                     "clicks_candidate": {"mean": (1.3 + 0.01 * i) * clicks_factor}})  # fmt: skip
    return rows


def test_a_constant_shift_is_found_exactly_with_no_spread() -> None:
    result = chain_pair.paired(_chain(shift=0.01, clicks_factor=1.02), _chain())
    mean = result["week2_worst_mean_change_points"]
    assert mean["days"] == 7  # week 1 has no baseline: not paired
    assert mean["mean"] == pytest.approx(1.0) and mean["low"] == pytest.approx(1.0)
    assert result["week2_worst_max_change_points"]["mean"] == pytest.approx(2.0)
    assert result["clicks_per_list_percent"]["days"] == 14
    assert result["clicks_per_list_percent"]["mean"] == pytest.approx(2.0)
    assert result["auc"]["mean"] == pytest.approx(0.0001)
    assert result["auc"]["new_below"] == 0


def test_days_are_paired_by_date_and_different_days_are_refused() -> None:
    with pytest.raises(ValueError, match="different days"):
        chain_pair.paired(_chain(), _chain(days=13))
    shifted = _chain()
    shifted[3]["ds"] = "2026-12-01"
    with pytest.raises(ValueError, match="different days"):
        chain_pair.paired(shifted, _chain())


def test_a_day_without_a_baseline_on_either_side_is_left_out_of_week_2() -> None:
    new = _chain(shift=0.01)
    new[9]["mean_change"] = None  # e.g. a stability check that found no baseline that day
    result = chain_pair.paired(new, _chain())
    assert result["week2_worst_mean_change_points"]["days"] == 6


def test_older_chains_with_bare_click_numbers_are_read() -> None:
    old = _chain()
    for r in old:
        r["clicks_candidate"] = r["clicks_candidate"]["mean"]
    assert chain_pair.paired(_chain(clicks_factor=0.99), old)["clicks_per_list_percent"]["mean"] == pytest.approx(-1.0)


def test_describe_says_no_difference_when_the_interval_holds_zero() -> None:
    assert chain_pair.describe("auc", {"days": 5, "mean": 0.001, "low": -0.001, "high": 0.003, "new_below": 2}
                               ).endswith("no difference")  # fmt: skip
    assert chain_pair.describe("auc", {"days": 5, "mean": -0.002, "low": -0.003, "high": -0.001, "new_below": 5}
                               ).endswith("lower")  # fmt: skip
    assert "no paired days" in chain_pair.describe("auc", {"days": 0, "mean": None, "low": None, "high": None,
                                                           "new_below": 0})  # fmt: skip


def test_the_committed_chains_give_the_figures_docs_results_quotes() -> None:
    """Chain A (`unseen_context: mean`) against the `keep` chain of the same seed (docs/results.md)."""
    new = chain_pair.load_rows(CHAINS / "2026-11-16-14d-hours4-unseen-mean-train-seed-default.json")
    old = chain_pair.load_rows(CHAINS / "2026-11-16-14d-hours4-train-seed-default.json")
    result = chain_pair.paired(new, old)
    mean = result["week2_worst_mean_change_points"]
    assert (round(mean["mean"], 2), round(mean["low"], 2), round(mean["high"], 2)) == (-0.87, -2.33, 0.58)
    c = result["clicks_per_list_percent"]
    assert (round(c["mean"], 2), round(c["low"], 2), round(c["high"], 2)) == (-0.32, -0.87, 0.24)
    a = result["auc"]
    assert (round(a["mean"], 4), round(a["low"], 4), round(a["high"], 4)) == (-0.0005, -0.0009, -0.0001)


def test_a_file_that_is_not_a_chain_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text(json.dumps({"summary": {}}))
    with pytest.raises(SystemExit, match=r"x\.json: no 'rows'"):
        chain_pair.load_rows(bad)
    bad.write_text("{")
    with pytest.raises(SystemExit, match="not a readable chain JSON"):
        chain_pair.load_rows(bad)


def test_pairs_of_several_seeds_are_judged_with_the_seed_as_the_unit() -> None:
    """Three seeds' pairs: shifts -2 %, 0 %, -1 % in clicks; the seed interval is made of the three pair means."""
    pairs = [chain_pair.paired(_chain(clicks_factor=f), _chain()) for f in (0.98, 1.0, 0.99)]
    both = chain_pair.across_seeds(pairs)["clicks_per_list_percent"]
    assert both["seeds"]["values"] == pytest.approx([-2.0, 0.0, -1.0])
    assert both["seeds"]["days"] == 3 and both["seeds"]["mean"] == pytest.approx(-1.0)
    _, low, high = chain_pair.t_interval([-2.0, 0.0, -1.0])
    assert (both["seeds"]["low"], both["seeds"]["high"]) == pytest.approx((low, high))
    assert low < 0 < high  # three seeds: "no difference", although every day of two pairs is below
    assert both["pooled_days"]["days"] == 42 and both["pooled_days"]["new_below"] == 28
    assert both["pooled_days"]["high"] < 0  # the pooled days, a reference only, would call it lower


def test_the_committed_attention_chains_give_the_three_seed_figures_docs_results_quotes() -> None:
    """The shared attention's chains against A, B, C (docs/results.md, twelfth session)."""
    prefix = "2026-11-16-14d-hours4-unseen-mean-"
    pairs = [chain_pair.paired(chain_pair.load_rows(CHAINS / f"{prefix}attention-train-seed-{s}.json"),
                               chain_pair.load_rows(CHAINS / f"{prefix}train-seed-{s}.json"))
             for s in ("default", "8", "9")]  # fmt: skip
    both = chain_pair.across_seeds(pairs)
    clicks = both["clicks_per_list_percent"]["seeds"]
    assert [round(v, 2) for v in clicks["values"]] == [-1.78, 0.17, -0.89]
    assert (round(clicks["mean"], 2), round(clicks["low"], 2), round(clicks["high"], 2)) == (-0.83, -3.26, 1.60)
    auc = both["auc"]["seeds"]
    assert [round(v, 4) for v in auc["values"]] == [-0.0001, 0.0015, 0.0006]


def test_an_odd_number_of_chains_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("sys.argv", ["chain_pair.py", str(tmp_path / "a.json")])
    with pytest.raises(SystemExit, match="chains come in pairs"):
        chain_pair.main()
