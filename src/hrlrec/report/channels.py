"""Section 4: channel proportions this week vs last week per hour bucket (the paper's Figure 4).

The stability gate judges |p / p_week_ago - 1| per channel and hour bucket;
the page shows the two weeks' shares side by side per channel, and the signed
changes the gate judged as a heatmap against the threshold, so the on-call
sees which channel moved, when in the day, and in which direction.
"""

from __future__ import annotations

from typing import Any

from hrlrec.report import charts
from hrlrec.report.inputs import Inputs
from hrlrec.report.page import Html, badge, el, image, missing, pct, section, table
from hrlrec.report.summary import BLOCKED, blocked_by_data, reason_of

TITLE = "4. Channel proportions, this week vs last week"
NO_BASELINE = "No baseline a week back: the stability gate passes by design during the first week."


def _signed_changes(now: list[list[float]], before: list[list[float]], min_share: float) -> list[list[float]]:
    """The gate's relative changes (its own function), signed by direction: + means the share grew."""
    import numpy as np

    from hrlrec.stability import relative_changes

    a, b = np.array(now, dtype=float), np.array(before, dtype=float)
    return (np.sign(a - b) * relative_changes(a, b, min_share)).tolist()


def _failing(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in result.get("checks", []) if isinstance(c, dict) and c.get("level") == "FAIL"]


def _logged_mix(inputs: Inputs) -> dict[str, float] | None:
    """The logging policy's channel shares on the day, as the AUC gate measured them (None when not measured)."""
    value = ((inputs.gates.get("evaluate") or {}).get("numbers") or {}).get("policy_value") or {}
    mix = (value.get("logging_policy") or {}).get("channel_mix")
    return {str(k): float(v) for k, v in mix.items()} if isinstance(mix, dict) else None


def _noise_table(numbers: dict[str, Any], record: dict[str, Any]) -> Html:
    """Each channel's change beside its noise floor: a change inside the floor is not evidence of a move."""
    changes = numbers.get("relative_change") or {}
    if not changes:
        return Html("")
    halves = record.get("split_half") or {}
    rows = [
        (name, pct(c.get("max")), pct(c.get("floor_max")), pct(c.get("mean")), pct(c.get("floor_mean")),
         pct((halves.get(name) or {}).get("max")))
        for name, c in changes.items()
    ]  # fmt: skip
    note = (
        f"Noise floor: {record.get('requests', '?')} ranked requests; a change inside its floor "
        "(1.96 standard errors of two samples' difference) can be sampling noise and never fails the gate. "
        "Split-half: the same model on two disjoint halves of today's requests (about 1.4x the floor's scale)."
    )
    headers = ("channel", "max change", "its floor", "mean change", "its floor", "split-half max")
    return el("div", el("p", note, cls="note"), table(headers, rows))


def render(inputs: Inputs) -> Html:
    result = inputs.gates["stability"]
    g = inputs.cfg.gates.stability
    thresholds = {**g.model_dump(), **((result or {}).get("thresholds") or {})}
    record = inputs.record or {}
    numbers = (result or {}).get("numbers", {})
    now = numbers.get("record") or record.get("proportions")
    if not now and blocked_by_data(inputs):
        return section("channels", TITLE, el("p", f"{BLOCKED.capitalize()}.", cls="note"))
    if not now:
        return section(
            "channels",
            TITLE,
            missing(f"no stability result or candidate record for {inputs.ds}.", inputs.cli("stability")),
        )
    channels = record.get("channels") or list(inputs.cfg.channels)
    bucket = int(record.get("hour_bucket") or thresholds["hour_bucket"])
    # The gate's own result says whether it had a baseline; without a result, look for the file.
    before = numbers.get("baseline") if result else (inputs.baseline or {}).get("proportions")
    baseline_ds = numbers.get("baseline_ds") if result else (inputs.baseline or {}).get("ds")
    parts: list[object] = []
    if result is None:
        parts.append(missing(f"the stability gate has not judged {inputs.ds} yet; the chart shows the recorded shares.",
                             inputs.cli("stability")))  # fmt: skip
    else:
        parts.append(el("p", badge(str(result.get("verdict"))), " ", reason_of(result)))
    failing = _failing(result or {})
    bad_channels = {str(c.get("name", "")).split(".")[0] for c in failing}
    if before is None:
        parts.append(el("p", el("strong", NO_BASELINE), cls="hint"))
        alt = f"Bar charts of each channel's share of recommended items per hour bucket on {inputs.ds} (no baseline)."
        png = charts.proportions(channels, bucket, now, None, (f"this week ({inputs.ds})", ""), set())
        parts.append(image(png, alt, charts.WIDTH_PX))
        return section("channels", TITLE, *parts)

    labels = (f"this week ({inputs.ds}, candidate)", f"last week ({baseline_ds}, production)")
    alt = (
        f"Bar charts per channel of the share of recommended items per {bucket}-hour bucket, "
        f"candidate on {inputs.ds} next to production on {baseline_ds}, on one scale, with the noise band and "
        "the logs' share" + (f"; failing: {', '.join(sorted(bad_channels))}." if bad_channels else ".")
    )
    stderr = record.get("stderr") if record.get("proportions") == now else None
    logged = _logged_mix(inputs)
    png = charts.proportions(channels, bucket, now, before, labels, bad_channels, stderr=stderr, logged=logged)
    parts.append(image(png, alt, charts.WIDTH_PX))
    limit = float(thresholds["max_relative_change"])
    signed = _signed_changes(now, before, float(thresholds["min_share"]))
    parts.append(el("h3", "Relative change per hour bucket, as the gate judged it"))
    mean_limit, min_share = pct(thresholds["mean_relative_change"], 0), pct(thresholds["min_share"], 0)
    explain = (
        f"Change = share this week / share a week ago − 1. Boxed cells pass the {pct(limit, 0)} max-change limit; "
        f"a channel also fails when its mean change passes {mean_limit}. "
        f"n/a: the share a week ago was under {min_share}, too small to compare."
    )
    parts.append(el("p", explain, cls="note"))
    alt = f"Heatmap of relative change per channel and hour bucket, {inputs.ds} vs {baseline_ds}, limit {pct(limit, 0)}"
    parts.append(image(charts.change_heatmap(channels, bucket, signed, limit), alt, charts.WIDTH_PX))
    parts.append(_noise_table(numbers, record))
    if failing:
        parts.append(el("ul", *(el("li", el("strong", "FAIL "), c.get("reason", "")) for c in failing)))
    return section("channels", TITLE, *parts)
