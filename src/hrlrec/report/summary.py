"""The banner: the day's status in plain words, one line per gate, and whether data or model is to blame.

This is the part read at 3 a.m., so it is decided here in plain rules (tested
on crafted workspaces) and rendered as sentences: what failed, what serves
now, where to look first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hrlrec.report.inputs import Inputs
from hrlrec.report.page import INCOMPLETE, NOT_RUN, Html, badge, el, level_class, table
from hrlrec.verdict import FAIL, PASS, WARN, worst

TITLES = {
    "validate": "Data validation",
    "evaluate": "AUC gate",
    "stability": "Stability gate",
    "export": "ONNX export parity",
}


@dataclass(frozen=True)
class GateLine:
    gate: str
    title: str
    level: str  # PASS, WARN, FAIL or NOT RUN
    reason: str


@dataclass(frozen=True)
class Summary:
    level: str  # FAIL, WARN, PASS, or INCOMPLETE when nothing failed but a gate has not run
    headline: str
    serving: str
    blame: str | None
    lines: list[GateLine]


BLOCKED = "not run: the day failed validation, so no model was trained on it"


def reason_of(result: dict[str, Any]) -> str:
    """A gate's reason without its leading "LEVEL: " (the badge beside it says it).

    A pass with many checks is summarised: its reason lists every check, which
    the checks table already shows.
    """
    level = result.get("verdict")
    checks = result.get("checks")
    if level == PASS and isinstance(checks, list) and len(checks) > 3:
        return f"all {len(checks)} checks passed"
    return str(result.get("reason", "")).removeprefix(f"{level}: ")


def blocked_by_data(inputs: Inputs) -> bool:
    """True when the day failed validation: the model steps after it were never meant to run."""
    data = inputs.gates["validate"]
    return data is not None and data.get("verdict") == FAIL


def _line(inputs: Inputs, gate: str) -> GateLine:
    result = inputs.gates[gate]
    title = TITLES[gate]
    if result is None or result.get("verdict") not in (PASS, WARN, FAIL):
        if gate != "validate" and blocked_by_data(inputs):
            why = BLOCKED
        else:
            step = inputs.cli(gate)
            if gate == "validate" and not inputs.ingested():
                step = f"{inputs.cli('ingest')} && {step}"
            why = f"no result for {inputs.ds} ({inputs.rel(inputs.gate_path(gate))} missing); run `{step}`"
        return GateLine(gate, title, NOT_RUN, why)
    level = result["verdict"]
    reason = reason_of(result)
    if gate == "validate" and result.get("state"):
        reason = f"{result['state']}: {reason}"
    return GateLine(gate, title, level, reason)


def serving(inputs: Inputs) -> str:
    """Which version serves now, in words."""
    p = inputs.production
    if not p:
        return "Nothing is in production yet."
    since = f" since {p['since']}" if p.get("since") else ""
    by = f" (promoted by {p['by']})" if p.get("by") else ""
    return f"Serving now: {p.get('version')}{since}{by}."


def _published(inputs: Inputs, level: str) -> str:
    """What happened to production today, in one sentence."""
    pub = inputs.publish
    current = (inputs.production or {}).get("version")
    still = f"{current} still serves" if current else "production is still empty"
    if pub is None:
        if level == FAIL:
            return f"Not published: a failed gate never touches production, so {still}."
        return f"No publish record for {inputs.ds}; production serves {current or 'nothing yet'}."
    if pub.get("published"):
        version = pub.get("version")
        if current and current != version:
            return f"Published {version}, but production now points at {current} (rolled back since?)."
        return f"Published {version}; it serves now (replaced {pub.get('previous') or 'nothing'})."
    why = f" ({pub['reason']})" if pub.get("reason") else ""
    return f"Not published{why}; {still}."


def _blame(lines: dict[str, str]) -> str | None:
    """Data or model? A failed validation blames the data; a model gate failing on valid data, the model."""
    data = lines["validate"]
    model_failed = [TITLES[g] for g in ("evaluate", "stability") if lines[g] == FAIL]
    if data == FAIL:
        return (
            "DATA. The day's logs failed validation and were quarantined, so no model was trained on them. "
            "Start with the failed checks under Data validation."
        )
    if model_failed and data == PASS:
        return (
            f"MODEL. The data passed validation, but the {' and the '.join(model_failed)} failed: "
            "look at the candidate (training, changed params or code), not the logs."
        )
    if model_failed and data == WARN:
        return (
            f"MODEL, probably: the {' and the '.join(model_failed)} failed on data that passed only because a "
            "person released it from quarantine, so the known data issue may be the cause."
        )
    if model_failed:
        return f"MODEL, probably: the {' and the '.join(model_failed)} failed, but the day has no validation result."
    if lines["export"] == FAIL:
        return "EXPORT. The model passed its gates, but its ONNX graph disagrees with PyTorch: not a data problem."
    return None


def summarize(inputs: Inputs) -> Summary:
    """The overall status: the worst gate verdict, or INCOMPLETE while a gate has not run and none failed."""
    lines = [_line(inputs, g) for g in TITLES]
    levels = {line.gate: line.level for line in lines}
    judged = [lv for lv in levels.values() if lv != NOT_RUN]
    level = worst(judged)
    if level != FAIL and NOT_RUN in levels.values():
        level = INCOMPLETE
    names = {lv: [line.title for line in lines if line.level == lv] for lv in (FAIL, WARN, NOT_RUN)}
    if level == FAIL:
        first = f"{inputs.ds} FAILED: {', '.join(names[FAIL])} failed."
    elif level == INCOMPLETE:
        first = f"{inputs.ds} is incomplete: {', '.join(names[NOT_RUN])} not run yet."
    elif level == WARN:
        first = f"{inputs.ds} passed with warnings: {', '.join(names[WARN])} warned."
    else:
        first = f"{inputs.ds}: every gate passed."
    return Summary(level, f"{first} {_published(inputs, level)}", serving(inputs), _blame(levels), lines)


def render(summary: Summary, next_step: str) -> Html:
    """The banner at the top of the page."""
    cls = level_class(summary.level)
    words = {FAIL: "FAILED", WARN: "WARNING", PASS: "ALL GATES PASSED", INCOMPLETE: "INCOMPLETE"}
    rows = [(badge(line.level), el("strong", line.title), line.reason) for line in summary.lines]
    parts: list[object] = [
        el("p", words[summary.level], cls=f"status {cls}"),
        el("p", summary.headline, cls="headline"),
        el("p", summary.serving),
    ]
    if summary.blame:
        parts.append(el("p", el("strong", "Data or model? "), summary.blame, cls="hint"))
    parts.append(el("p", el("strong", "Next: "), next_step, " ", el("a", "Commands below.", href="#next"), cls="hint"))
    parts.append(table(["verdict", "gate", "reason"], rows, [line.level for line in summary.lines]))
    return el("header", *parts, cls=f"banner {cls}", role="banner", aria_label=f"Status: {summary.level}")
