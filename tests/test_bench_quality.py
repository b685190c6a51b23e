"""bench/quality.py keeps finished units and reuses them: the keeping, on tiny crafted arrays."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_quality", ROOT / "bench" / "quality.py")
quality = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(quality)


GROUP = np.repeat(np.arange(20), 5)  # 20 lists of 5 impressions
LABELS = np.tile(np.array([0, 1, 0, 0, 1], dtype=np.float32), 20)


def _unit(ds: str, seed: int, models: dict[str, float], n_boot: int = 20) -> dict:
    """A unit whose model m scores impressions by label plus noise of scale models[m] (small: a good model)."""
    rng = np.random.default_rng(seed)
    probs = {m: (LABELS + noise * rng.normal(size=LABELS.size)).astype(np.float32) for m, noise in models.items()}
    return quality.summarised(ds, seed, GROUP, LABELS, probs, {m: (1, 2) for m in models}, n_boot)


def test_a_kept_unit_is_reused_only_under_its_fingerprint(tmp_path: Path) -> None:
    path = quality.unit_path(tmp_path, "2026-11-09", 7, "")
    assert path.name == "2026-11-09_seed7_zoo.json"
    unit = _unit("2026-11-09", 7, {"hrlrec": 0.6, "lr": 0.5})
    quality.keep_unit(path, unit, "abc", "code1")
    back = quality.kept_unit(path, "abc")
    assert back is not None and back["seed"] == 7 and back["epochs"]["lr"] == (1, 2) and back["codes"] == {"code1"}
    assert back["auc"] == unit["auc"] and back["boot"] == unit["boot"] and len(back["boot"]["lr"]) == 20
    assert path.stat().st_size < 10_000  # AUCs only: small enough to commit
    assert quality.kept_unit(path, "other") is None  # other code, data or settings: train again
    assert not list(tmp_path.glob(".*"))  # the temporary file was renamed into place


def test_unreadable_units_and_leftover_temporary_files_are_not_used(tmp_path: Path) -> None:
    broken = quality.unit_path(tmp_path, "2026-11-09", 7, "")
    broken.write_text("{not json")
    assert quality.kept_unit(broken, None) is None
    quality.keep_unit(quality.unit_path(tmp_path, "2026-11-10", 7, ""), _unit("2026-11-10", 7, {"lr": 0.5}), "f", "c")
    # A write killed between the temporary file and its rename leaves a whole unit under a hidden name.
    quality.keep_unit(quality.unit_path(tmp_path, "2026-11-10", 8, ""), _unit("2026-11-10", 8, {"lr": 0.5}), "f", "c")
    done = quality.unit_path(tmp_path, "2026-11-10", 8, "")
    done.rename(tmp_path / f".{done.stem}.tmp.json")
    runs = quality.kept_runs(tmp_path)
    assert [(r["day"], r["seed"]) for r in runs] == [("2026-11-10", 7)]


def test_runs_merge_their_units_and_the_table_keeps_models_every_run_has(tmp_path: Path) -> None:
    zoo = {"hrlrec": 0.3, "lr": 0.5}
    for ds in ("2026-11-09", "2026-11-10"):
        quality.keep_unit(quality.unit_path(tmp_path, ds, 7, ""), _unit(ds, 7, zoo), "f", "c1")
    variant = "w/o GRU (mean pooling + dense)"
    quality.keep_unit(quality.unit_path(tmp_path, "2026-11-09", 7, variant),
                      _unit("2026-11-09", 7, {f"HRL-Rec {variant}": 0.55}), "g", "c2")  # fmt: skip
    # A variant kept without its zoo (a stopped bench) makes no run.
    quality.keep_unit(quality.unit_path(tmp_path, "2026-11-11", 7, variant),
                      _unit("2026-11-11", 7, {f"HRL-Rec {variant}": 0.55}), "g", "c2")  # fmt: skip
    runs = quality.kept_runs(tmp_path)
    assert [r["day"] for r in runs] == ["2026-11-09", "2026-11-10"]
    assert set(runs[0]["auc"]) == {"hrlrec", "lr", f"HRL-Rec {variant}"} and runs[0]["codes"] == {"c1", "c2"}
    assert quality.common_models(runs) == ["hrlrec", "lr"]


def test_a_days_resamples_are_the_same_for_every_seed_and_session_and_whole_lists() -> None:
    a, b = quality.resample(GROUP, "2026-11-09", 3), quality.resample(GROUP, "2026-11-09", 3)
    assert np.array_equal(a, b)  # seeded by (day, b) alone: units trained apart stay paired
    assert not np.array_equal(a, quality.resample(GROUP, "2026-11-10", 3))
    assert not np.array_equal(a, quality.resample(GROUP, "2026-11-09", 4))
    _, counts = np.unique(GROUP[a], return_counts=True)
    assert (counts % 5 == 0).all() and len(a) == GROUP.size  # whole lists, as many as the day has


def test_the_paired_bootstrap_of_kept_aucs() -> None:
    """A model against itself: exactly 0, interval [0, 0]; a clearly better one: interval above 0."""
    runs = [_unit(ds, seed, {"hrlrec": 0.2, "lr": 0.8}, n_boot=50) for ds in ("2026-11-09", "2026-11-10")
            for seed in (7, 8)]  # fmt: skip
    same = quality.paired_bootstrap(runs, ["lr"], "lr")["lr"]
    assert same == (0.0, 0.0, 0.0)
    point, lo, hi = quality.paired_bootstrap(runs, ["hrlrec"], "lr")["hrlrec"]
    assert point == pytest.approx(np.mean([r["auc"]["hrlrec"] - r["auc"]["lr"] for r in runs]))
    assert 0 < lo <= point <= hi
    # Same resamples for every model of a day: the bootstrap AUCs of a model equal a direct recomputation.
    r = runs[0]
    i = quality.resample(GROUP, r["day"], 0)
    rng = np.random.default_rng(7)
    probs = LABELS + 0.2 * rng.normal(size=LABELS.size)
    assert r["boot"]["hrlrec"][0] == pytest.approx(quality.metrics.auc(LABELS[i], probs.astype(np.float32)[i]))


def test_a_units_fingerprint_follows_training_settings_not_the_shard_size() -> None:
    from hrlrec import config

    base = quality.unit_fingerprint("code", "data", config.load(None, []))
    # shard_rows reaches a unit only through the built files, which the data fingerprint digests
    assert quality.unit_fingerprint("code", "data", config.load(None, ["dataset.shard_rows=5000"])) == base
    assert quality.unit_fingerprint("code", "data", config.load(None, ["dataset.max_tags=2"])) != base
    assert quality.unit_fingerprint("code", "data", config.load(None, ["train.learning_rate=0.01"])) != base
    assert quality.unit_fingerprint("code", "other data", config.load(None, [])) != base


def test_the_table_gives_each_ablation_its_paired_difference_from_the_full_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Table 4's column: a clearly worse variant sits below HRL-Rec with an interval under 0; HRL-Rec itself is 0."""
    variant = "HRL-Rec w/o GRU (mean pooling + dense)"
    runs = [quality.merged([_unit(ds, seed, {"hrlrec": 0.2, "lr": 0.8, "din": 0.4}, n_boot=50),
                            _unit(ds, seed, {variant: 0.9}, n_boot=50)])
            for ds in ("2026-11-09", "2026-11-10") for seed in (7, 8)]  # fmt: skip
    args = type("Args", (), {"json": tmp_path / "table.json"})()
    quality.summarise(runs, ["2026-11-09", "2026-11-10"], [7, 8], tmp_path, args)
    out = capsys.readouterr().out
    assert "| minus HRL-Rec |" in out
    row = next(line for line in out.splitlines() if line.startswith(f"| {variant} |"))
    point, lo, hi = quality.paired_bootstrap(runs, [variant], "hrlrec")[variant]
    assert hi < 0 and f"{point:+.4f} [{lo:+.4f}, {hi:+.4f}] |" in row  # the last difference cell
    table = json.loads(args.json.read_text())
    assert table["minus_hrlrec"]["hrlrec"] == [0.0, 0.0, 0.0] and table["minus_hrlrec"][variant][2] < 0


def test_the_spread_over_runs_shows_a_difference_that_a_seed_can_flip() -> None:
    """Per-run differences -0.004, -0.003, +0.003, -0.004: below in 3 of 4, but the t-interval holds 0."""
    runs = [{"auc": {"hrlrec": 0.78, "variant": 0.78 + d}} for d in (-0.004, -0.003, 0.003, -0.004)]
    mean, lo, hi, below = quality.across_runs(runs, ["variant", "hrlrec"], "hrlrec")["variant"]
    assert mean == pytest.approx(-0.002) and lo < 0 < hi and below == 3
    assert quality.across_runs(runs, ["hrlrec"], "hrlrec")["hrlrec"] == (0.0, 0.0, 0.0, 0.0)
    steady = [{"auc": {"hrlrec": 0.78, "variant": 0.78 + d}} for d in (-0.004, -0.003, -0.0035, -0.004)]
    _, lo, hi, below = quality.across_runs(steady, ["variant"], "hrlrec")["variant"]
    assert hi < 0 and below == 4


def test_an_arm_is_parsed_with_its_overrides_and_a_taken_or_malformed_label_is_refused() -> None:
    label, overrides = quality.parse_arm("shared attention=model.encoder_sharing=attention; train.seed=3")
    assert (label, overrides) == ("shared attention", ["model.encoder_sharing=attention", "train.seed=3"])
    for bad in ("no overrides", "label=", "label=not-a-setting", "=model.beta=1", "this code=model.beta=1",
                "Zoo=model.beta=1", "w/o supervised loss L_c=model.beta=1"):  # fmt: skip
        with pytest.raises(SystemExit, match="--arm"):
            quality.parse_arm(bad)


def test_an_arm_run_trains_the_control_the_arm_and_each_ablation_on_top_of_the_arm() -> None:
    assert quality.arm_variants("a", ["model.beta=2"], ablations=False) == {"this code": [], "a": ["model.beta=2"]}
    variants = quality.arm_variants("a", ["model.beta=2"], ablations=True)
    assert variants["a, w/o GRU (mean pooling + dense)"] == ["model.beta=2", "model.use_gru=false"]
    assert len(variants) == 2 + len(quality.ABLATIONS)
    assert all(o[0] == "model.beta=2" for label, o in variants.items() if label != "this code")


def test_an_arms_units_kept_apart_join_the_zoo_of_another_folder(tmp_path: Path) -> None:
    zoo, arm = tmp_path / "zoo", tmp_path / "arm"
    quality.keep_unit(quality.unit_path(zoo, "2026-11-09", 7, ""), _unit("2026-11-09", 7, {"lr": 0.8}), "f", "old")
    quality.keep_unit(quality.unit_path(arm, "2026-11-09", 7, "a"), _unit("2026-11-09", 7, {"HRL-Rec a": 0.2}),
                      "g", "new")  # fmt: skip
    variant = "w/o GRU (mean pooling + dense)"  # the kept tables' own ablation: not a row of the arm's table
    quality.keep_unit(quality.unit_path(zoo, "2026-11-09", 7, variant),
                      _unit("2026-11-09", 7, {f"HRL-Rec {variant}": 0.5}), "f", "old")  # fmt: skip
    assert quality.kept_runs(arm) == []  # alone, the arm's folder has no zoo
    (run,) = quality.kept_runs(arm, zoo)
    assert set(run["auc"]) == {"lr", "HRL-Rec a"} and run["codes"] == {"old", "new"}


def test_the_table_gives_an_arms_ablations_their_difference_from_the_arm_and_checks_the_control(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Table 4 for an arm: the arm's ablation is judged against the arm, and the control against the kept zoo."""
    arm, variant = "HRL-Rec a", "HRL-Rec a, w/o GRU (mean pooling + dense)"
    runs = []
    for ds in ("2026-11-09", "2026-11-10"):
        for seed in (7, 8):
            zoo = _unit(ds, seed, {"hrlrec": 0.2, "lr": 0.8, "din": 0.4}, n_boot=50)
            same = _unit(ds, seed, {"HRL-Rec this code": 0.2}, n_boot=50)  # the same seed's noise: the same AUC
            runs.append(quality.merged([zoo, same, _unit(ds, seed + 100, {arm: 0.2, variant: 0.9}, n_boot=50)]))
    args = type("Args", (), {"json": tmp_path / "table.json", "arm_label": "a"})()
    quality.summarise(runs, ["2026-11-09", "2026-11-10"], [7, 8], tmp_path, args)
    out = capsys.readouterr().out
    assert f"| minus {arm} |" in out
    row = next(line for line in out.splitlines() if line.startswith(f"| {variant} |"))
    point, lo, hi = quality.paired_bootstrap(runs, [variant], arm)[variant]
    assert hi < 0 and f"{point:+.4f} [{lo:+.4f}, {hi:+.4f}] |" in row
    assert "scores as the kept zoo's in 4 of 4 runs" in out
    table = json.loads(args.json.read_text())
    assert table["arm"] == arm and table["minus_arm"][arm] == [0.0, 0.0, 0.0]


def test_runs_without_a_zoo_join_only_the_arm_against_control_comparison(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A seed the kept tables lack: its run is read with require_zoo=False and counted in the arm-control line."""
    arm, control = "HRL-Rec a", "HRL-Rec this code"
    for seed, zoo in ((7, True), (10, False)):
        if zoo:
            quality.keep_unit(quality.unit_path(tmp_path, "2026-11-09", seed, ""),
                              _unit("2026-11-09", seed, {"lr": 0.8}), "f", "c")  # fmt: skip
        quality.keep_unit(quality.unit_path(tmp_path, "2026-11-09", seed, "this code"),
                          _unit("2026-11-09", seed, {control: 0.3}), "f", "c")  # fmt: skip
        quality.keep_unit(quality.unit_path(tmp_path, "2026-11-09", seed, "a"),
                          _unit("2026-11-09", seed, {arm: 0.35}), "f", "c")  # fmt: skip
    assert [r["seed"] for r in quality.kept_runs(tmp_path)] == [7]
    every = quality.kept_runs(tmp_path, require_zoo=False)
    assert [r["seed"] for r in every] == [7, 10]
    quality.arm_against_control(every, arm)
    out = capsys.readouterr().out
    mean = sum(r["auc"][arm] - r["auc"][control] for r in every) / 2
    assert f"{arm} minus {control} over 2 runs (2 seeds x 1 days): {mean:+.5f}" in out
    quality.arm_against_control(every, "HRL-Rec b")
    assert "No run has both" in capsys.readouterr().out
