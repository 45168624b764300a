"""The personal data section of the erasure certificate: the calls whose personal data
(caller number, notes, callback details) was erased from the database, for the PDF
(:mod:`acd.recordings.certificate_pdf`), the HTML and the CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from acd.recordings.certificate import _ts


@dataclass(frozen=True)
class PersonalDataItem:
    """One call whose personal data in the database was erased."""

    call_id: str
    line: str
    call_time: datetime
    what: str  #: the fields erased, for people: 発信者番号, 対応メモ ×2...
    method: str
    erased_at: datetime
    operator: str


PERSONAL_LABELS: dict[str, dict[str, Any]] = {
    "ja": {"section": "個人情報（通話記録・対応記録等）の抹消", "call_id": "通話ID",
           "statement": "下記の通話録音データ及び通話記録等に含まれる個人情報について、"
                        "復元できない方法により抹消したことを証明します。",
           "what": "抹消した項目", "count": "件数（個人情報）",
           "method_text": "データベース上の該当項目を空の値で上書き（通話の日時・結果は"
                          "統計のため保持）",
           "columns": ["No.", "通話ID", "回線", "通話日時", "抹消した項目", "抹消日時",
                       "実施者"]},
    "en": {"section": "Personal data erased (call records, dispositions...)",
           "statement": "This is to certify that the call recordings and the personal data "
                        "in the call records listed below have been erased by methods that "
                        "prevent their restoration.",
           "call_id": "Call ID", "what": "Fields erased", "count": "Calls (personal data)",
           "method_text": "The fields were overwritten with empty values in the database "
                          "(the call's times and outcome are kept for statistics)",
           "columns": ["No.", "Call ID", "Line", "Call time", "Fields erased", "Erased at",
                       "Operator"]},
}


def html_section(items: Sequence[PersonalDataItem], lang: str) -> str:
    """The section as HTML (a heading and a table), to go before the end of the page."""
    P = PERSONAL_LABELS[lang]
    head = "".join(f"<th>{escape(h)}</th>" for h in P["columns"])
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in (
            n, i.call_id, i.line, _ts(i.call_time), i.what, _ts(i.erased_at), i.operator))
        + "</tr>" for n, i in enumerate(items, start=1))
    return (f'<section class="personal"><h2>{escape(P["section"])}</h2>'
            f'<p>{escape(P["method_text"])}</p>'
            f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></section>")


def csv_section(items: Sequence[PersonalDataItem], lang: str) -> bytes:
    """The section as CSV rows (UTF-8, CRLF, no BOM), to append to the certificate's."""
    P = PERSONAL_LABELS[lang]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([])
    writer.writerow([P["section"]])
    writer.writerow(P["columns"])
    for n, i in enumerate(items, start=1):
        writer.writerow([n, i.call_id, i.line, _ts(i.call_time), i.what, _ts(i.erased_at),
                         "'" + i.operator if i.operator[:1] in "=+-@" else i.operator])
    return out.getvalue().encode("utf-8")


__all__ = ["PERSONAL_LABELS", "PersonalDataItem", "csv_section", "html_section"]
