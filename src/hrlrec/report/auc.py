"""Section 3: candidate, production and LR AUC over the last 30 days, failed days marked.

One bad day next to 29 good ones points at the day (its data or its run); a
slow slide points at drift. The chart reads the per-day archive of the AUC
gate, so a day without a result is a gap, not a zero.
"""

from __future__ import annotations

from hrlrec.report import charts
from hrlrec.report.inputs import HISTORY_DAYS, Inputs, days_before
from hrlrec.report.page import Html, el, image, missing, num, section
from hrlrec.report.summary import BLOCKED, blocked_by_data


def _today(inputs: Inputs) -> Html:
    result = inputs.gates["evaluate"]
    if result is None:
        return Html("")
    n = result.get("numbers", {})
    floor = (result.get("thresholds") or {}).get("floor", inputs.cfg.gates.auc.floor)
    facts = [
        f"candidate {num(n.get('candidate_auc'))}",
        f"production {num(n.get('production_auc'))}" if "production_auc" in n else "no production model to compare",
        f"LR {num(n.get('lr_auc'))}",
        f"floor {num(floor)}",
    ]
    oracle = (inputs.train or {}).get("oracle_auc")
    if oracle is not None:
        facts.append(f"oracle (the ceiling on simulated data) {num(oracle)}")
    return el("p", el("strong", f"{inputs.ds}: "), " · ".join(facts))


def _value(inputs: Inputs) -> Html:
    """What the served lists earn: true clicks per list beside the logs' (simulated days only)."""
    result = inputs.gates["evaluate"]
    value = (result or {}).get("numbers", {}).get("policy_value")
    if not value:
        return Html("")
    if not value.get("measured"):
        return el("p", f"True value of the served lists not measured: {value.get('reason')}.", cls="note")
    facts = []
    for name, label in (("candidate", "candidate"), ("production", "production"), ("logging_policy", "logs")):
        if name in value:
            c = value[name]["clicks_per_list"]
            facts.append(f"{label} {num(c['mean'])} [{num(c['low'])}, {num(c['high'])}]")
    ratio = (value.get("candidate") or {}).get("clicks_ratio_to_logging")
    tail = f" The candidate's lists earn {ratio:.2f}x the logged lists' clicks." if ratio is not None else ""
    return el(
        "p",
        el("strong", "True expected clicks per list "),
        f"(simulator ground truth, {value.get('requests')} requests, 95 % intervals): ",
        " · ".join(facts),
        "." + tail,
    )


def _off_policy(inputs: Inputs) -> Html:
    """The off-policy check's numbers: what the logs alone say the served lists earn (works on real logs)."""
    off = ((inputs.gates["evaluate"] or {}).get("numbers") or {}).get("off_policy")
    if not off:
        return Html("")
    if not off.get("measured"):
        return el("p", f"Off-policy value not evaluated: {off.get('reason')}.", cls="note")
    facts = []
    for name in ("candidate", "production"):
        if name in off:
            dr = off[name]["dr"]
            facts.append(f"{name} {num(dr['value'])} [{num(dr['low'])}, {num(dr['high'])}], ESS {dr['ess']:.0f}")
    diff = off.get("candidate_minus_production")
    if diff:
        fact = f"difference {diff['value']:+.4f} [{diff['low']:+.4f}, {diff['high']:+.4f}]"
        if "high_with_margin" in diff:
            fact += (f", with the reward model's measured error +-{diff['model_margin']:.3f}: "
                     f"[{diff['low_with_margin']:+.4f}, {diff['high_with_margin']:+.4f}]")  # fmt: skip
        facts.append(fact)
    policy = off.get("policy") or {}
    weak = [f"{n}: {off[n]['dr']['inconclusive']}" for n in ("candidate", "production")
            if n in off and off[n]["dr"].get("inconclusive")]  # fmt: skip
    widened = bool(diff) and "high_with_margin" in diff
    tail = ""
    if weak:
        tail = (f" Inconclusive ({'; '.join(weak)}): the estimate is the calibrated click model's, the logs barely "
                + ("correct it, so the check judges the interval widened by the model's measured error: it FAILs "
                   "only when even that interval lies below 0." if widened else
                   "correct it, so the check could WARN but not FAIL."))  # fmt: skip
    return el(
        "p",
        el("strong", "Off-policy estimate of clicks per list "),
        f"(doubly robust, {off.get('lists')} logged lists, their propensities, the served policy with epsilon "
        f"{policy.get('epsilon')}, reward model: {off.get('reward_model')}; 95 % bootstrap intervals): ",
        " · ".join(facts),
        "." + tail,
    )


def render(inputs: Inputs) -> Html:
    title = f"3. AUC over the last {HISTORY_DAYS} days"
    history = inputs.auc_history
    if not history and blocked_by_data(inputs):
        note = f"{BLOCKED.capitalize()}; no earlier day has a result either."
        return section("auc", title, el("p", note, cls="note"))
    if not history:
        return section(
            "auc",
            title,
            missing(f"no AUC gate results in the {HISTORY_DAYS} days up to {inputs.ds} "
                    f"(looked in {inputs.rel(inputs.gate_path('evaluate'))} and the days before).",
                    inputs.cli("evaluate")),
        )  # fmt: skip
    days = [*days_before(inputs.ds, HISTORY_DAYS - 1), inputs.ds]
    # Start at the first day with a result: a young deployment gets a chart of its own days.
    days = days[days.index(min(history)) :]
    numbers = [history.get(d, {}).get("numbers", {}) for d in days]
    series = {
        "candidate": [n.get("candidate_auc") for n in numbers],
        "production": [n.get("production_auc") for n in numbers],
        "LR": [n.get("lr_auc") for n in numbers],
    }
    levels = [history.get(d, {}).get("verdict") for d in days]
    floor = (history.get(inputs.ds, {}).get("thresholds") or {}).get("floor", inputs.cfg.gates.auc.floor)
    failed = [d for d, lv in zip(days, levels, strict=True) if lv == "FAIL"]
    alt = (
        f"Line chart of candidate, production and LR AUC per day from {days[0]} to {days[-1]}; "
        f"AUC gate failed on {len(failed)} of {len(history)} days with a result"
        + (f" ({', '.join(failed)})" if failed else "")
        + "."
    )
    parts: list[object] = [
        _today(inputs),
        _value(inputs),
        _off_policy(inputs),
        image(charts.auc_history(days, series, levels, floor), alt, charts.WIDTH_PX),
        el("p", f"Days the AUC gate failed: {', '.join(failed) if failed else 'none'}. "
                f"{len(history)} of {len(days)} days have a result.", cls="note"),
    ]  # fmt: skip
    return section("auc", title, *parts)
