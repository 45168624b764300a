"""The erasure certificate (抹消証明書) as a PDF, A4 portrait, ready to print and seal.

Same content as the HTML (:mod:`acd.recordings.certificate`), laid out as a Japanese
official document: title, certificate number and date of issue top right, the issuing
organisation with a box for the seal (印), the statement, 記, the summary (period, reason,
counts, total size, the item list digest), the erasure methods, the list of erased
recordings (and, when given, of the calls whose personal data was erased), 以上. Every
page carries the certificate number and "page n / N".

It uses reportlab with the Japanese CID fonts every PDF reader has (HeiseiMin-W3 for
the title, HeiseiKakuGo-W5 for the text): no font file is embedded or needed.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    LongTable,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from acd.domain.clock import JST
from acd.recordings.certificate import (
    CertificateHeader,
    CertificateItem,
    _long_date,
    _long_datetime,
    _size_text,
    _ts,
    _view,
)
from acd.recordings.certificate_personal import PERSONAL_LABELS, PersonalDataItem

GOTHIC = "HeiseiKakuGo-W5"
MINCHO = "HeiseiMin-W3"
MONO = "Courier"
LATIN = "Helvetica"
for _font in (GOTHIC, MINCHO):
    if _font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(_font))

MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 14 * mm, 14 * mm, 16 * mm
WIDTH = A4[0] - 2 * MARGIN_X


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=GOTHIC, fontSize=9, leading=13)
    return {
        "base": base,
        "title": ParagraphStyle("title", base, fontName=MINCHO, fontSize=20, leading=28,
                                alignment=TA_CENTER, spaceBefore=6 * mm, spaceAfter=6 * mm),
        "right": ParagraphStyle("right", base, alignment=TA_RIGHT),
        "center": ParagraphStyle("center", base, alignment=TA_CENTER, fontSize=11,
                                 leading=16, spaceBefore=3 * mm, spaceAfter=3 * mm),
        "statement": ParagraphStyle("statement", base, fontName=MINCHO, fontSize=11,
                                    leading=18, firstLineIndent=11),
        "h": ParagraphStyle("h", base, fontSize=10, leading=14, spaceBefore=4 * mm,
                            spaceAfter=1.5 * mm),
        "cell": ParagraphStyle("cell", base, fontSize=7, leading=9),
        "cell_c": ParagraphStyle("cell_c", base, fontSize=7, leading=9, alignment=TA_CENTER),
        "cell_r": ParagraphStyle("cell_r", base, fontSize=7, leading=9, alignment=TA_RIGHT),
        # digits, dates and codes: a Latin font (the CID fonts' Latin metrics are wide)
        "num": ParagraphStyle("num", base, fontName=LATIN, fontSize=7, leading=9),
        "num_c": ParagraphStyle("num_c", base, fontName=LATIN, fontSize=7, leading=9,
                                alignment=TA_CENTER),
        "num_r": ParagraphStyle("num_r", base, fontName=LATIN, fontSize=7, leading=9,
                                alignment=TA_RIGHT),
        "mono": ParagraphStyle("mono", base, fontName=MONO, fontSize=6, leading=7.5),
        "id": ParagraphStyle("id", base, fontName=MONO, fontSize=6.3, leading=8),
        "small": ParagraphStyle("small", base, fontSize=7.5, leading=10),
        "end": ParagraphStyle("end", base, alignment=TA_RIGHT, fontSize=10, spaceBefore=4 * mm),
    }


class _SealBox(Flowable):
    """The issuer's name and the square for the official seal (印)."""

    def __init__(self, lines: Sequence[str], seal_label: str) -> None:
        super().__init__()
        self.lines, self.seal_label = lines, seal_label
        self.width, self.height = WIDTH, 24 * mm

    def draw(self) -> None:
        c = self.canv
        box = 20 * mm
        x_box = self.width - box
        c.setFont(GOTHIC, 10)
        y = self.height - 6 * mm
        for text in self.lines:
            c.drawRightString(x_box - 4 * mm, y, text)
            y -= 6 * mm
        c.setStrokeColor(colors.grey)
        c.setDash(2, 2)
        c.rect(x_box, self.height - box - 1 * mm, box, box)
        c.setDash()
        c.setFillColor(colors.grey)
        c.setFont(MINCHO, 9)
        c.drawCentredString(x_box + box / 2, self.height - box / 2 - 4 * mm, self.seal_label)


def _p(text: object, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)


def render_pdf(items: list[CertificateItem], header: CertificateHeader, lang: str = "ja",
               personal: Sequence[PersonalDataItem] = ()) -> bytes:
    """The certificate as PDF bytes (``lang`` ``ja`` or ``en``)."""
    view = _view(items, header, lang)
    L = view.labels
    period = (f"{_long_date(header.period_start, lang)}{L['range']}"
              f"{_long_date(header.period_end, lang)}")
    buffer = io.BytesIO()
    doc = _NumberedDoc(buffer, view.certificate_no, L["page"], title=L["title"],
                       author=header.organisation or "Madoguchi",
                       subject=f"{view.certificate_no} {period}")
    doc.build(lambda: _story(view, header, lang, personal))
    return buffer.getvalue()


def _story(view, header: CertificateHeader, lang: str,
           personal: Sequence[PersonalDataItem]) -> list[Flowable]:
    L, S = view.labels, _styles()
    P = PERSONAL_LABELS[lang]
    issued = header.issued_at.astimezone(JST)
    story: list[Flowable] = []

    story.append(_p(f"{L['certificate_no']}{L['colon']}{view.certificate_no}", S["right"]))
    story.append(_p(f"{L['issued_at']}{L['colon']}{_long_datetime(issued, lang)}",
                    S["right"]))
    story.append(_p(L["title"], S["title"]))
    issuer_lines = [t for t in (header.organisation, header.issuer) if t]
    story.append(_SealBox(issuer_lines or [" "], L["seal"]))
    story.append(Spacer(1, 5 * mm))
    story.append(_p(P["statement"] if personal else L["statement"], S["statement"]))
    story.append(_p("記" if lang == "ja" else "Particulars", S["center"]))

    period = (f"{_long_date(header.period_start, lang)}{L['range']}"
              f"{_long_date(header.period_end, lang)}")
    by_method = L["sep"].join(f"{label} {n}{L['unit_items']}"
                              for _code, label, n in view.by_method) or L["none"]
    summary = [
        (L["period"], period),
        (L["reason"], header.reason or "—"),
        (L["count"], f"{view.count}{L['unit_items']}"),
        (L["total_size"], _size_text(view.total_size, lang) if view.total_size is not None
         else "—"),
        (L["by_method"], by_method),
    ]
    if personal:
        summary.append((P["count"], f"{len(personal)}{L['unit_items']}"))
    summary.append((L["digest"], view.digest))
    summary_rows = [[_p(k, S["cell"]), _p(v, S["mono"] if k == L["digest"] else S["cell"])]
                    for k, v in summary]
    table = Table(summary_rows, colWidths=[42 * mm, WIDTH - 42 * mm])
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("BACKGROUND", (0, 0), (0, -1), colors.Color(0.93, 0.93, 0.93)),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3)]))
    story.append(table)
    story.append(Spacer(1, 1.5 * mm))
    story.append(_p(f"{L['digest_how']}{L['colon']}{L['digest_rule']}", S["small"]))

    methods = [_p(f"・{short}（{code}）{L['colon']}{full}" if lang == "ja"
                  else f"- {short} ({code}): {full}", S["small"])
               for code, short, full in view.methods_used]
    if personal:
        methods.append(_p(("・" if lang == "ja" else "- ") + P["method_text"], S["small"]))
    if methods:
        story.append(KeepTogether([_p(L["methods"], S["h"]), *methods]))

    story.append(_p(L["item_list"], S["h"]))
    if view.rows:
        story.append(_items_table(view.rows, L, S))
    else:
        story.append(_p(L["none"], S["base"]))

    if personal:
        story.append(_p(P["section"], S["h"]))
        story.append(_personal_table(personal, L, P, S))

    story.append(Spacer(1, 2 * mm))
    story.append(_p(L["timezone_note"], S["small"]))
    story.append(_p(L["end"], S["end"]))
    return story


def _items_table(rows: list[dict], L: dict[str, str], S: dict[str, ParagraphStyle]) -> LongTable:
    widths = [7, 35, 18, 16, 49, 16, 16, 20, 20]
    scale = WIDTH / (sum(widths) * mm)
    head = [_p(L[k], S["cell_c"]) for k in ("no", "recording_id", "line", "call_time",
                                            "sha256", "method", "erased_at", "operator",
                                            "size")]
    data = [head]
    for row in rows:
        item: CertificateItem = row["item"]
        sha = row["sha256"]
        data.append([
            _p(row["no"], S["num_r"]), _p(item.recording_id, S["id"]),
            _p(item.line, S["num"]),
            _p(f"{row['call_date']}\n{row['call_clock']}", S["num_c"]),
            _p(f"{sha[:32]}\n{sha[32:]}", S["mono"]),
            _p("\n".join(row["method_parts"]), S["cell_c"]),
            _p(f"{row['erased_date']}\n{row['erased_clock']}", S["num_c"]),
            _p(item.operator, S["cell"]),
            _p("—" if item.size is None else f"{item.size:,}", S["num_r"]),
        ])
    table = LongTable(data, colWidths=[w * mm * scale for w in widths], repeatRows=1)
    table.setStyle(_grid())
    return table


def _personal_table(items: Sequence[PersonalDataItem], L: dict[str, str],
                    P: dict[str, str], S: dict[str, ParagraphStyle]) -> LongTable:
    widths = [7, 38, 17, 17, 60, 17, 21]
    scale = WIDTH / (sum(widths) * mm)
    head = [_p(text, S["cell_c"]) for text in (L["no"], P["call_id"], L["line"],
                                               L["call_time"], P["what"], L["erased_at"],
                                               L["operator"])]
    data = [head]
    for number, item in enumerate(items, start=1):
        call, erased = _ts(item.call_time), _ts(item.erased_at)
        data.append([
            _p(number, S["num_r"]), _p(item.call_id, S["id"]), _p(item.line, S["num"]),
            _p(f"{call[:10]}\n{call[11:]}", S["num_c"]), _p(item.what, S["cell"]),
            _p(f"{erased[:10]}\n{erased[11:]}", S["num_c"]), _p(item.operator, S["cell"]),
        ])
    table = LongTable(data, colWidths=[w * mm * scale for w in widths], repeatRows=1)
    table.setStyle(_grid())
    return table


def _grid() -> TableStyle:
    return TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.black),
        ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9)),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2), ("RIGHTPADDING", (0, 0), (-1, -1), 2),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)])


class _NumberedDoc(BaseDocTemplate):
    """A4 portrait with "<certificate no>  page n / N" at the foot of every page (two
    passes: the total is known after the first)."""

    def __init__(self, buffer: io.BytesIO, number: str, page_label: str, **kw) -> None:
        super().__init__(buffer, pagesize=A4, leftMargin=MARGIN_X, rightMargin=MARGIN_X,
                         topMargin=MARGIN_TOP, bottomMargin=MARGIN_BOTTOM, **kw)
        self.number, self.page_label, self.pages_total = number, page_label, 0
        frame = Frame(MARGIN_X, MARGIN_BOTTOM, WIDTH, A4[1] - MARGIN_TOP - MARGIN_BOTTOM,
                      id="body", leftPadding=0, rightPadding=0, topPadding=0,
                      bottomPadding=0)
        self.addPageTemplates([PageTemplate("page", [frame], onPage=self._foot)])

    def _foot(self, canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(GOTHIC, 8)
        canvas.setFillColor(colors.Color(0.25, 0.25, 0.25))
        total = f" / {self.pages_total}" if self.pages_total else ""
        canvas.drawCentredString(A4[0] / 2, 9 * mm,
                                 f"{self.number}　{self.page_label} {doc.page}{total}")
        canvas.restoreState()

    def build(self, story: Callable[[], list[Flowable]]) -> None:
        probe = _NumberedDoc(io.BytesIO(), self.number, self.page_label)
        BaseDocTemplate.build(probe, story())
        self.pages_total = probe.page
        BaseDocTemplate.build(self, story())


__all__ = ["render_pdf"]
