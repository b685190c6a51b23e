"""Section 7: which model serves, what the candidate is, and what changed since the last published run.

A failing candidate is often explained by what changed: params (diffed key by
key against those the production version recorded), code (git revision) or
data (DVC's hashes of each stage's outputs).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hrlrec.report.inputs import Inputs
from hrlrec.report.page import Html, code, el, facts, missing, section, table

MAX_DIFF_ROWS = 40


def params_hash(params_json: str) -> str:
    """The registry's params_hash: SHA-256 of the config's JSON dump (registry.register)."""
    return hashlib.sha256(params_json.encode()).hexdigest()


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys (`gates.auc.floor`); lists stay values, as `-S` overrides name them."""
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def params_diff(now: dict[str, Any], before: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(key, production's value, current value) for every key that differs; a missing side is None."""
    a, b = flatten(before), flatten(now)
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def _params(inputs: Inputs) -> list[object]:
    meta = inputs.production_meta
    heading = el("h3", "Params changed since the last published run")
    if meta is None:
        return [heading, el("p", "Unknown: nothing is in production, so there is no published run to compare with.")]
    now = inputs.cfg.model_dump(mode="json")
    if not isinstance(meta.get("params"), dict):
        same = meta.get("params_hash") == params_hash(inputs.cfg.model_dump_json())
        words = (
            "None: the params hash equals the production version's."
            if same
            else f"Unknown: {meta.get('version')} does not record its params, and its params hash differs from now's."
        )
        return [heading, el("p", words)]
    diff = params_diff(now, meta["params"])
    if not diff:
        return [heading, el("p", f"None: the current params equal those of {meta.get('version')}.")]
    rows = [(code(k), code(json.dumps(old)), code(json.dumps(new))) for k, old, new in diff[:MAX_DIFF_ROWS]]
    more = [el("p", f"… and {len(diff) - MAX_DIFF_ROWS} more.", cls="note")] if len(diff) > MAX_DIFF_ROWS else []
    return [heading, table(["key", f"in {meta.get('version')}", "now"], rows), *more]


def render(inputs: Inputs) -> Html:
    pointer = inputs.production or {}
    meta = inputs.production_meta or {}
    prod_sha = (meta.get("model_hashes") or {}).get("hrlrec")
    cand = inputs.candidate_sha256
    rows = [
        ("serving now", pointer.get("version") or "nothing in production"),
        ("in production since", f"{pointer.get('since', '?')} (by {pointer.get('by', '?')})" if pointer else "—"),
        ("production trained for day", meta.get("ds") or "—"),
        ("production model sha256", code(prod_sha) if prod_sha else "—"),
        ("production git revision", code(meta["git_revision"]) if meta.get("git_revision") else "—"),
        (f"candidate of {inputs.ds} sha256",
         el("span", code(cand), " (the model in production)" if cand == prod_sha else "") if cand else "no candidate"),
        ("workspace git revision now", code(inputs.git_revision) if inputs.git_revision else "not a git repository"),
    ]  # fmt: skip
    parts: list[object] = [facts(rows)]
    parts += _params(inputs)
    parts.append(el("h3", "DVC outputs (dvc.lock)"))
    if inputs.dvc_outs is None:
        parts.append(missing("no dvc.lock in the workspace root.", "dvc repro"))
    else:
        parts.append(table(["stage", "output", "md5"], [(s, code(p), code(h)) for s, p, h in inputs.dvc_outs]))
    return section("lineage", "7. Lineage", *parts)
