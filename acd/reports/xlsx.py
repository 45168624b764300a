"""KPI reports as an Excel workbook (openpyxl): a summary sheet with the targets and
met / missed, then one sheet per breakdown (by day, hour, line, queue, category, agent,
escalations). Numbers stay numbers: counts as integers, rates as percentages (0.0%),
durations as [h]:mm:ss, dates as dates, so the city can sum and chart them."""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from acd.reports.figures import Kpis
from acd.reports.render import (
    WORDS,
    day_label,
    period_title,
    report_tables,
    summary_rows,
    targets_text,
)

FORMATS = {"count": "#,##0", "pct": "0.0%", "sec": "0.0", "num": "0.00", "dur": "[h]:mm:ss",
           "date": "yyyy-mm-dd (aaa)"}
HEAD_FILL = PatternFill("solid", fgColor="DCE6F1")
THIN = Side(style="thin", color="A6A6A6")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
MET, MISSED = Font(bold=True, color="0A6B2E"), Font(bold=True, color="B00020")
#: Excel's limit on sheet titles, and characters it refuses in them.
SHEET_TITLE_MAX = 31
SHEET_TITLE_FORBIDDEN = str.maketrans({c: "・" for c in "[]:*?/\\"})


def _w(key: str, lang: str) -> str:
    ja, en = WORDS[key]
    return en if lang == "en" else ja


def _cell_value(value, kind: str):
    if value is None:
        return None
    if kind == "pct":
        return value / 100.0
    if kind == "dur":
        return value / 86400.0  # Excel times are fractions of a day
    return value


def _sheet_title(title: str) -> str:
    return title.translate(SHEET_TITLE_FORBIDDEN)[:SHEET_TITLE_MAX]


def _header(ws, row: int, head: list[str]) -> None:
    for column, text in enumerate(head, 1):
        cell = ws.cell(row, column, text)
        cell.font, cell.fill, cell.border = Font(bold=True), HEAD_FILL, BOX
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _widths(ws, head: list[str], minimum: int = 8) -> None:
    for column, text in enumerate(head, 1):
        # East Asian characters are about two columns wide
        width = sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(text)) + 2
        ws.column_dimensions[get_column_letter(column)].width = max(minimum, min(width, 40))


def render_xlsx(kpis: Kpis, lang: str = "ja",
                targets: Mapping[str, float] | None = None) -> bytes:
    targets = kpis.targets.rates if targets is None else targets
    wb = Workbook()
    ws = wb.active
    ws.title = _sheet_title(_w("summary", lang))
    ws["A1"] = f"{_w('title', lang)} {period_title(kpis, lang)}"
    ws["A1"].font = Font(bold=True, size=14)
    start, end = (t.strftime("%Y-%m-%d %H:%M JST") for t in (kpis.start, kpis.end))
    meta = [(_w("period", lang), f"{start} – {end}"),
            (_w("line", lang), kpis.line or _w("all", lang)),
            (_w("queue", lang), kpis.queue or _w("all", lang)),
            (_w("generated", lang), kpis.generated_at.strftime("%Y-%m-%d %H:%M JST")),
            tuple(targets_text(kpis, lang).split(": ", 1))]
    if kpis.empty:
        meta.append((_w("no_calls", lang), _w("no_calls_text", lang)))
    for i, (key, text) in enumerate(meta, 2):
        ws.cell(i, 1, key).font = Font(bold=True)
        ws.cell(i, 2, text)
    if kpis.empty:
        ws.cell(1 + len(meta), 2).font = Font(bold=True, color="B00020")
    row = len(meta) + 3
    head = [_w("figure", lang), _w("value", lang), _w("target", lang), _w("judgement", lang)]
    _header(ws, row, head)
    for item in summary_rows(kpis, lang, targets):
        row += 1
        ws.cell(row, 1, item["label"]).border = BOX
        cell = ws.cell(row, 2, item["value"] if item["raw"] is None
                       else _cell_value(item["raw"], item["kind"]))
        cell.number_format, cell.border = FORMATS.get(item["kind"], "General"), BOX
        target = ws.cell(row, 3, None if item["target_value"] is None
                         else item["target_value"] / 100.0)
        whole = item["target_value"] is None or float(item["target_value"]).is_integer()
        target.number_format, target.border = '"≥ "0%' if whole else '"≥ "0.0%', BOX
        judged = ws.cell(row, 4, item["judgement"] or None)
        judged.border, judged.alignment = BOX, Alignment(horizontal="center")
        if item["met"] is not None:
            judged.font = MET if item["met"] else MISSED
    row += 2
    ws.cell(row, 1, _w("notes", lang)).font = Font(bold=True)
    for note in (_w("note_fcr", lang), _w("note_frr", lang), _w("note_agents", lang)):
        row += 1
        ws.cell(row, 1, note)
    ws.column_dimensions["A"].width = 44
    for letter in "BCD":
        ws.column_dimensions[letter].width = 14
    ws.column_dimensions["B"].width = 40 if kpis.empty else 14

    for table in report_tables(kpis, lang):
        sheet = wb.create_sheet(_sheet_title(table.title))
        _header(sheet, 1, table.head)
        for r, values in enumerate(table.rows, 2):
            for c, (v, kind) in enumerate(zip(values, table.kinds, strict=False), 1):
                if kind == "date" and isinstance(v, date):
                    cell = sheet.cell(r, c, v)
                    cell.number_format = FORMATS["date"] if lang == "ja" else "yyyy-mm-dd ddd"
                else:
                    cell = sheet.cell(r, c, _cell_value(v, kind))
                    cell.number_format = FORMATS.get(kind, "General")
                cell.border = BOX
        if not table.rows:
            sheet.cell(2, 1, _w("no_rows", lang))
        _widths(sheet, table.head)
        if table.kinds[0] == "date":
            sheet.column_dimensions["A"].width = max(16, len(day_label(date.today(), lang)) + 6)
        sheet.freeze_panes = "B2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


__all__ = ["render_xlsx"]
