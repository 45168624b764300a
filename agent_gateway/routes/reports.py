"""KPI reports over HTTP (the API token is required like every ``/api/`` route).

    GET /api/reports/daily?date=2026-11-20
    GET /api/reports/weekly?week=2026-W47
    GET /api/reports/monthly?month=2026-11        (or date=2026-11-20: that day's month)
    GET /api/reports/range?from=2026-11-01&to=2026-11-15   (to: inclusive)
        &format=csv|xlsx|html|pdf|json (default csv) &lang=ja|en &line=DID &queue=NAME

    GET /api/reports/files                        the scheduled reports written
    GET /api/reports/files/{daily|weekly|monthly}/{name}   one of them (download)

Without a date the previous day / week / month (JST). CSV (UTF-8 with BOM), XLSX and PDF
come as attachments; the figures are judged against the line's targets (``targets:`` in
the flows), else the site default (``report_targets:``); an unknown line or queue is
404 {error_id: LINE_UNKNOWN | QUEUE_UNKNOWN}; a malformed date 422 BAD_PERIOD.
Supervisors, admins and viewers may read reports (and the API token); agents may not
(403 FORBIDDEN: agent_gateway.auth.access).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from acd.domain.clock import JST, parse_period
from acd.reports.figures import Kpis
from acd.reports.formats import FORMATS, render_report
from acd.reports.kpi import compute_kpis
from acd.reports.render import SUMMARY, half_hour_label, judge, value
from acd.reports.scheduler import find_file, list_files
from acd.reports.targets import targets_for
from agent_gateway.http import ApiError
from agent_gateway.keys import DATABASE, REPORTS_DIR, SITE


def _summary_json(kpis: Kpis) -> dict[str, Any]:
    targets = kpis.targets.rates
    return {"start": kpis.start.isoformat(), "end": kpis.end.isoformat(), "line": kpis.line,
            "queue": kpis.queue, "empty": kpis.empty,
            "figures": {key: value(kpis, key) for key, *_ in SUMMARY},
            "targets": targets, "targets_source": kpis.targets.source,
            "quick_answer_seconds": kpis.targets.quick_answer_seconds,
            "met": {key: judge(value(kpis, key), target) for key, target in targets.items()},
            "by_day": {d.isoformat(): {"offered": f.offered, "answered": f.answered,
                                       "answer_rate": f.answer_rate}
                       for d, f in kpis.by_day.items()},
            "by_hour": {h: {"offered": f.offered, "answered": f.answered,
                            "answer_rate": f.answer_rate} for h, f in kpis.by_hour.items()},
            "by_half_hour": {half_hour_label(h): {"answered": f.answered,
                                                  "quick_answered": f.quick_answered,
                                                  "service_level": f.service_level}
                             for h, f in kpis.by_half_hour.items() if f.calls},
            "abandoned_waits": kpis.overall.abandoned_waits,
            "complaints": [{"uniqueid": c.uniqueid, "entered_at": c.entered_at,
                            "line": c.line, "agent": c.agent, "category": c.category,
                            "note": c.note} for c in kpis.complaint_calls],
            "by_category": {c or "": n for c, n in kpis.by_category.items()}}


async def get_report(request: web.Request) -> web.StreamResponse:
    kind = request.match_info["kind"]
    q = request.query
    fmt, lang = q.get("format", "csv"), q.get("lang", "ja")
    if (fmt not in FORMATS and fmt != "json") or lang not in ("ja", "en"):
        raise ApiError(422, "BAD_FORMAT",
                       "format must be csv, xlsx, html, pdf or json; lang ja or en")
    raw = {"daily": q.get("date"), "weekly": q.get("week"), "range": q.get("from"),
           "monthly": q.get("month") or q.get("date")}[kind]
    try:
        start, end = parse_period(kind, raw, q.get("to"))
    except ValueError as exc:
        raise ApiError(422, "BAD_PERIOD", str(exc)) from None
    # the lines and queues of the flows: a configured line without calls yet gives an
    # empty report, not a 404
    site = request.app[SITE]() if SITE in request.app else None
    lines = {line.did for line in site.lines} if site else None
    queues = {queue.name for queue in site.queues} if site else None
    line = q.get("line") or None
    kpis = await compute_kpis(request.app[DATABASE], start, end, line,
                              q.get("queue") or None, known_lines=lines, known_queues=queues,
                              targets=targets_for(site, line))
    if fmt == "json":
        return web.json_response(_summary_json(kpis))
    name = f"kpi-{kind}-{start:%Y%m%d}" + (f"-{kpis.line}" if kpis.line else "")
    # charts and PDF layout take a moment of CPU: off the event loop
    body = await asyncio.to_thread(render_report, kpis, fmt, lang)
    spec = FORMATS[fmt]
    headers = {"Content-Type": spec.content_type}
    if fmt != "html":
        headers["Content-Disposition"] = f'attachment; filename="{name}.{spec.extension}"'
    return web.Response(body=body, headers=headers)


def _reports_dir(request: web.Request) -> Path:
    directory = request.app.get(REPORTS_DIR)
    if directory is None:
        raise ApiError(404, "REPORTS_DIR_UNSET", "no reports directory is configured here")
    return directory


async def list_report_files(request: web.Request) -> web.Response:
    files = await asyncio.to_thread(list_files, _reports_dir(request))
    return web.json_response({"files": [
        {"kind": f.kind, "period": f.period, "format": f.format, "name": f.name,
         "bytes": f.size, "written_at": datetime.fromtimestamp(f.written_at, JST).isoformat(),
         "url": f"/api/reports/files/{f.kind}/{f.name}"} for f in files]})


async def get_report_file(request: web.Request) -> web.FileResponse:
    kind, name = request.match_info["kind"], request.match_info["name"]
    path = find_file(_reports_dir(request), kind, name)
    if path is None:
        raise ApiError(404, "REPORT_FILE_UNKNOWN", f"no scheduled report {kind}/{name}")
    extension = name.rsplit(".", 1)[1]
    return web.FileResponse(path, headers={
        "Content-Type": FORMATS[extension].content_type,
        "Content-Disposition": f'attachment; filename="{name}"'})


def setup_report_routes(app: web.Application) -> None:
    """The reports of ``app[DATABASE]``, judged by the targets of ``app[SITE]()`` (when
    set), and the scheduled files of ``app[REPORTS_DIR]`` (when set)."""
    app.router.add_get(r"/api/reports/{kind:daily|weekly|monthly|range}", get_report)
    app.router.add_get("/api/reports/files", list_report_files)
    app.router.add_get(r"/api/reports/files/{kind:daily|weekly|monthly}/{name}",
                       get_report_file)


__all__ = ["setup_report_routes"]
