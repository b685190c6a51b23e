"""The AUC gate: candidate, production and LR scored on the same held-out day.

PASS when the candidate's AUC is at least the floor, at most `max_drop` below
production's, and its RelaImpr over LR at least the minimum (gates.auc in
params.yaml); WARN within `warn_margin` of a threshold, or when the production
model cannot score today's features; FAIL otherwise. Writes
metrics/evaluate.json with every number, the verdict and the reason in words.

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
from hrlrec.config import AucGateConfig
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


def decide_auc(
    ds: str, cand_auc: float, lr_auc: float, prod_auc: float | None, g: AucGateConfig, prod_problem: str | None = None
) -> Verdict:
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
    return decide("auc", ds, checks, numbers)


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
    verdict = decide_auc(ds, cand_auc, lr_auc, prod_auc, g, prod_problem)
    if prod is not None:
        verdict.numbers["production_version"] = prod.name
    verdict.model_sha256 = served["candidate"].sha256
    models = {name: (loaded.model, loaded.spec) for name, loaded in served.items()}
    verdict.numbers["policy_value"] = policy_value.measure(ws, ds, stream, models)
    _log_value(verdict.numbers["policy_value"])
    if cfg.gates.ope.enabled:
        verdict.numbers["off_policy"] = offpolicy.measure(ws, ds, stream, models)
    else:
        verdict.numbers["off_policy"] = {"measured": False, "reason": "gates.ope.enabled is false"}
    _log_off_policy(verdict.numbers["off_policy"])
    body = {**verdict.to_json(), "thresholds": g.model_dump()}
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
