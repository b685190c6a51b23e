"""The on-call page: one self-contained HTML file per day saying what failed, by how much, and what to run next.

`write` reads whatever the day's run left in the workspace (gate results,
validation record, stability records, registry, volumes, dvc.lock) and writes
`ROOT/reports/ds=D/index.html` atomically, with inline CSS and the figures
embedded as PNG data URIs, so the file can be attached to a ticket, mailed or
opened from an artifact store with no network and no JavaScript. A missing
input never stops the page: its section says what is missing and which command
produces it.

Top to bottom: the banner (status, one line per gate, data or model?), the
gates' checks, AUC over 30 days, channel proportions week over week, data
validation, volumes, lineage, what to run next, and the human decision.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hrlrec import atomic
from hrlrec.config import Config
from hrlrec.report import auc, channels, commands, data, decision, gates, inputs, lineage, summary
from hrlrec.report.page import document, el, section
from hrlrec.simulator import partition

PAGE = "index.html"


def report_path(cfg: Config, root: Path, ds: str) -> Path:
    """ROOT/<paths.reports>/ds=D/index.html (Data Docs live beside it, in reports/data_docs)."""
    return partition(root / cfg.paths.reports, ds) / PAGE


def render(cfg: Config, ds: str, root: Path) -> str:
    """The page for day `ds` of the workspace at `root`, as HTML text."""
    found = inputs.read(cfg, ds, root)
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
        data.render_validation(found, report_path(cfg, root, ds).parent),
        data.render_volumes(found),
        lineage.render(found),
        commands.render(steps),
        decision.render(found),
        el("footer", f"Generated {generated} from workspace {root}. Self-contained: no scripts, no network."),
    )


def write(cfg: Config, ds: str, root: Path) -> Path:
    """Render the page for day `ds` and write it atomically; returns its path."""
    path = report_path(cfg, root, ds)
    atomic.write_text(path, render(cfg, ds, root))
    return path
