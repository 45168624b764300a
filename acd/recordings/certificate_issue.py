"""Issuing the erasure certificate (抹消証明書) of a period: the recordings' tombstones and
the personal-data erasures of those days, rendered as HTML, CSV or PDF
(:mod:`acd.recordings.certificate`, :mod:`acd.recordings.certificate_pdf`), the issuing
written to the access log."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Literal

from acd.adapters.db.schema import recordings
from acd.domain.clock import jst_day_start, utc
from acd.recordings.certificate import (
    CertificateHeader,
    CertificateItem,
    render_csv,
    render_html,
)
from acd.recordings.certificate_personal import (
    PersonalDataItem,
    csv_section,
    html_section,
)
from acd.recordings.erasure import OVERWRITE_UNLINK
from acd.recordings.personal_data import PersonalDataEraser, describe
from acd.recordings.rows import AccessLog, RecordingRows


class CertificateIssuer:
    """The certificates of the tombstones in ``rows`` and of ``personal``'s erasures."""

    def __init__(self, rows: RecordingRows, access: AccessLog, personal: PersonalDataEraser,
                 *, clock: Callable[[], float] = time.time) -> None:
        self._rows = rows
        self._access = access
        self._personal = personal
        self.clock = clock

    async def certificate(self, start: date, end: date, lang: str = "ja",
                          format: Literal["html", "csv", "pdf"] = "html", *,
                          organisation: str = "", issuer: str = "", reason: str = "",
                          certificate_no: str = "", who: str = "system",
                          remote: str | None = None) -> bytes:
        """The erasure certificate of the recordings erased from ``start`` to ``end``
        (days in JST, both included): HTML (UTF-8), CSV (UTF-8 with BOM) or PDF (A4), as
        bytes."""
        if end < start:
            raise ValueError("the period ends before it starts")
        if format not in ("html", "csv", "pdf"):
            raise ValueError("format must be html, csv or pdf")
        lo, hi = jst_day_start(start), jst_day_start(end + timedelta(days=1))
        rows = await self._rows.where(recordings.c.status == "erased",
                                      recordings.c.erased_at >= lo,
                                      recordings.c.erased_at < hi,
                                      recordings.c.sha256.is_not(None),
                                      order_by=(recordings.c.erased_at,
                                                recordings.c.uniqueid))
        personal = [PersonalDataItem(
            call_id=e["uniqueid"], line=e["line"], call_time=utc(e["call_time"]),
            what=describe(json.loads(e["fields"])), method=e["method"],
            erased_at=utc(e["erased_at"]), operator=e["erased_by"])
            for e in await self._personal.erasures(lo, hi)]
        items = [CertificateItem(recording_id=r["uniqueid"], line=r["line"],
                                 call_time=utc(r["started_at"]), sha256=r["sha256"],
                                 method=r["erasure_method"] or OVERWRITE_UNLINK,
                                 erased_at=utc(r["erased_at"]),
                                 operator=r["erased_by"] or "", size=r["plain_size"])
                 for r in rows]
        header = CertificateHeader(organisation=organisation, period_start=start,
                                   period_end=end, issued_at=utc(self.clock()),
                                   issuer=issuer, certificate_no=certificate_no,
                                   reason=reason)
        if format == "pdf":
            # reportlab is heavy to import (about 0.2 s): loaded only when a PDF is asked
            from acd.recordings.certificate_pdf import render_pdf

            body = await asyncio.to_thread(render_pdf, items, header, lang, personal)
        elif format == "html":
            page = render_html(items, header, lang)
            if personal:
                at = page.rfind("</body>")
                page = page[:at] + html_section(personal, lang) + page[at:]
            body = page.encode("utf-8")
        else:
            body = render_csv(items, header, lang)
            if personal:
                body += csv_section(personal, lang)
        await self._access.record(who, "certificate", None, remote, json.dumps(
            {"from": start.isoformat(), "to": end.isoformat(), "items": len(items),
             "personal_data_items": len(personal), "format": format, "lang": lang}))
        return body
