"""The report step: render the on-call page of day D and write it atomically.

`run` reads whatever the day's run left in the workspace (gate results,
validation record, stability records, registry, volumes, dvc.lock) and writes
`reports/ds=D/index.html`, with inline CSS and the figures embedded as PNG
data URIs, so the file can be attached to a ticket, mailed or opened from an
artifact store with no network and no JavaScript. A missing input never stops
the page: its section says what is missing and which command produces it.

Top to bottom: the banner (status, one line per gate, data or model?), the
gates' checks, AUC over 30 days, channel proportions week over week, data
validation, volumes, lineage, what to run next, and the human decision.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hrlrec import atomic
from hrlrec.report import auc, channels, commands, data, decision, gates, inputs, lineage, summary
from hrlrec.report.page import document, el, section
from hrlrec.workspace import Workspace


def render(ws: Workspace, ds: str) -> str:
    """The page for day `ds` of the workspace, as HTML text."""
    found = inputs.read(ws, ds)
    status = summary.summarize(found)
    advice, steps = commands.plan(found, status)
    nav = el(
        "nav",
        *(el("a", title, href=f"#{anchor}") for anchor, title in (
            ("gates", "Checks"), ("auc", "AUC"), ("channels", "Channels"), ("validation", "Validation"),
            ("volumes", "Volumes"), ("lineage", "Lineage"), ("next", "What to run"), ("decision", "Decision"),
        )),
        aria_label="Sections",
    )  # fmt: skip
    generated = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    problems = (
        [section("problems", "Unreadable inputs", el("ul", *(el("li", p) for p in found.problems)))]
        if found.problems
        else []
    )
    return document(
        f"{status.level} · hrlrec {ds}",
        el("h1", f"hrlrec daily run · {ds}"),
        nav,
        summary.render(status, advice),
        *problems,
        gates.render(found),
        auc.render(found),
        channels.render(found),
        data.render_validation(found, ws.layout.report_page(ds).parent),
        data.render_volumes(found),
        lineage.render(found),
        commands.render(steps),
        decision.render(found),
        el("footer", f"Generated {generated} from workspace {ws.root}. Self-contained: no scripts, no network."),
    )


def run(ws: Workspace, ds: str) -> Path:
    """Render the page for day `ds` and write it atomically; returns its path."""
    path = ws.layout.report_page(ds)
    atomic.write_text(path, render(ws, ds))
    return path
