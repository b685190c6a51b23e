"""Sections 5 and 6: the day's validation (what failed, by how much, where the day is) and its volumes.

When the data is to blame, the on-call needs the failed expectations with
their observed values and example rows, the Data Docs for the full picture,
whether the day sits in quarantine, and the exact command that releases it.
Volumes per channel against the trailing days show a missing or doubled feed
at a glance.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hrlrec.report import charts
from hrlrec.report.commands import RELEASE_REASON
from hrlrec.report.inputs import VOLUME_DAYS, Inputs
from hrlrec.report.page import Html, badge, code, command, el, image, missing, pct, section, table

EXAMPLES_SHOWN = 3


def _observed(f: dict[str, Any]) -> str:
    if f.get("unexpected_count"):
        total = f"{f['element_count']:,}" if f.get("element_count") is not None else "?"
        share = f" ({f['unexpected_percent']:.2f}%)" if f.get("unexpected_percent") is not None else ""
        return f"{f['unexpected_count']:,} of {total} rows fail{share}"
    return "—" if f.get("observed") is None else json.dumps(f["observed"])


def _short(value: Any) -> str:
    """A value as a person reads it: floats to 4 significant digits, long lists cut."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_short(v)}" for k, v in value.items())
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _threshold(threshold: dict[str, Any]) -> str:
    bounds = threshold.copy()
    low, high = bounds.pop("min_value", None), bounds.pop("max_value", None)
    words = [f"between {_short(low)} and {_short(high)}"] if low is not None and high is not None else []
    words += [f">= {_short(low)}"] if low is not None and high is None else []
    words += [f"<= {_short(high)}"] if high is not None and low is None else []
    words += [f"{k} {_short(v)}" for k, v in bounds.items()]
    return "; ".join(words) or "—"


def _examples(examples: list[Any]) -> Html:
    shown = [el("div", code(_short(e))) for e in examples[:EXAMPLES_SHOWN]]
    return el("div", *shown) if shown else Html("—")


def _where(inputs: Inputs, result: dict[str, Any]) -> Html:
    """Where the day is now (raw, quarantine) and who released it, in a sentence."""
    state = result.get("state")
    ds = inputs.ds
    if state == "quarantined":
        where = inputs.rel(inputs.layout.quarantine_day(ds))
        return el("p", el("strong", "Quarantined: "), f"the day was moved to {where}; no later step reads it until "
                  "it is released on purpose or re-ingested.")  # fmt: skip
    release = result.get("release") or {}
    if state == "released":
        failed = ", ".join(release.get("failed_checks", [])) or "none recorded"
        words = f"by {release.get('by', '?')} at {release.get('at', '?')}: “{release.get('reason', '')}”. "
        return el("p", el("strong", "Released from quarantine "), words, f"Checks that had failed: {failed}.")
    raw = inputs.rel(inputs.layout.raw_day(ds))
    return el("p", el("strong", "Passed: "), f"the day is in {raw}.")


def _data_docs(inputs: Inputs, result: dict[str, Any], report_dir: Path) -> Html:
    recorded = result.get("data_docs") or inputs.rel(inputs.layout.data_docs_page(inputs.ds))
    target = inputs.root / recorded
    if not target.is_file():
        return missing(f"the day's Data Docs ({recorded}).", inputs.cli("validate"))
    href = Path(os.path.relpath(target, report_dir)).as_posix()
    return el("p", el("a", "Open the day's Data Docs", href=href), f" ({recorded}): every expectation with its result.")


def render_validation(inputs: Inputs, report_dir: Path) -> Html:
    title = "5. Data validation"
    result = inputs.gates["validate"]
    ds = inputs.ds
    if result is None:
        step = inputs.cli("validate") if inputs.ingested() else f"{inputs.cli('ingest')} && {inputs.cli('validate')}"
        return section("validation", title, missing(f"no validation result for {ds}.", step))
    checks = result.get("checks") if isinstance(result.get("checks"), dict) else {}
    parts: list[object] = [
        el("p", badge(str(result.get("verdict"))), " ", result.get("reason", "")),
        el("p", f"{result.get('rows', 0):,} rows; {checks.get('evaluated', '?')} checks evaluated, "
                f"{checks.get('failed', '?')} failed, {checks.get('skipped', 0)} suites skipped.", cls="note"),
        _where(inputs, result),
    ]  # fmt: skip
    failed = [f for f in result.get("failed", []) if isinstance(f, dict)]
    if failed:
        rows = [
            (el("strong", f.get("check", "?")), f.get("column") or "—", f.get("why", ""), _observed(f),
             _threshold(f.get("threshold") or {}), _examples(f.get("examples") or []))
            for f in failed
        ]  # fmt: skip
        parts.append(el("h3", "Failed expectations"))
        parts.append(table(["check", "column", "what it guards", "observed", "threshold", "example rows"], rows,
                           ["FAIL"] * len(rows)))  # fmt: skip
    for s in result.get("skipped", []):
        parts.append(el("p", f"Skipped {s.get('suite')}: {s.get('reason')}", cls="note"))
    parts.append(_data_docs(inputs, result, report_dir))
    if result.get("state") == "quarantined":
        parts.append(el("p", "If the data is right after all (an expected shift), release the day on purpose:"))
        parts.append(command(inputs.cli("validate", "--accept", f"--reason {RELEASE_REASON}")))
    return section("validation", title, *parts)


def _change(rows: int, mean: float) -> str:
    """Today's rows against the trailing mean, as a signed percent ("new" for a channel unseen before)."""
    if mean:
        return f"{rows / mean - 1:+.1%}"
    return "new" if rows else "—"


def render_volumes(inputs: Inputs) -> Html:
    title = "6. Data volumes per channel"
    today = inputs.volumes
    if today is None:
        return section("volumes", title, missing(f"no ingestion manifest for {inputs.ds}.", inputs.cli("ingest")))
    channels = list(inputs.cfg.channels) + sorted(set(today) - set(inputs.cfg.channels))
    trailing = inputs.trailing_volumes
    means = {c: sum(day.get(c, 0) for day in trailing.values()) / len(trailing) for c in channels} if trailing else None
    total = sum(today.values())
    rows = []
    for c in channels:
        n = today.get(c, 0)
        row: list[object] = [c, f"{n:,}", pct(n / total if total else None)]
        if means is not None:
            row += [f"{means[c]:,.0f}", _change(n, means[c])]
        rows.append(row)
    headers = ["channel", f"rows {inputs.ds}", "share"]
    if means is not None:
        headers += [f"mean of {len(trailing)} validated days before", "change"]
        trailing_total = sum(means.values())
        rows.append(["all", f"{total:,}", "100.0%", f"{trailing_total:,.0f}", _change(total, trailing_total)])
    note = (
        f"Compared with the validated days among the {VOLUME_DAYS} before {inputs.ds}: {', '.join(sorted(trailing))}."
        if trailing
        else f"No validated day in the {VOLUME_DAYS} days before {inputs.ds} to compare with."
    )
    alt = f"Bar chart of impressions per channel on {inputs.ds}" + (" next to the trailing mean." if means else ".")
    png = charts.volumes(channels, [today.get(c, 0) for c in channels], [means[c] for c in channels] if means else None,
                         inputs.ds)  # fmt: skip
    return section("volumes", title, image(png, alt, charts.WIDTH_PX), table(headers, rows), el("p", note, cls="note"))
