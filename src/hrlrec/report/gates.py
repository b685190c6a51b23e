"""Section 2: every check of each model gate as a table (name, value, threshold, level, reason).

The banner gives each gate's sentence; this section shows the numbers behind
it, so "by how much" is one glance away. Validation's checks have their own
shape (expectations with observed values and example rows) and their own
section.
"""

from __future__ import annotations

from typing import Any

from hrlrec.report.inputs import Inputs
from hrlrec.report.page import Html, badge, el, missing, num, pct, section, table
from hrlrec.report.summary import BLOCKED, TITLES, blocked_by_data, reason_of


def _value(gate: str, value: Any) -> str:
    """Numbers as the gate's own reason sentence writes them: shares as percents, AUCs to 4 places."""
    if value is None:
        return "—"
    if not isinstance(value, int | float):
        return str(value)
    if gate == "stability":
        return pct(value)
    if gate == "evaluate":
        return num(value)
    return f"{value:.4g}"


def _export_numbers(numbers: dict[str, Any]) -> Html:
    facts = [
        ("requests compared", numbers.get("requests")),
        ("identical top-10 lists", pct(numbers["top10_identical"]) if "top10_identical" in numbers else None),
        ("largest score difference", numbers.get("max_abs_score_diff")),
        ("runtime provider", numbers.get("provider")),
        ("opset", numbers.get("opset")),
    ]
    shown = [el("li", f"{name}: ", el("strong", value)) for name, value in facts if value is not None]
    return el("ul", *shown) if shown else Html("")


def gate_block(inputs: Inputs, gate: str) -> Html:
    result = inputs.gates[gate]
    title = TITLES[gate]
    if result is None and blocked_by_data(inputs):
        return el("div", el("h3", title), el("p", f"{BLOCKED.capitalize()}.", cls="note"))
    if result is None:
        return el(
            "div",
            el("h3", title),
            missing(f"no {title} result for {inputs.ds} ({inputs.rel(inputs.gate_path(gate))}).",
                    inputs.cli(gate)),
        )  # fmt: skip
    checks = [c for c in result.get("checks", []) if isinstance(c, dict)]
    rows = [
        (el("code", c.get("name", "?")), _value(gate, c.get("value")), _value(gate, c.get("threshold")),
         badge(str(c.get("level"))), c.get("reason", ""))
        for c in checks
    ]  # fmt: skip
    parts: list[object] = [el("h3", title, " ", badge(str(result.get("verdict")))), el("p", reason_of(result))]
    judged = result.get("model_sha256")
    parts.append(
        el("p", "Judged model: ", el("code", str(judged)[:64]), cls="note")
        if judged
        else el("p", "This result does not name the model it judged (written before gates recorded it).", cls="note")
    )
    if gate == "export":
        parts.append(_export_numbers(result.get("numbers", {})))
    if rows:
        levels = [str(c.get("level")) for c in checks]
        parts.append(table(["check", "value", "threshold", "level", "reason"], rows, levels))
    return el("div", *parts)


def render(inputs: Inputs) -> Html:
    return section(
        "gates",
        "2. Gate checks",
        el("p", "Data validation's checks are in section 5.", cls="note"),
        *(gate_block(inputs, g) for g in ("evaluate", "stability", "export")),
    )
