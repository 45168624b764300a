"""KPI reports as PDF (reportlab): A4 landscape, the summary with targets and met /
missed, the charts (matplotlib PNGs, acd/reports/charts.py) and every breakdown, with the
report's title, period and page number on each page.

Text is set in IPA P Gothic (Debian's fonts-ipafont-gothic, installed by ``make setup``),
embedded as a subset so the PDF shows the same everywhere (it has ≧, not ≥). Without it, reportlab's
built-in Japanese CID font HeiseiKakuGo-W5 is used (not embedded: PDF readers substitute a
Japanese gothic font); it covers JIS X 0208 only, so the few characters outside it are
then replaced (≥ → ≧, – → ～, — → －).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from acd.reports.figures import Kpis
from acd.reports.render import (
    WORDS,
    charts,
    report_tables,
    sections,
    summary_rows,
)

TTF_FONTS = ("/usr/share/fonts/opentype/ipafont-gothic/ipagp.ttf",
             "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
             "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
             "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf")
TTF_NAME = "JapaneseGothic"
CID_FONT = "HeiseiKakuGo-W5"
PAGE = landscape(A4)
MARGIN = 12 * mm
WIDTH = PAGE[0] - 2 * MARGIN
BLUE, HEAD_BG = colors.HexColor("#2b5c8a"), colors.HexColor("#dce6f1")
MET, MISSED = colors.HexColor("#0a6b2e"), colors.HexColor("#b00020")
_OUTSIDE_JIS = str.maketrans({"≥": "≧", "–": "～", "—": "－"})
_NOT_IN_IPA = str.maketrans({"≥": "≧"})


_cid_only = False


def _font() -> str:
    global _cid_only
    registered = pdfmetrics.getRegisteredFontNames()
    if TTF_NAME in registered:
        return TTF_NAME
    for path in TTF_FONTS:
        if Path(path).is_file():
            pdfmetrics.registerFont(TTFont(TTF_NAME, path))
            return TTF_NAME
    if CID_FONT not in registered:
        pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    _cid_only = True
    return CID_FONT


def _t(text: str) -> str:
    return str(text).translate(_OUTSIDE_JIS if _cid_only else _NOT_IN_IPA)


def _w(key: str, lang: str) -> str:
    ja, en = WORDS[key]
    return _t(en if lang == "en" else ja)


def _styles(font: str) -> dict[str, ParagraphStyle]:
    return {
        "title": ParagraphStyle("title", fontName=font, fontSize=18, leading=24),
        "meta": ParagraphStyle("meta", fontName=font, fontSize=9, leading=13,
                               textColor=colors.HexColor("#444444")),
        "h2": ParagraphStyle("h2", fontName=font, fontSize=12, leading=16, spaceBefore=8,
                             spaceAfter=4, textColor=BLUE),
        "cell": ParagraphStyle("cell", fontName=font, fontSize=7.5, leading=9.5),
        "nocalls": ParagraphStyle("nocalls", fontName=font, fontSize=14, leading=20,
                                  borderColor=colors.grey, borderWidth=1.5, borderPadding=6,
                                  backColor=colors.HexColor("#f6f6f6"), spaceBefore=6,
                                  spaceAfter=10),
        "note": ParagraphStyle("note", fontName=font, fontSize=8, leading=11),
    }


def _table(head: list[str], rows: list[list], font: str, widths=None,
           left_columns: int = 1) -> Table:
    table = Table([head, *rows], colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), font, 7.5),
        ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#a6a6a6")),
        ("ALIGN", (0, 0), (-1, 0), "CENTER"),
        ("ALIGN", (left_columns, 1), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f7f7f7")]),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]))
    return table


def render_pdf(kpis: Kpis, lang: str = "ja",
               targets: Mapping[str, float] | None = None) -> bytes:
    font = _font()
    st = _styles(font)
    s = sections(kpis, lang, targets, percent=True)
    title = _t(f"{s['title']}　{s['period_title']}")
    story: list = [Paragraph(escape(title), st["title"]), Paragraph(escape(_t(
        f"{_w('period', lang)}: {s['period'][0]} – {s['period'][1]}　"
        f"{_w('line', lang)}: {s['line']}　{_w('queue', lang)}: {s['queue']}　"
        f"{_w('generated', lang)}: {s['generated']}　{s['targets']}")), st["meta"]),
        Spacer(1, 4 * mm)]
    if kpis.empty:
        story.append(Paragraph(escape(f"{_w('no_calls', lang)}: {_w('no_calls_text', lang)}"),
                               st["nocalls"]))

    # the summary in two columns of figures, side by side
    rows = summary_rows(kpis, lang, targets, percent=True)
    head = [_w("figure", lang), _w("value", lang), _w("target", lang), _w("judgement", lang)]
    # calls on the left, dispositions and agents on the right
    split = next((i for i, item in enumerate(rows) if item["key"] == "dispositions"),
                 (len(rows) + 1) // 2)
    columns = (rows[:split], rows[split:])
    style_cmds = []
    cells = []
    for i in range(max(map(len, columns))):
        line = []
        for j, column in enumerate(columns):
            item = column[i] if i < len(column) else None
            if item is None:
                line += ["", "", "", ""]
                continue
            line += [_t(item["label"]), item["value"] or "－", _t(item["target"]),
                     item["judgement"]]
            if item["met"] is not None:
                style_cmds.append(("TEXTCOLOR", (4 * j + 3, i + 1), (4 * j + 3, i + 1),
                                   MET if item["met"] else MISSED))
        cells.append(line)
    summary = _table(head + head, cells, font, widths=[58 * mm, 20 * mm, 18 * mm, 14 * mm] * 2)
    summary.setStyle(TableStyle([*style_cmds,
                                 ("ALIGN", (4, 1), (4, -1), "LEFT"),
                                 ("ALIGN", (2, 1), (3, -1), "CENTER"),
                                 ("ALIGN", (6, 1), (7, -1), "CENTER"),
                                 ("LINEBEFORE", (4, 0), (4, -1), 1.2, colors.grey)]))
    story.append(summary)

    chart_width = WIDTH * 0.92
    for _caption, png in charts(kpis, lang, "png", width=11.0, targets=targets):
        image = Image(io.BytesIO(png))
        scale = chart_width / image.imageWidth
        image.drawWidth, image.drawHeight = chart_width, image.imageHeight * scale
        if image.drawHeight > PAGE[1] - 2 * MARGIN - 30 * mm:
            factor = (PAGE[1] - 2 * MARGIN - 30 * mm) / image.drawHeight
            image.drawWidth, image.drawHeight = image.drawWidth * factor, image.drawHeight * factor
        story.append(KeepTogether([Spacer(1, 3 * mm), image]))

    for table in report_tables(kpis, lang):
        text_rows = table.text_rows(lang, percent=True)
        if table.key == "escalations":  # free text: wrapped
            text_rows = [[Paragraph(escape(_t(c)), st["cell"]) for c in row]
                         for row in text_rows]
            widths = [30 * mm, 28 * mm, 22 * mm, 16 * mm, 18 * mm, 27 * mm, 24 * mm, 12 * mm,
                      WIDTH - 177 * mm]
        else:
            text_rows = [[_t(c) for c in row] for row in text_rows]
            widths = None
        if not text_rows:
            text_rows = [[_w("no_rows", lang)] + [""] * (len(table.head) - 1)]
        heading = Paragraph(escape(_t(table.title)), st["h2"])
        grid = _table([_t(h) for h in table.head], text_rows, font, widths,
                      left_columns=len(table.head) if table.key == "escalations" else 1)
        story += [KeepTogether([heading, grid]) if len(text_rows) < 25 else heading, ]
        if len(text_rows) >= 25:
            story.append(grid)
    story.append(Paragraph(escape(_w("notes", lang)), st["h2"]))
    story += [Paragraph(escape(_t(n)), st["note"]) for n in s["notes"]]

    def page(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(font, 7.5)
        canvas.setFillColor(colors.HexColor("#666666"))
        canvas.drawString(MARGIN, MARGIN / 2, title)
        canvas.drawRightString(PAGE[0] - MARGIN, MARGIN / 2,
                               f"{_w('page', lang)} {doc.page}")
        canvas.restoreState()

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=PAGE, leftMargin=MARGIN, rightMargin=MARGIN,
                            topMargin=MARGIN, bottomMargin=MARGIN, title=title,
                            author="Madoguchi", invariant=1)
    doc.build(story, onFirstPage=page, onLaterPages=page)
    return out.getvalue()


__all__ = ["render_pdf"]
