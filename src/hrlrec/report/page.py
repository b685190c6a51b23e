"""HTML building blocks for the on-call page: escaped by default, one inline stylesheet.

Every piece of text that reaches the page goes through `esc` unless it is an
`Html` value built here, so a gate reason or an example row holding `<`, `&`
or quotes can never break the markup. The stylesheet is inline and the page
needs no JavaScript, so the file renders the same from a mail attachment, an
artifact store or a laptop without a network.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from hrlrec.verdict import FAIL, PASS, WARN

NOT_RUN = "NOT RUN"  # a gate with no result for the day (not a verdict of hrlrec.verdict)
INCOMPLETE = "INCOMPLETE"  # the day's overall status while nothing failed but a gate has not run

# Text, not only colour, says the level: the symbol and the word survive a black-and-white printout.
_LEVELS = {
    PASS: ("pass", "✓"),
    WARN: ("warn", "!"),
    FAIL: ("fail", "✗"),
    NOT_RUN: ("none", "–"),
    INCOMPLETE: ("none", "…"),
}


class Html(str):
    """A string that already is HTML: `esc` leaves it as it is, and escapes everything else."""


def esc(value: object) -> Html:
    return value if isinstance(value, Html) else Html(html.escape(str(value)))


def join(parts: Iterable[object], sep: str = "") -> Html:
    return Html(esc(sep).join(esc(p) for p in parts))


def el(tag: str, *children: object, cls: str | None = None, **attrs: object) -> Html:
    """`<tag class=cls attrs>children</tag>`; attribute names use _ for - (aria_label -> aria-label)."""
    pairs = ([("class", cls)] if cls else []) + [(k.rstrip("_").replace("_", "-"), v) for k, v in attrs.items()]
    opening = "".join(f' {k}="{html.escape(str(v), quote=True)}"' for k, v in pairs if v is not None)
    return Html(f"<{tag}{opening}>{join(children)}</{tag}>")


def badge(level: str, word: str | None = None) -> Html:
    """The level as a coloured label that also carries a symbol and a word (the level's, unless given)."""
    cls, symbol = _LEVELS.get(level, _LEVELS[NOT_RUN])
    return el("span", f"{symbol} {word or level}", cls=f"badge {cls}")


def level_class(level: str) -> str:
    return _LEVELS.get(level, _LEVELS[NOT_RUN])[0]


def code(text: str) -> Html:
    return el("code", text)


def command(text: str) -> Html:
    """A copy-pasteable command block."""
    return el("pre", el("code", text), cls="cmd")


def missing(what: str, produce: str | None = None) -> Html:
    """A visible note that an input is missing, and the command that produces it."""
    hint = [" Produce it with ", code(produce), "."] if produce else []
    return el("p", el("strong", "Missing: "), what, *hint, cls="missing")


def table(headers: Sequence[object], rows: Iterable[Sequence[object]], row_levels: Sequence[str] = ()) -> Html:
    """A table; a row whose level is given is tinted by it (FAIL rows stand out when scanning)."""
    head = el("thead", el("tr", *(el("th", h, scope="col") for h in headers)))
    body = []
    for i, row in enumerate(rows):
        tint = f"row-{level_class(row_levels[i])}" if i < len(row_levels) else None
        body.append(el("tr", *(el("td", c) for c in row), cls=tint))
    return el("div", el("table", head, el("tbody", *body)), cls="table-wrap")


def facts(rows: Iterable[tuple[object, object]]) -> Html:
    """A two-column table of named facts (the name is a row header)."""
    body = [el("tr", el("th", name, scope="row"), el("td", value)) for name, value in rows]
    return el("div", el("table", el("tbody", *body), cls="facts"), cls="table-wrap")


def image(png_base64: str, alt: str, width: int) -> Html:
    """An embedded PNG (data URI) with alt text, shown at its natural width or narrower."""
    return el("img", src=f"data:image/png;base64,{png_base64}", alt=alt, width=width)


def section(anchor: str, title: str, *body: object) -> Html:
    return el("section", el("h2", title), *body, id=anchor)


def pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x:.{digits}%}"


def num(x: float | None, digits: int = 4) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


CSS = """
:root { --pass:#1a7f37; --warn:#9a6700; --fail:#cf222e; --none:#57606a; --line:#d0d7de; }
* { box-sizing: border-box; }
body { margin:0; background:#f6f8fa; color:#1f2328;
       font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 20px 24px 48px; }
h1 { font-size: 26px; margin: 0 0 6px; }
h2 { font-size: 21px; margin: 0 0 12px; }
h3 { font-size: 17px; margin: 18px 0 8px; }
p { margin: 8px 0; }
a { color: #0550ae; }
code { font: 14px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
       background:#eff1f3; padding: 1px 4px; border-radius: 4px; }
pre.cmd { background:#0d1117; color:#e6edf3; padding: 10px 14px; border-radius: 6px;
          white-space: pre-wrap; overflow-wrap: anywhere; margin: 4px 0 14px; }
p.lead { margin: 10px 0 2px; font-size: 15px; color: #57606a; }
pre.cmd code { background: none; color: inherit; padding: 0; font-size: 14px; }
.banner { border-radius: 8px; padding: 18px 24px; margin: 0 0 16px; border: 1px solid var(--line);
          border-left: 14px solid var(--none); background: #fff; }
.banner.pass { border-left-color: var(--pass); background: #dafbe1; }
.banner.warn { border-left-color: var(--warn); background: #fff8c5; }
.banner.fail { border-left-color: var(--fail); background: #ffebe9; }
.banner.none { border-left-color: var(--none); background: #eaeef2; }
.status { font-size: 30px; font-weight: 800; letter-spacing: .5px; margin: 0; }
.status.pass { color: var(--pass); } .status.warn { color: var(--warn); }
.status.fail { color: var(--fail); } .status.none { color: var(--none); }
.headline { font-size: 19px; font-weight: 600; }
.hint { font-size: 17px; }
.badge { display: inline-block; min-width: 6.2em; text-align: center; font-weight: 700; font-size: 14px;
         color: #fff; border-radius: 4px; padding: 1px 8px; white-space: nowrap; }
.badge.pass { background: var(--pass); } .badge.warn { background: var(--warn); }
.badge.fail { background: var(--fail); } .badge.none { background: var(--none); }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 24px; margin: 16px 0; }
nav { font-size: 15px; margin: 0 0 8px; }
nav a { margin-right: 14px; white-space: nowrap; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 15px; margin: 6px 0 12px; }
th, td { text-align: left; vertical-align: top; padding: 6px 10px; border-bottom: 1px solid var(--line); }
th { background: #f6f8fa; font-weight: 600; }
table.facts th { width: 34%; }
tr.row-fail td { background: #fff1f0; } tr.row-warn td { background: #fffbe6; }
.banner table { background: rgba(255,255,255,.6); }
.missing { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: 8px 12px; }
.note { color: #57606a; font-size: 15px; }
img { max-width: 100%; height: auto; display: block; margin: 8px 0; }
footer { color: #57606a; font-size: 14px; margin-top: 24px; }
"""


def document(title: str, *body: object) -> str:
    """A whole page: inline stylesheet, no scripts, no external resources."""
    head = el(
        "head",
        Html('<meta charset="utf-8">'),
        Html('<meta name="viewport" content="width=device-width, initial-scale=1">'),
        el("title", title),
        el("style", Html(CSS)),
    )
    return "<!DOCTYPE html>\n" + el("html", head, el("body", el("main", *body)), lang="en") + "\n"
