"""One entry to every report format, for the command line, HTTP and the scheduled reports."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from acd.reports.figures import Kpis


class Format(NamedTuple):
    content_type: str
    extension: str


FORMATS: Mapping[str, Format] = {
    "csv": Format("text/csv; charset=utf-8", "csv"),
    "xlsx": Format("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "html": Format("text/html; charset=utf-8", "html"),
    "pdf": Format("application/pdf", "pdf"),
}


def _renderer(fmt: str) -> Callable[[Kpis, str], bytes]:
    # imported on use: matplotlib and reportlab are loaded only for the formats needing them
    if fmt == "csv":
        from acd.reports.render import render_csv
        return render_csv
    if fmt == "html":
        from acd.reports.render import render_html
        return render_html
    if fmt == "xlsx":
        from acd.reports.xlsx import render_xlsx
        return render_xlsx
    if fmt == "pdf":
        from acd.reports.pdf import render_pdf
        return render_pdf
    raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


def render_report(kpis: Kpis, fmt: str, lang: str = "ja") -> bytes:
    return _renderer(fmt)(kpis, lang)


__all__ = ["FORMATS", "Format", "render_report"]
