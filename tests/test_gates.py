"""The AUC gate's decisions, the registry, publish and rollback, with real trained models."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from hrlrec import checkpoints, evaluate, publish, registry, results, train
from hrlrec.config import AucGateConfig, OpeConfig
from hrlrec.errors import BadInput, Rejected
from hrlrec.evaluation import offpolicy
from hrlrec.serving import export
from hrlrec.verdict import FAIL, PASS, WARN
from tests.conftest import TRAIN_DAYS, model_config, workspace

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


OPE = OpeConfig(enabled=True, max_drop=0.02, max_requests=100, epsilon=0.1, clip=100.0, min_ess=100.0,
                min_overlap=0.05, bootstrap=100, judge_tolerance=0.01, difference_margin=0.05,
                value_margin=0.2)  # fmt: skip


def _off_policy(diff: float, low: float, high: float, inconclusive: str | None = None) -> dict:
    dr = {"value": 1.0, "low": 0.9, "high": 1.1, "inconclusive": inconclusive}
    return {"measured": True, "candidate": {"dr": {**dr, "value": 1.0 + diff}}, "production": {"dr": dr},
            "candidate_minus_production": {"value": diff, "low": low, "high": high}}  # fmt: skip


def test_ope_check_fails_only_on_a_conclusive_drop_beyond_the_limit() -> None:
    assert evaluate.ope_check(_off_policy(-0.05, -0.08, -0.02), OPE).level == FAIL
    fail = evaluate.ope_check(_off_policy(-0.05, -0.08, -0.02), OPE)
    assert "-0.0500 [-0.0800, -0.0200]" in fail.reason and fail.threshold == pytest.approx(-0.02)
    assert evaluate.ope_check(_off_policy(-0.01, -0.04, -0.001), OPE).level == PASS  # inside the 2 % limit
    assert evaluate.ope_check(_off_policy(+0.05, 0.02, 0.08), OPE).level == PASS


def test_ope_check_warns_when_a_drop_is_inside_the_noise_or_inconclusive() -> None:
    wide = evaluate.ope_check(_off_policy(-0.05, -0.12, +0.02), OPE)
    assert wide.level == WARN and "interval includes 0" in wide.reason
    weak = evaluate.ope_check(_off_policy(-0.05, -0.08, -0.02, inconclusive="effective sample size 3 < 100"), OPE)
    assert weak.level == WARN and "inconclusive" in weak.reason and "effective sample size 3" in weak.reason
    # Inconclusive in the good direction is no warning.
    assert evaluate.ope_check(_off_policy(+0.05, 0.0, 0.1, inconclusive="effective sample size 3"), OPE).level == PASS


def test_an_inconclusive_drop_fails_only_beyond_the_reward_models_measured_error() -> None:
    weak = "effective sample size 1 < 100"
    beyond = _off_policy(-0.3, -0.35, -0.25, inconclusive=weak)
    beyond["candidate_minus_production"].update(offpolicy.with_model_margin(beyond["candidate_minus_production"], 0.1))
    fail = evaluate.ope_check(beyond, OPE)
    assert fail.level == FAIL and "+-0.1000: [-0.4500, -0.1500]" in fail.reason and weak in fail.reason
    within = _off_policy(-0.3, -0.35, -0.25, inconclusive=weak)
    within["candidate_minus_production"].update(offpolicy.with_model_margin(within["candidate_minus_production"], 0.3))
    warn = evaluate.ope_check(within, OPE)
    assert warn.level == WARN and "[-0.6500, +0.0500] includes 0" in warn.reason
    edge = _off_policy(-0.3, -0.35, -0.25, inconclusive=weak)  # the widened interval just reaches 0: no FAIL
    edge["candidate_minus_production"].update(offpolicy.with_model_margin(edge["candidate_minus_production"], 0.25))
    assert edge["candidate_minus_production"]["high_with_margin"] == 0.0
    assert evaluate.ope_check(edge, OPE).level == WARN


def test_ope_check_passes_with_the_reason_when_not_evaluated() -> None:
    none = evaluate.ope_check({"measured": False, "reason": "no propensities: not evaluated"}, OPE)
    assert none.level == PASS and "no propensities" in none.reason
    first = evaluate.ope_check({"measured": True, "candidate": {"dr": {}}}, OPE)
    assert first.level == PASS and "no production model yet" in first.reason
    v = evaluate.decide_auc(
        DS, 0.78, 0.74, None, GATE, extra=[evaluate.ope_check(_off_policy(-0.05, -0.08, -0.02), OPE)]
    )
    assert v.level == FAIL and "off-policy (DR)" in v.reason  # the check decides the AUC gate's verdict with it


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_publish_promotes_and_rollback_restores_byte_for_byte(ws: Path) -> None:
    cfg = model_config("registry.publish_requires=[evaluate]", "gates.auc.floor=0.5", "gates.auc.min_relaimpr=-1")
    w1 = workspace(ws, cfg)
    train.run(w1, DS, models=["hrlrec", "lr"], progress=False)
    export.run(w1, DS)
    assert evaluate.run(w1, DS).level in (PASS, WARN)
    first = publish.run(w1, DS, approve_warn=True)
    v1 = registry.production(w1)
    assert v1 is not None and v1.name == first.version and first.previous is None
    v1_bytes = _sha(v1.weights())
    meta = v1.meta
    assert meta["ds"] == DS and meta["params_hash"] and meta["model_hashes"]["hrlrec"] and meta["gates"]["evaluate"]

    # A second candidate (another seed) is promoted over it ...
    cfg2 = model_config("registry.publish_requires=[evaluate]", "gates.auc.floor=0.5", "gates.auc.min_relaimpr=-1",
                        "seed=8", "gates.auc.max_drop=1", "gates.ope.max_drop=1")  # fmt: skip
    w2 = workspace(ws, cfg2)
    train.run(w2, DS, models=["hrlrec", "lr"], progress=False)
    export.run(w2, DS)
    judged = evaluate.run(w2, DS)
    # The off-policy check compared the two served policies on the day's logged lists.
    (ope_check,) = [c for c in judged.checks if c.name == "ope"]
    off = judged.numbers["off_policy"]
    assert off["measured"] and off["lists"] == 150 and ope_check.value == off["candidate_minus_production"]["value"]
    assert off["calibration"]["after"] == pytest.approx(off["calibration"]["observed"], abs=1e-6)
    second = publish.run(w2, DS, approve_warn=True)
    assert second.previous == v1.name and registry.production(w1).name == second.version

    # ... and rolled back: the files that serve again are byte for byte the first version's.
    restored = registry.rollback(w1, reason="drill")
    assert restored.name == v1.name
    assert _sha(registry.production(w1).weights()) == v1_bytes
    registry.verify(registry.production(w1))  # the ONNX graphs that serve again match their manifest
    history = w1.layout.registry_history.read_text().splitlines()
    assert [json.loads(h)["action"] for h in history] == ["promote", "promote", "rollback"]
    assert registry.rollback(w1, to=second.version).name == second.version
    with pytest.raises(BadInput, match="already in production"):
        registry.rollback(w1, to=second.version)


def test_a_failed_or_unapproved_gate_leaves_production_untouched(ws: Path) -> None:
    w = workspace(ws, model_config("registry.publish_requires=[evaluate]"))
    for verdict in (FAIL, WARN):
        results.write(w.layout, "evaluate", DS, {"ds": DS, "verdict": verdict, "reason": f"{verdict}: crafted"})
        with pytest.raises(Rejected, match="not published; production stays empty"):
            publish.run(w, DS)
        assert registry.production(w) is None
    # publish reads the day's archived result; one that names another day is refused
    w.layout.result_day("evaluate", DS).write_text(json.dumps({"ds": "2026-01-01", "verdict": PASS, "reason": "old"}))
    with pytest.raises(Rejected, match="its result is for 2026-01-01"):
        publish.run(w, DS)
    with pytest.raises(Rejected, match="stability: no result"):
        publish.run(workspace(ws, model_config()), DS)


def test_a_tampered_version_is_refused(ws: Path) -> None:
    w = workspace(ws, model_config("registry.publish_requires=[]"))
    train.run(w, DS, models=["hrlrec", "lr"], progress=False)
    export.run(w, DS)
    version = registry.production(w) or registry.get(w, publish.run(w, DS).version)
    weights = version.weights()
    weights.write_bytes(weights.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(BadInput, match="does not match its card"):
        registry.verify(version)
    with pytest.raises(BadInput, match="does not match its card"):
        registry.promote(w, version)


def test_warm_start_continues_from_production_when_it_fits(ws: Path) -> None:
    w = workspace(ws, model_config("registry.publish_requires=[]"))
    train.run(w, DS, models=["hrlrec", "lr"], progress=False)
    export.run(w, DS)
    version = publish.run(w, DS).version
    warm = workspace(ws, model_config("registry.publish_requires=[]", "train.warm_start=true", "seed=8"))
    train.run(warm, DS, models=["hrlrec"], progress=False)
    card = checkpoints.read_card(warm.layout.candidate_weights(DS))
    assert card["warm_start"] == version
    # Another architecture (a wider state) cannot start from it: trained from scratch, and said so.
    wider = workspace(
        ws, model_config("registry.publish_requires=[]", "train.warm_start=true", "profiles.small.state_dim=24")
    )
    train.run(wider, DS, models=["hrlrec"], progress=False)
    card = checkpoints.read_card(wider.layout.candidate_weights(DS))
    assert card["warm_start"] is None


def test_publish_refuses_a_model_no_gate_scored(ws: Path) -> None:
    """Retrain the day, rerun only export: the AUC gate judged the old weights, so nothing is promoted."""
    lenient = ("registry.publish_requires=[evaluate,export]", "gates.auc.floor=0.5", "gates.auc.min_relaimpr=-1",
               "gates.auc.max_drop=1")  # fmt: skip
    w = workspace(ws, model_config(*lenient))
    train.run(w, DS, models=["hrlrec", "lr"], progress=False)
    judged = evaluate.run(w, DS)
    assert judged.model_sha256 == checkpoints.sha256(w.layout.candidate_weights(DS))
    retrained = workspace(ws, model_config(*lenient, "seed=9"))
    train.run(retrained, DS, models=["hrlrec"], progress=False)
    export.run(retrained, DS)
    now = checkpoints.sha256(w.layout.candidate_weights(DS))
    assert now != judged.model_sha256
    with pytest.raises(Rejected, match=rf"evaluate: it judged model {judged.model_sha256[:12]}, but the candidate "
                                       rf"of {DS} is now {now[:12]}"):  # fmt: skip
        publish.run(retrained, DS, approve_warn=True)
    assert registry.production(w) is None
    evaluate.run(retrained, DS)  # the gate judges the new weights: now it may publish
    assert registry.get(w, publish.run(retrained, DS, approve_warn=True).version).meta["model_hashes"]["hrlrec"] == now
