"""The KPI reports' charts, drawn by matplotlib (object API, Agg, no pyplot state).

- by hour and by day: offered calls split into answered / not answered (stacked bars) with
  the answer rate (line, right axis) and the 90 % target (dashed);
- by category: horizontal bars of answered calls per inquiry category.

SVG (text as paths: shows the same in any browser, with or without Japanese fonts) for
HTML, PNG for PDF. Japanese labels need a CJK font: Debian's fonts-noto-cjk (installed by
``make setup``); without one the labels fall back to matplotlib's default font.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager, rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

ANSWERED, UNANSWERED, RATE, TARGET = "#2b5c8a", "#e3a04a", "#1f7a3a", "#b00020"
CJK_FAMILIES = ("Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", "IPAGothic",
                "TakaoGothic", "VL Gothic")
_lock = threading.Lock()  # rc_context changes matplotlib's global settings


@dataclass(frozen=True)
class Series:
    """One chart's data: a label per bar, offered and answered counts per bar."""

    labels: Sequence[str]
    offered: Sequence[int]
    answered: Sequence[int]


def _families() -> list[str]:
    available = {f.name for f in font_manager.fontManager.ttflist}
    return [name for name in CJK_FAMILIES if name in available][:1] + ["DejaVu Sans"]


def _save(fig: Figure, fmt: str) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format=fmt, dpi=150 if fmt == "png" else 72, bbox_inches="tight",
                metadata={"Date": None} if fmt == "svg" else None)
    return out.getvalue()


def _rc() -> dict:
    return {"font.family": _families(), "font.size": 9, "svg.fonttype": "path",
            "axes.spines.top": False, "axes.unicode_minus": False}


def _rate_axis(ax, x: list[int], rates: Sequence[float | None], target: float | None,
               words: dict[str, str], legend_below: float) -> None:
    """The answer rate on a right-hand axis (broken where there is none, NaN), the target
    dashed, and one legend for both axes below the chart."""
    rate_ax = ax.twinx()
    rate_ax.spines["top"].set_visible(False)
    if any(r is not None for r in rates):
        rate_ax.plot(x, [math.nan if r is None else r for r in rates], color=RATE,
                     marker="o", markersize=3, linewidth=1.5, label=words["answer_rate"])
    if target is not None:
        rate_ax.axhline(target, color=TARGET, linestyle="--", linewidth=0.9,
                        label=words["target"].format(target=target))
    rate_ax.set_ylim(0, 105)
    rate_ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    rate_ax.set_ylabel(words["answer_rate"])
    handles, labels = ax.get_legend_handles_labels()
    more, more_labels = rate_ax.get_legend_handles_labels()
    ax.legend(handles + more, labels + more_labels, loc="upper center",
              bbox_to_anchor=(0.5, -legend_below), ncol=4, frameon=False, fontsize=8)


def calls_chart(series: Series, title: str, words: dict[str, str], fmt: str = "svg",
                width: float = 9.0, target: float | None = 90.0) -> bytes:
    """Stacked answered / not answered bars, answer rate on the right axis."""
    answered = list(series.answered)
    unanswered = [max(o - a, 0) for o, a in zip(series.offered, series.answered, strict=False)]
    rates = [100.0 * a / o if o else None
             for o, a in zip(series.offered, series.answered, strict=False)]
    x = list(range(len(series.labels)))
    with _lock, rc_context(_rc()):
        fig = Figure(figsize=(width, 3.2))
        ax = fig.add_subplot()
        ax.bar(x, answered, color=ANSWERED, label=words["answered"], width=0.75)
        ax.bar(x, unanswered, bottom=answered, color=UNANSWERED, label=words["unanswered"],
               width=0.75)
        ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
        ax.set_ylabel(words["calls"])
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        longest = max((len(label) for label in series.labels), default=1)
        step = max(1, -(-len(x) * longest // 100))  # about 100 characters across
        ax.set_xticks(x[::step], [series.labels[i] for i in x[::step]])
        ax.set_xlim(-0.6, len(x) - 0.4)
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        if not any(series.offered):
            ax.set_ylim(0, 1)
            ax.text(0.5, 0.5, words["no_calls"], transform=ax.transAxes, ha="center",
                    va="center", fontsize=12, color="#555555")
        _rate_axis(ax, x, rates, target, words, legend_below=0.13)
        return _save(fig, fmt)


def staffing_chart(labels: Sequence[str], agents: Sequence[int], lines: Sequence[int],
                   answer_rates: Sequence[float | None], title: str, words: dict[str, str],
                   fmt: str = "svg", target: float | None = 90.0) -> bytes:
    """A staffing plan: operators needed per half-hour (bars), lines needed (steps) and
    the predicted answer rate (line, right axis) with its target (dashed)."""
    x = list(range(len(labels)))
    with _lock, rc_context(_rc()):
        fig = Figure(figsize=(max(6.0, min(14.0, 0.32 * len(x) + 2)), 3.2))
        ax = fig.add_subplot()
        ax.bar(x, agents, color=ANSWERED, label=words["agents"], width=0.75)
        ax.step(x, lines, where="mid", color=UNANSWERED, linewidth=1.5, label=words["lines"])
        ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
        ax.set_ylabel(words["people"])
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        step = max(1, -(-len(x) // 24))
        ax.set_xticks(x[::step], [labels[i] for i in x[::step]], rotation=90)
        ax.set_xlim(-0.6, len(x) - 0.4)
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        _rate_axis(ax, x, answer_rates, target, words, legend_below=0.28)
        return _save(fig, fmt)


def category_chart(categories: Sequence[tuple[str, int]], title: str, words: dict[str, str],
                   fmt: str = "svg", width: float = 9.0) -> bytes:
    """Horizontal bars, the largest category on top, the count at the end of each bar."""
    names = [c for c, _ in categories] or [words["none"]]
    counts = [n for _, n in categories] or [0]
    with _lock, rc_context(_rc()):
        fig = Figure(figsize=(width, 0.8 + 0.32 * len(names)))
        ax = fig.add_subplot()
        y = list(range(len(names)))[::-1]
        bars = ax.barh(y, counts, color=ANSWERED, height=0.6)
        ax.bar_label(bars, labels=[str(n) for n in counts], padding=3, fontsize=8)
        ax.set_yticks(y, names)
        ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
        ax.set_xlabel(words["calls"])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(0, max(max(counts), 1) * 1.12)
        ax.spines["right"].set_visible(False)
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        return _save(fig, fmt)


__all__ = ["Series", "calls_chart", "category_chart", "staffing_chart"]
