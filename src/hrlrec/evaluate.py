"""The AUC gate: candidate, production and LR scored on the same held-out day, and the off-policy check.

PASS when the candidate's AUC is at least the floor, at most `max_drop` below
production's, and its RelaImpr over LR at least the minimum (gates.auc in
params.yaml); WARN within `warn_margin` of a threshold, or when the production
model cannot score today's features; FAIL otherwise. Writes
metrics/evaluate.json with every number, the verdict and the reason in words.

The same verdict carries the off-policy check (`ope`, gates.ope): the doubly
robust estimate of the candidate's served lists' clicks minus production's, from
the day's logged lists and propensities (hrlrec.evaluation.offpolicy). FAIL when
the candidate is worse by more than `gates.ope.max_drop` of production's value
and the paired 95 % interval excludes zero (when the support is too little for
the weights to correct the reward model, the interval widened by the model's
measured error, `gates.ope.difference_margin`); WARN when it is that much worse
but the interval includes zero; PASS otherwise, and PASS with the reason when it was not evaluated
(disabled, no propensity column, no production model).

Beside the AUCs (which judge the click head) it records what the served
lists earn: on a simulated day, the true expected clicks and reward per list
of the candidate's, production's and the logging policy's lists
(`numbers.policy_value`, hrlrec.policy_value). That is a measurement, not a
check of the gate.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from hrlrec import candidates, metrics, registry, results
from hrlrec.config import AucGateConfig, OpeConfig
from hrlrec.data import batches
from hrlrec.errors import BadInput
from hrlrec.evaluation import offpolicy
from hrlrec.evaluation import truth as policy_value
from hrlrec.train.loop import predict
from hrlrec.verdict import FAIL, PASS, WARN, Check, Verdict, at_least, decide
from hrlrec.workspace import Workspace

log = logging.getLogger(__name__)


def _score(weights: Path, stream: batches.Stream, keep: dict[str, Any] | None = None, name: str = "") -> float:
    """AUC on the stream's test lists of the model in `weights`, rebuilt from its own card.

    With `keep`, the loaded model and its spec are stored there under `name` (for the policy value).
    """
    loaded = candidates.load_for(weights, stream)
    pred = predict(loaded.model, stream, stream.lists("test"))
    if keep is not None:
        keep[name] = loaded
    return metrics.auc(pred.labels, pred.probs)


def _drop_check(cand_auc: float, prod_auc: float, max_drop: float, warn_margin: float) -> Check:
    """At most `max_drop` below production; WARN within `warn_margin` of that limit."""
    change = cand_auc - prod_auc
    base = at_least("drop", cand_auc, prod_auc - max_drop, warn_margin, "candidate AUC")
    words = {
        FAIL: f"candidate AUC {cand_auc:.4f} is {-change:.4f} below production {prod_auc:.4f} (allowed {max_drop})",
        WARN: f"candidate AUC {cand_auc:.4f} vs production {prod_auc:.4f}: {change:+.4f}, near the {max_drop} limit",
        PASS: f"candidate AUC {cand_auc:.4f} vs production {prod_auc:.4f}: {change:+.4f} (allowed drop {max_drop})",
    }
    return Check("drop", base.level, cand_auc, prod_auc - max_drop, words[base.level])


def ope_check(off_policy: dict[str, Any], g: OpeConfig) -> Check:
    """The off-policy check from `offpolicy.measure`'s numbers (pure: what the tests craft numbers for)."""
    if not off_policy.get("measured"):
        return Check("ope", PASS, None, None, f"off-policy value not evaluated: {off_policy.get('reason')}")
    diff = off_policy.get("candidate_minus_production")
    if diff is None or "production" not in off_policy:
        return Check("ope", PASS, None, None, "off-policy value: no production model yet, nothing to compare with")
    cand, prod = off_policy["candidate"]["dr"], off_policy["production"]["dr"]
    limit = -g.max_drop * prod["value"]
    said = (f"off-policy (DR) clicks per list, candidate {cand['value']:.4f} vs production {prod['value']:.4f}: "
            f"{diff['value']:+.4f} [{diff['low']:+.4f}, {diff['high']:+.4f}]")  # fmt: skip
    if diff["value"] >= limit:
        return Check("ope", PASS, diff["value"], limit, f"{said} (allowed {limit:+.4f})")
    weak = "; ".join(f"{who}: {e['inconclusive']}" for who, e in (("candidate", cand), ("production", prod))
                     if e.get("inconclusive"))  # fmt: skip
    if weak:
        if "high_with_margin" not in diff:
            return Check("ope", WARN, diff["value"], limit, f"{said} is below {limit:+.4f}, but inconclusive ({weak})")
        widened = (f"widened by the reward model's measured error +-{diff['model_margin']:.4f}: "
                   f"[{diff['low_with_margin']:+.4f}, {diff['high_with_margin']:+.4f}]")  # fmt: skip
        if diff["high_with_margin"] >= 0:
            return Check("ope", WARN, diff["value"], limit, f"{said} is below {limit:+.4f}, but inconclusive ({weak}) "
                         f"and its interval {widened} includes 0")  # fmt: skip
        return Check("ope", FAIL, diff["value"], limit, f"{said} is below {limit:+.4f}; the weights cannot correct "
                     f"the reward model ({weak}), but even its interval {widened} excludes 0")  # fmt: skip
    if diff["high"] >= 0:
        return Check("ope", WARN, diff["value"], limit, f"{said} is below {limit:+.4f}, but the interval includes 0")
    return Check("ope", FAIL, diff["value"], limit, f"{said} is below {limit:+.4f} and the interval excludes 0")


def decide_auc(
    ds: str, cand_auc: float, lr_auc: float, prod_auc: float | None, g: AucGateConfig, prod_problem: str | None = None,
    extra: list[Check] | None = None,
) -> Verdict:  # fmt: skip
    """The gate's decision from the three AUCs (pure: what the tests craft numbers for)."""
    relaimpr = metrics.relaimpr(cand_auc, lr_auc)
    numbers: dict[str, Any] = {"candidate_auc": cand_auc, "lr_auc": lr_auc, "relaimpr_over_lr": relaimpr}
    checks = [
        at_least("floor", cand_auc, g.floor, g.warn_margin, "candidate AUC"),
        at_least("relaimpr", relaimpr, g.min_relaimpr, g.warn_margin, "RelaImpr over LR"),
    ]
    if prod_problem is not None:
        checks.append(Check("drop", WARN, None, None, prod_problem))
    elif prod_auc is None:
        checks.append(Check("drop", PASS, None, None, "no production model yet: nothing to compare with"))
    else:
        numbers["production_auc"] = prod_auc
        numbers["change_vs_production"] = cand_auc - prod_auc
        checks.append(_drop_check(cand_auc, prod_auc, g.max_drop, g.warn_margin))
    return decide("auc", ds, [*checks, *(extra or [])], numbers)


def run(ws: Workspace, ds: str) -> Verdict:
    """Score candidate, production and LR on day `ds`; write and return the gate's verdict."""
    cfg, layout = ws.cfg, ws.layout
    g = cfg.gates.auc
    for model in ("hrlrec", "lr"):
        if not layout.candidate_weights(ds, model).is_file():
            where = layout.candidates_day(ds)
            raise BadInput(f"{where}: no {model} candidate; run `hrlrec train --ds {ds} --model hrlrec,lr` first")
    stream = candidates.dataset(ws, ds)
    torch.manual_seed(cfg.seed)
    served: dict[str, Any] = {}
    cand_auc = _score(layout.candidate_weights(ds, "hrlrec"), stream, served, "candidate")
    lr_auc = _score(layout.candidate_weights(ds, "lr"), stream)
    prod = registry.production(ws)
    prod_auc: float | None = None
    prod_problem = None
    if prod is not None:
        try:
            prod_auc = _score(prod.weights(), stream, served, "production")
        except BadInput as exc:
            prod_problem = f"production {prod.name} cannot score today: {exc}"
    models = {name: (loaded.model, loaded.spec) for name, loaded in served.items()}
    if cfg.gates.ope.enabled:
        off_policy = offpolicy.measure(ws, ds, stream, models)
    else:
        off_policy = {"measured": False, "reason": "gates.ope.enabled is false"}
    _log_off_policy(off_policy)
    verdict = decide_auc(ds, cand_auc, lr_auc, prod_auc, g, prod_problem, [ope_check(off_policy, cfg.gates.ope)])
    if prod is not None:
        verdict.numbers["production_version"] = prod.name
    verdict.model_sha256 = served["candidate"].sha256
    verdict.numbers["off_policy"] = off_policy
    verdict.numbers["policy_value"] = policy_value.measure(ws, ds, stream, models)
    _log_value(verdict.numbers["policy_value"])
    body = {**verdict.to_json(), "thresholds": g.model_dump(), "ope_thresholds": cfg.gates.ope.model_dump()}
    results.write(layout, "evaluate", ds, body)
    results.write_plots(layout)
    log.info("AUC gate %s: %s", ds, verdict.reason)
    return verdict


def _log_value(value: dict[str, Any]) -> None:
    if not value.get("measured"):
        log.info("policy value not measured: %s", value.get("reason"))
        return
    for name in ("candidate", "production", "logging_policy"):
        if name in value:
            c = value[name]["clicks_per_list"]
            log.info("true clicks per list, %s: %.4f [%.4f, %.4f]", name, c["mean"], c["low"], c["high"])


def _log_off_policy(value: dict[str, Any]) -> None:
    if not value.get("measured"):
        log.info("off-policy value not measured: %s", value.get("reason"))
        return
    for name in ("candidate", "production"):
        if name in value:
            dr = value[name].get("dr") or value[name]["ips"]
            note = f" (inconclusive: {dr['inconclusive']})" if dr.get("inconclusive") else ""
            log.info("off-policy %s clicks per list, %s: %.4f [%.4f, %.4f]%s", dr["estimator"].upper(), name,
                     dr["value"], dr["low"], dr["high"], note)  # fmt: skip
    if value.get("reward_model"):
        log.info("off-policy reward model: %s; log-loss on the logged slots %s", value["reward_model"],
                 value.get("reward_model_log_loss"))  # fmt: skip
    diff = value.get("candidate_minus_production")
    if diff and "high_with_margin" in diff:
        log.info("off-policy candidate - production: %+.4f [%+.4f, %+.4f], widened by the reward model's measured "
                 "error +-%.4f: [%+.4f, %+.4f]", diff["value"], diff["low"], diff["high"], diff["model_margin"],
                 diff["low_with_margin"], diff["high_with_margin"])  # fmt: skip
