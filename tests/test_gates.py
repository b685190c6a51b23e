"""The AUC gate's decisions, the registry, publish and rollback, with real trained models."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from hrlrec import evaluate, publish, registry, train
from hrlrec.config import AucGateConfig
from hrlrec.errors import BadInput, Rejected
from hrlrec.serving import export
from hrlrec.verdict import FAIL, PASS, WARN
from tests.conftest import TRAIN_DAYS, model_config

DS = TRAIN_DAYS[-1]
GATE = AucGateConfig(floor=0.70, max_drop=0.005, min_relaimpr=0.05, warn_margin=0.002)


def test_gate_passes_when_every_number_clears_its_threshold() -> None:
    v = evaluate.decide_auc(DS, cand_auc=0.78, lr_auc=0.74, prod_auc=0.779, g=GATE)
    assert v.level == PASS and v.exit_code == 0
    assert v.numbers["relaimpr_over_lr"] == pytest.approx(0.28 / 0.24 - 1)


def test_gate_fails_on_the_floor_and_says_by_how_much() -> None:
    v = evaluate.decide_auc(DS, cand_auc=0.69, lr_auc=0.60, prod_auc=None, g=GATE)
    assert v.level == FAIL and v.exit_code == 1
    assert "candidate AUC 0.6900 is below 0.7000 by 0.0100" in v.reason


def test_gate_fails_on_a_drop_against_production() -> None:
    v = evaluate.decide_auc(DS, cand_auc=0.770, lr_auc=0.70, prod_auc=0.780, g=GATE)
    assert v.level == FAIL
    assert "0.0100 below production 0.7800" in v.reason


def test_gate_fails_on_relaimpr_over_lr() -> None:
    v = evaluate.decide_auc(DS, cand_auc=0.745, lr_auc=0.74, prod_auc=None, g=GATE)
    assert v.level == FAIL and "RelaImpr over LR" in v.reason


def test_gate_warns_near_a_threshold_and_when_production_cannot_be_compared() -> None:
    assert evaluate.decide_auc(DS, 0.7015, 0.60, None, GATE).level == WARN
    v = evaluate.decide_auc(DS, 0.78, 0.70, None, GATE, prod_problem="production v1 cannot score today: ...")
    assert v.level == WARN and "cannot score today" in v.reason


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_publish_promotes_and_rollback_restores_byte_for_byte(ws: Path) -> None:
    cfg = model_config("registry.publish_requires=[evaluate]", "gates.auc.floor=0.5", "gates.auc.min_relaimpr=-1")
    train.run(cfg, DS, ws, models=["hrlrec", "lr"], progress=False)
    export.run(cfg, DS, ws)
    assert evaluate.run(cfg, DS, ws).level in (PASS, WARN)
    first = publish.run(cfg, DS, ws, approve_warn=True)
    v1 = registry.production(cfg, ws)
    assert v1 is not None and v1.name == first.version and first.previous is None
    v1_bytes = _sha(v1.weights())
    meta = v1.meta
    assert meta["ds"] == DS and meta["params_hash"] and meta["model_hashes"]["hrlrec"] and meta["gates"]["evaluate"]

    # A second candidate (another seed) is promoted over it ...
    cfg2 = model_config("registry.publish_requires=[evaluate]", "gates.auc.floor=0.5", "gates.auc.min_relaimpr=-1",
                        "seed=8", "gates.auc.max_drop=1")  # fmt: skip
    train.run(cfg2, DS, ws, models=["hrlrec", "lr"], progress=False)
    export.run(cfg2, DS, ws)
    evaluate.run(cfg2, DS, ws)
    second = publish.run(cfg2, DS, ws, approve_warn=True)
    assert second.previous == v1.name and registry.production(cfg, ws).name == second.version

    # ... and rolled back: the files that serve again are byte for byte the first version's.
    restored = registry.rollback(cfg, ws, reason="drill")
    assert restored.name == v1.name
    assert _sha(registry.production(cfg, ws).weights()) == v1_bytes
    registry.verify(registry.production(cfg, ws))  # the ONNX graphs that serve again match their manifest
    history = (registry.root_of(cfg, ws) / "history.jsonl").read_text().splitlines()
    assert [json.loads(h)["action"] for h in history] == ["promote", "promote", "rollback"]
    assert registry.rollback(cfg, ws, to=second.version).name == second.version
    with pytest.raises(BadInput, match="already in production"):
        registry.rollback(cfg, ws, to=second.version)


def test_a_failed_or_unapproved_gate_leaves_production_untouched(ws: Path) -> None:
    cfg = model_config("registry.publish_requires=[evaluate]")
    metrics = ws / "metrics"
    metrics.mkdir(exist_ok=True)
    for verdict in (FAIL, WARN):
        (metrics / "evaluate.json").write_text(
            json.dumps({"ds": DS, "verdict": verdict, "reason": f"{verdict}: crafted"})
        )
        with pytest.raises(Rejected, match="not published; production stays empty"):
            publish.run(cfg, DS, ws)
        assert registry.production(cfg, ws) is None
    (metrics / "evaluate.json").write_text(json.dumps({"ds": "2026-01-01", "verdict": PASS, "reason": "old"}))
    with pytest.raises(Rejected, match="its result is for 2026-01-01"):
        publish.run(cfg, DS, ws)
    with pytest.raises(Rejected, match="stability: no result"):
        publish.run(model_config(), DS, ws)


def test_a_tampered_version_is_refused(ws: Path) -> None:
    cfg = model_config("registry.publish_requires=[]")
    train.run(cfg, DS, ws, models=["hrlrec", "lr"], progress=False)
    export.run(cfg, DS, ws)
    version = registry.production(cfg, ws) or registry.get(cfg, ws, publish.run(cfg, DS, ws).version)
    weights = version.weights()
    weights.write_bytes(weights.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(BadInput, match="does not match its card"):
        registry.verify(version)
    with pytest.raises(BadInput, match="does not match its card"):
        registry.promote(cfg, ws, version)


def test_warm_start_continues_from_production_when_it_fits(ws: Path) -> None:
    cfg = model_config("registry.publish_requires=[]")
    train.run(cfg, DS, ws, models=["hrlrec", "lr"], progress=False)
    export.run(cfg, DS, ws)
    version = publish.run(cfg, DS, ws).version
    warm = model_config("registry.publish_requires=[]", "train.warm_start=true", "seed=8")
    train.run(warm, DS, ws, models=["hrlrec"], progress=False)
    card = json.loads((ws / "models" / "candidates" / f"ds={DS}" / "hrlrec.json").read_text())
    assert card["warm_start"] == version
    # Another architecture (a wider state) cannot start from it: trained from scratch, and said so.
    wider = model_config("registry.publish_requires=[]", "train.warm_start=true", "profiles.small.state_dim=24")
    train.run(wider, DS, ws, models=["hrlrec"], progress=False)
    card = json.loads((ws / "models" / "candidates" / f"ds={DS}" / "hrlrec.json").read_text())
    assert card["warm_start"] is None
