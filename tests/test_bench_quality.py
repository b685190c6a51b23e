"""bench/quality.py keeps finished units and reuses them: the keeping, on tiny crafted arrays."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_quality", ROOT / "bench" / "quality.py")
quality = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(quality)


def _unit(ds: str, seed: int, models: dict[str, float]) -> dict:
    labels = np.array([0, 1, 0, 1], dtype=np.float32)
    return {"day": ds, "seed": seed, "group": np.array([0, 0, 1, 1]), "labels": labels,
            "probs": {m: np.full(4, v, dtype=np.float32) for m, v in models.items()},
            "epochs": {m: (1, 2) for m in models}}  # fmt: skip


def test_a_kept_unit_is_reused_only_under_its_fingerprint(tmp_path: Path) -> None:
    path = quality.unit_path(tmp_path, "2026-11-09", 7, "")
    assert path.name == "2026-11-09_seed7_zoo.npz"
    quality.keep_unit(path, _unit("2026-11-09", 7, {"hrlrec": 0.6, "lr": 0.5}), "abc", "code1")
    back = quality.kept_unit(path, "abc")
    assert back is not None and back["seed"] == 7 and back["epochs"]["lr"] == (1, 2) and back["codes"] == {"code1"}
    assert np.array_equal(back["probs"]["hrlrec"], np.full(4, 0.6, dtype=np.float32))
    assert quality.kept_unit(path, "other") is None  # other code, data or settings: train again
    assert not list(tmp_path.glob(".*"))  # the temporary file was renamed into place


def test_unreadable_units_and_leftover_temporary_files_are_not_used(tmp_path: Path) -> None:
    broken = quality.unit_path(tmp_path, "2026-11-09", 7, "")
    broken.write_bytes(b"not a zip")
    assert quality.kept_unit(broken, None) is None
    quality.keep_unit(quality.unit_path(tmp_path, "2026-11-10", 7, ""), _unit("2026-11-10", 7, {"lr": 0.5}), "f", "c")
    # A write killed between the temporary file and its rename leaves a whole unit under a hidden name.
    quality.keep_unit(quality.unit_path(tmp_path, "2026-11-10", 8, ""), _unit("2026-11-10", 8, {"lr": 0.5}), "f", "c")
    done = quality.unit_path(tmp_path, "2026-11-10", 8, "")
    done.rename(tmp_path / f".{done.stem}.tmp.npz")
    runs = quality.kept_runs(tmp_path)
    assert [(r["day"], r["seed"]) for r in runs] == [("2026-11-10", 7)]


def test_runs_merge_their_units_and_the_table_keeps_models_every_run_has(tmp_path: Path) -> None:
    zoo = {"hrlrec": 0.6, "lr": 0.5}
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
    assert set(runs[0]["probs"]) == {"hrlrec", "lr", f"HRL-Rec {variant}"} and runs[0]["codes"] == {"c1", "c2"}
    assert quality.common_models(runs) == ["hrlrec", "lr"]
