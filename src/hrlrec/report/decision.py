"""Section 9: the human decision on the day, from its publish record.

A WARN is published only when a person approves it (on the CLI or in
Airflow's human-in-the-loop step); the next on-call needs to see who decided,
when and why before deciding anything again.
"""

from __future__ import annotations

from hrlrec.report.inputs import Inputs
from hrlrec.report.page import Html, badge, el, section
from hrlrec.verdict import FAIL, PASS


def render(inputs: Inputs) -> Html:
    title = "9. Human decision"
    pub = inputs.publish
    if pub is None:
        return section(
            "decision",
            title,
            el("p", f"No publish record for {inputs.ds} ({inputs.rel(inputs.gate_path('publish'))}): publish has not "
                    "run for this day, so no decision was asked for.", cls="note"),
        )  # fmt: skip
    outcome = f"Published {pub.get('version')}" if pub.get("published") else "Not published"
    reason = f": {pub['reason']}" if pub.get("reason") else "."
    parts: list[object] = [el("p", el("strong", outcome), reason)]
    decision = pub.get("decision")
    if not isinstance(decision, dict):
        parts.append(el("p", "No human decision was recorded for this day.", cls="note"))
        return section("decision", title, *parts)
    approved = bool(decision.get("approved"))
    via = {"cli": "on the command line", "airflow-hitl": "in Airflow's approval step"}.get(
        str(decision.get("via")), str(decision.get("via", "?"))
    )
    parts.append(
        el("p", badge(PASS, "APPROVED") if approved else badge(FAIL, "REJECTED"), " ",
           el("strong", "The warning was approved" if approved else "The warning was rejected"),
           f" by {decision.get('by', '?')} at {decision.get('at', '?')} {via}.")
    )  # fmt: skip
    if decision.get("comment"):
        parts.append(el("blockquote", decision["comment"]))
    return section("decision", title, *parts)
