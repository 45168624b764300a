"""A staffing plan as the supervisor reads it: a text table, CSV (UTF-8 with BOM, so
Excel opens the Japanese headings), an Excel workbook and a chart per day type (the KPI
reports' chart style), and as JSON for the HTTP API; and a plan CSV read back (edited or
not) for a replay, with row/column errors."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from acd.domain.calendar import parse_minute
from acd.domain.sizing.plan import (
    DAY_TYPE_NAMES_JA,
    DAY_TYPES,
    Forecast,
    PlanRow,
    SizingTargets,
    slot_label,
)

#: (key, 日本語, English) of the plan's columns, in order.
COLUMNS = (
    ("day_type", "曜日区分", "day type"),
    ("slot", "時間帯", "half-hour"),
    ("calls", "入電予測（件）", "calls"),
    ("handle_seconds", "平均処理時間（秒）", "handle time (s)"),
    ("load", "呼量（アーラン）", "load (Erlang)"),
    ("agents", "必要オペレーター数", "operators"),
    ("scheduled", "要配置人数（離席率込み）", "to schedule (with shrinkage)"),
    ("answer_rate", "予測応答率", "answer rate"),
    ("quick_answer_rate", "予測即応率", "quick-answer rate"),
    ("wait_probability", "待ち発生率", "calls waiting"),
    ("mean_wait_seconds", "平均待ち時間（秒）", "mean wait (s)"),
    ("occupancy", "稼働率", "occupancy"),
    ("lines", "必要回線数", "lines"),
    ("blocking", "呼損率", "blocking"),
)
RATES = ("answer_rate", "quick_answer_rate", "wait_probability", "occupancy", "blocking")


class PlanFileError(ValueError):
    pass


def row_values(row: PlanRow) -> dict[str, Any]:
    p, f = row.prediction, row.forecast
    wait = p.mean_wait_seconds
    return {"day_type": f.day_type, "slot": slot_label(f.slot), "calls": round(f.calls, 2),
            "handle_seconds": round(f.handle_seconds, 1), "load": round(p.load, 3),
            "agents": p.agents, "scheduled": row.scheduled, "answer_rate": p.answer_rate,
            "quick_answer_rate": p.quick_answer_rate, "wait_probability": p.wait_probability,
            "mean_wait_seconds": None if math.isinf(wait) else round(wait, 1),
            "occupancy": p.occupancy, "lines": row.lines, "blocking": row.blocking}


def plan_json(forecast: Forecast, targets: SizingTargets, rows: Sequence[PlanRow]
              ) -> dict[str, Any]:
    return {"source": forecast.source, "line": forecast.line, "queue": forecast.queue,
            "patience_seconds": forecast.patience_seconds, "targets": str(targets),
            "days": dict(forecast.days), "rows": [row_values(r) for r in rows],
            "summary": day_summaries(rows)}


def _shown(key: str, value: Any, lang: str) -> str:
    if value is None:
        return "-"
    if key in RATES:
        return f"{100.0 * value:.1f}%"
    if key == "day_type" and lang == "ja":
        return DAY_TYPE_NAMES_JA[value]
    return f"{value:g}" if isinstance(value, float) else str(value)


def render_table(forecast: Forecast, targets: SizingTargets, rows: Sequence[PlanRow],
                 lang: str = "ja") -> str:
    head = [ja if lang == "ja" else en for _, ja, en in COLUMNS]
    body = [[_shown(k, row_values(r)[k], lang) for k, _, _ in COLUMNS] for r in rows]
    widths = [max(_width(c) for c in column) for column in zip(head, *body, strict=True)]
    lines = [f"# {forecast.source}" + (f" · line {forecast.line}" if forecast.line else "")
             + (f" · queue {forecast.queue}" if forecast.queue else ""),
             f"# targets {targets}; patience "
             + (f"{forecast.patience_seconds:.0f} s" if forecast.patience_seconds
                else "none (Erlang C)")]
    for cells in (head, *body):
        lines.append("  ".join(c + " " * (w - _width(c)) for c, w in zip(cells, widths,
                                                                       strict=True)).rstrip())
    for kind, day in day_summaries(rows).items():
        name = DAY_TYPE_NAMES_JA[kind] if lang == "ja" else kind
        lines.append(f"# {name}: {day['calls']:.0f} calls a day; at the peak "
                     f"{day['peak_agents']} operators and {day['peak_lines']} lines; "
                     f"{day['operator_hours']:.1f} operator-hours on the phones ("
                     f"{day['scheduled_hours']:.1f} to schedule); predicted over the day: "
                     f"answer rate {100 * day['answer_rate']:.1f}%, quick answer "
                     f"{100 * day['quick_answer_rate']:.1f}%")
    return "\n".join(lines) + "\n"


def day_summaries(rows: Sequence[PlanRow]) -> dict[str, dict[str, float]]:
    """Per day type: the day's calls, the peak operators and lines, the operator-hours and
    the day's predicted rates (each half-hour weighted by its calls)."""
    found: dict[str, dict[str, float]] = {}
    for kind in DAY_TYPES:
        mine = [r for r in rows if r.forecast.day_type == kind]
        calls = sum(r.forecast.calls for r in mine)
        if not mine or calls <= 0:
            continue
        answered = sum(r.forecast.calls * r.prediction.answer_rate for r in mine)
        found[kind] = {
            "calls": calls, "peak_agents": max(r.agents for r in mine),
            "peak_lines": max(r.lines for r in mine),
            "operator_hours": sum(r.agents for r in mine) / 2,
            "scheduled_hours": sum(r.scheduled for r in mine) / 2,
            "answer_rate": answered / calls,
            "quick_answer_rate": sum(r.forecast.calls * r.prediction.answer_rate
                                     * r.prediction.quick_answer_rate for r in mine)
            / answered if answered else 0.0}
    return found


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def render_csv(rows: Sequence[PlanRow], lang: str = "ja") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([k for k, _, _ in COLUMNS])  # machine-readable keys: a replay reads them
    writer.writerow([ja if lang == "ja" else en for _, ja, en in COLUMNS])
    for r in rows:
        values = row_values(r)
        writer.writerow(["" if values[k] is None else
                         (round(values[k], 4) if k in RATES else values[k]) for k, _, _ in COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def render_xlsx(forecast: Forecast, targets: SizingTargets, rows: Sequence[PlanRow],
                lang: str = "ja") -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "要員計画" if lang == "ja" else "staffing plan"
    sheet.append([forecast.source])
    sheet["A1"].font = Font(bold=True, size=12)
    sheet.append([f"targets {targets}"])
    sheet.append([ja if lang == "ja" else en for _, ja, en in COLUMNS])
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    for r in rows:
        values = row_values(r)
        sheet.append([DAY_TYPE_NAMES_JA[values[k]] if k == "day_type" and lang == "ja"
                      else values[k] for k, _, _ in COLUMNS])
    for index, (key, _, _) in enumerate(COLUMNS, 1):
        if key in RATES:
            for (cell,) in sheet.iter_rows(min_row=4, min_col=index, max_col=index):
                cell.number_format = "0.0%"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


CHART_WORDS = {
    "ja": {"agents": "必要オペレーター数", "lines": "必要回線数", "people": "人・回線",
           "answer_rate": "予測応答率", "target": "目標 {target:.0f}%"},
    "en": {"agents": "operators", "lines": "lines", "people": "operators / lines",
           "answer_rate": "predicted answer rate", "target": "target {target:.0f}%"},
}


def render_charts(forecast: Forecast, targets: SizingTargets, rows: Sequence[PlanRow],
                  fmt: str = "svg", lang: str = "ja") -> dict[str, bytes]:
    """One chart per day type of the plan."""
    from acd.reports.charts import staffing_chart

    charts: dict[str, bytes] = {}
    for kind in DAY_TYPES:
        mine = [r for r in rows if r.forecast.day_type == kind]
        if not mine:
            continue
        name = DAY_TYPE_NAMES_JA[kind] if lang == "ja" else kind
        charts[kind] = staffing_chart(
            [slot_label(r.forecast.slot) for r in mine], [r.agents for r in mine],
            [r.lines for r in mine], [100.0 * r.prediction.answer_rate for r in mine],
            f"{forecast.source} — {name}", CHART_WORDS[lang], fmt,
            None if targets.answer_rate is None else 100.0 * targets.answer_rate)
    return charts


def read_plan_csv(path: Path) -> dict[tuple[str, int], int]:
    """Operators per (day type, half-hour) of a plan CSV as :func:`render_csv` writes it
    (the first row gives the keys; rows whose day type is not a key, such as the heading
    row, are skipped); :class:`PlanFileError` says row and column of a bad value."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanFileError(f"{path}: cannot be read: {exc}") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise PlanFileError(f"{path}: empty")
    keys = [k.strip() for k in rows[0]]
    missing = [k for k in ("day_type", "slot", "agents") if k not in keys]
    if missing:
        raise PlanFileError(f"{path}: row 1: the columns {', '.join(missing)} are missing "
                            "(the first row names the columns: day_type,slot,...,agents)")
    at = {k: keys.index(k) for k in ("day_type", "slot", "agents")}
    plan: dict[tuple[str, int], int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not row or len(row) <= max(at.values()) or row[at["day_type"]] not in DAY_TYPES:
            if row and row[0] and number > 2:
                raise PlanFileError(f"{path}: row {number}, column {at['day_type'] + 1}: "
                                    f"day type {row[0]!r} is not one of "
                                    f"{', '.join(DAY_TYPES)}")
            continue
        try:
            slot = parse_minute(row[at["slot"]])
            if slot % 30:
                raise ValueError(f"{row[at['slot']]!r} does not start a half-hour")
        except ValueError as exc:
            raise PlanFileError(f"{path}: row {number}, column {at['slot'] + 1}: {exc}"
                                ) from None
        try:
            agents = int(row[at["agents"]])
            if agents < 0:
                raise ValueError
        except ValueError:
            raise PlanFileError(f"{path}: row {number}, column {at['agents'] + 1}: "
                                f"{row[at['agents']]!r} is not a number of operators"
                                ) from None
        plan[(row[at["day_type"]], slot)] = agents
    return plan


__all__ = ["COLUMNS", "PlanFileError", "day_summaries", "plan_json", "read_plan_csv",
           "render_charts", "render_csv", "render_table", "render_xlsx", "row_values"]
