"""The page's figures, drawn with matplotlib's Agg canvas and returned as base64 PNG.

matplotlib is imported inside each function: `import hrlrec` stays light, and
the object-oriented Figure + FigureCanvasAgg API needs no pyplot global state
or display, so drawing works the same in a CLI, a DVC stage and an Airflow
worker. Figures are 9 inches wide at 100 dpi (900 px), the width of the page.
Every level shown by colour is also shown by a marker or a word.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 100
WIDTH_IN = 9.0
WIDTH_PX = int(WIDTH_IN * DPI)
# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
FAIL_RED, WARN_AMBER, BEFORE_GREY = "#cf222e", "#bf8700", "#9aa4ae"


def _figure(height_in: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _style(ax: Axes) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e5e8eb", linewidth=0.8)
    ax.set_axisbelow(True)


def bucket_labels(n_buckets: int, hour_bucket: int) -> list[str]:
    return [f"{b * hour_bucket:02d}–{(b + 1) * hour_bucket:02d}h" for b in range(n_buckets)]


def auc_history(
    days: Sequence[str],
    series: dict[str, Sequence[float | None]],
    levels: Sequence[str | None],
    floor: float | None,
) -> str:
    """AUC per day, one line per model; FAIL days shaded red with an X, WARN days amber with a triangle."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    fig = _figure(3.8)
    ax = fig.add_subplot()
    x = list(range(len(days)))
    styles = {
        "candidate": {"color": PALETTE[0], "marker": "o", "linestyle": "-", "linewidth": 2.2},
        "production": {"color": "#24292f", "marker": "s", "linestyle": "--", "linewidth": 1.6},
        "LR": {"color": BEFORE_GREY, "marker": "^", "linestyle": ":", "linewidth": 1.6},
    }
    for name, values in series.items():
        y = [math.nan if v is None else v for v in values]
        ax.plot(x, y, label=f"{name} AUC", markersize=4, **styles[name])
    candidate = series.get("candidate", [None] * len(days))
    for i, level in enumerate(levels):
        if level in ("FAIL", "WARN"):
            colour = FAIL_RED if level == "FAIL" else WARN_AMBER
            ax.axvspan(i - 0.5, i + 0.5, color=colour, alpha=0.15 if level == "FAIL" else 0.12, linewidth=0)
            if candidate[i] is not None:
                marker = "X" if level == "FAIL" else "^"
                ax.plot([i], [candidate[i]], marker=marker, color=colour, markersize=11, linestyle="none")
    handles, _ = ax.get_legend_handles_labels()
    if floor is not None:
        ax.axhline(floor, color=FAIL_RED, linestyle=(0, (4, 3)), linewidth=1.2)
        handles.append(Line2D([], [], color=FAIL_RED, linestyle=(0, (4, 3)), label=f"floor {floor:.3f}"))
    handles.append(Patch(color=FAIL_RED, alpha=0.3, label="gate FAIL (X)"))
    handles.append(Patch(color=WARN_AMBER, alpha=0.3, label="gate WARN (▲)"))
    step = max(1, math.ceil(len(days) / 15))
    ax.set_xticks(x[::step], [d[5:] for d in days[::step]], fontsize=10)
    ax.set_xlim(-0.6, len(days) - 0.4)
    ax.set_ylabel("AUC on the held-out day", fontsize=11)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=10, frameon=False)
    _style(ax)
    return _png(fig)


def proportions(
    channels: Sequence[str],
    hour_bucket: int,
    now: Sequence[Sequence[float]],
    before: Sequence[Sequence[float]] | None,
    labels: tuple[str, str],
    failing: set[str],
    stderr: Sequence[Sequence[float | None]] | None = None,
    logged: dict[str, float] | None = None,
) -> str:
    """One panel per channel (as the paper's Figure 4): its share per hour bucket, this week next to last.

    Every panel has the same y scale, so a collapsed channel looks collapsed (a 1.5 % channel does
    not draw as tall as a 30 % one). With `stderr`, this week's bars carry +-1.96 standard errors
    (the sampling noise band); with `logged`, a dashed line marks the channel's share in the logs.
    """
    n_buckets = len(now)
    cols = 2 if len(channels) > 1 else 1
    rows = math.ceil(len(channels) / cols)
    fig = _figure(2.5 * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    ticks = bucket_labels(n_buckets, hour_bucket)
    width = 0.4 if before is not None else 0.7
    for c, name in enumerate(channels):
        ax = axes[c // cols][c % cols]
        xs = list(range(n_buckets))
        this = [100 * now[b][c] for b in xs]
        band = None
        if stderr is not None:
            band = [0.0 if stderr[b][c] is None else 196 * float(stderr[b][c]) for b in xs]
        style = {"ecolor": "#24292f", "capsize": 2, "error_kw": {"linewidth": 0.8}}
        if before is not None:
            last = [100 * before[b][c] for b in xs]
            ax.bar([x - width / 2 for x in xs], last, width, color=BEFORE_GREY, label=labels[1])
            ax.bar([x + width / 2 for x in xs], this, width, color=PALETTE[c % len(PALETTE)], label=labels[0],
                   yerr=band, **(style if band else {}))  # fmt: skip
        else:
            ax.bar(xs, this, width, color=PALETTE[c % len(PALETTE)], label=labels[0], yerr=band,
                   **(style if band else {}))  # fmt: skip
        if logged and name in logged:
            ax.axhline(100 * logged[name], color="#24292f", linestyle="--", linewidth=1, label="share in the logs")
        bad = name in failing
        ax.set_title(
            f"{name}  ✗ FAIL" if bad else name,
            fontsize=12,
            loc="left",
            color=FAIL_RED if bad else "#24292f",
            fontweight="bold" if bad else "normal",
        )
        ax.set_xticks(xs, ticks, fontsize=9)
        ax.set_ylabel("share of items, %", fontsize=10)
        _style(ax)
    for extra in range(len(channels), rows * cols):
        axes[extra // cols][extra % cols].set_visible(False)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside upper center", ncols=2, fontsize=10, frameon=False)
    return _png(fig)


def change_heatmap(channels: Sequence[str], hour_bucket: int, signed: Sequence[Sequence[float]], limit: float) -> str:
    """Relative change per channel (rows) and hour bucket (columns); boxed cells pass the max-change limit."""
    import numpy as np
    from matplotlib import colormaps
    from matplotlib.patches import Rectangle

    values = np.array(signed, dtype=float).T  # (C, B)
    magnitude = np.abs(values)
    top = max(2 * limit, float(np.nanmax(magnitude)) if np.isfinite(magnitude).any() else 0.0)
    cmap = colormaps["Reds"].with_extremes(bad="#eaeef2")
    fig = _figure(0.5 * len(channels) + 1.2)
    ax = fig.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(magnitude), cmap=cmap, vmin=0, vmax=top, aspect="auto")
    for c in range(values.shape[0]):
        for b in range(values.shape[1]):
            v = values[c, b]
            if math.isnan(v):
                ax.text(b, c, "n/a", ha="center", va="center", fontsize=10, color="#57606a")
                continue
            over = abs(v) > limit
            ax.text(
                b, c, f"{v:+.0%}", ha="center", va="center", fontsize=11,
                fontweight="bold" if over else "normal", color="white" if abs(v) > 0.6 * top else "#1f2328",
            )  # fmt: skip
            if over:
                ax.add_patch(Rectangle((b - 0.48, c - 0.46), 0.96, 0.92, fill=False, edgecolor="black", linewidth=2))
    ax.set_xticks(range(values.shape[1]), bucket_labels(values.shape[1], hour_bucket), fontsize=10)
    ax.set_yticks(range(len(channels)), list(channels), fontsize=11)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    bar = fig.colorbar(image, ax=ax, pad=0.01, fraction=0.04)
    bar.ax.axhline(limit, color="black", linewidth=2)
    bar.set_label(f"|change| (limit {limit:.0%})", fontsize=10)
    bar.ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:.0%}")
    return _png(fig)


def volumes(channels: Sequence[str], today: Sequence[int], trailing: Sequence[float] | None, ds: str) -> str:
    """Rows per channel on the day, next to the trailing days' mean when there is one."""
    fig = _figure(3.0)
    ax = fig.add_subplot()
    xs = list(range(len(channels)))
    width = 0.4 if trailing is not None else 0.6
    if trailing is not None:
        bars = ax.bar([x - width / 2 for x in xs], trailing, width, color=BEFORE_GREY, label="trailing mean")
        ax.bar_label(bars, [f"{v:,.0f}" for v in trailing], fontsize=9, padding=2)
    shift = width / 2 if trailing is not None else 0.0
    bars = ax.bar([x + shift for x in xs], today, width, color=PALETTE[0], label=ds)
    ax.bar_label(bars, [f"{v:,}" for v in today], fontsize=9, padding=2)
    ax.set_xticks(xs, list(channels), fontsize=11)
    ax.set_ylabel("impressions", fontsize=10)
    ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:,.0f}")
    ax.margins(y=0.15)
    ax.legend(fontsize=10, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _style(ax)
    return _png(fig)
