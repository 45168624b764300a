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
the flows), else the site default (``report_targets:``); an unknown line or queue is 404 {error_id: LINE_UNKNOWN |
QUEUE_UNKNOWN}; a malformed date 422 BAD_PERIOD. Supervisors, admins and viewers may read
reports (and the API token); agents may not (403 FORBIDDEN).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from aiohttp import web

from acd.domain.clock import JST, parse_period
from acd.reports.formats import FORMATS, render_report
from acd.reports.kpi import compute_kpis
from acd.reports.figures import ReportError
from acd.reports.render import SUMMARY, judge, value
from acd.reports.scheduler import find_file, list_files
from acd.reports.targets import targets_for
from agent_gateway.auth.principal import require_role
from agent_gateway.routes.agents import ROSTER, ApiError

READERS = ("supervisor", "admin", "viewer")

KNOWN_LINES = web.AppKey("report_known_lines", object)  # () -> (lines, queues) | None
REPORT_SITE = web.AppKey("report_site", object)  # () -> Site | None: the targets
#: Where the scheduled reports are written (acd/reports/scheduler.py); set by the stack.
REPORTS_DIR = web.AppKey("reports_dir", Path)


def _summary_json(kpis) -> dict:
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
            "by_category": {c or "": n for c, n in kpis.by_category.items()}}


async def get_report(request: web.Request) -> web.StreamResponse:
    require_role(request, *READERS)
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
    known = request.app.get(KNOWN_LINES)
    lines, queues = known() if callable(known) else (None, None)
    site = request.app.get(REPORT_SITE)
    line = q.get("line") or None
    try:
        kpis = await compute_kpis(request.app[ROSTER].engine, start, end, line,
                                  q.get("queue") or None, known_lines=lines,
                                  known_queues=queues,
                                  targets=targets_for(site() if callable(site) else None, line))
    except ReportError as exc:
        status = 404 if exc.error_id.endswith("_UNKNOWN") else 422
        raise ApiError(status, exc.error_id, str(exc)) from None
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
    require_role(request, *READERS)
    files = await asyncio.to_thread(list_files, _reports_dir(request))
    return web.json_response({"files": [
        {"kind": f.kind, "period": f.period, "format": f.format, "name": f.name,
         "bytes": f.size, "written_at": datetime.fromtimestamp(f.written_at, JST).isoformat(),
         "url": f"/api/reports/files/{f.kind}/{f.name}"} for f in files]})


async def get_report_file(request: web.Request) -> web.FileResponse:
    require_role(request, *READERS)
    kind, name = request.match_info["kind"], request.match_info["name"]
    path = find_file(_reports_dir(request), kind, name)
    if path is None:
        raise ApiError(404, "REPORT_FILE_UNKNOWN", f"no scheduled report {kind}/{name}")
    extension = name.rsplit(".", 1)[1]
    return web.FileResponse(path, headers={
        "Content-Type": FORMATS[extension].content_type,
        "Content-Disposition": f'attachment; filename="{name}"'})


def setup_report_routes(app: web.Application, known_lines=None, site=None) -> None:
    """``known_lines``: optional ``() -> (set of DIDs, set of queue names)`` from the flows,
    so that a configured line without calls yet gives an empty report, not a 404;
    ``site``: optional ``() -> Site`` (the flows now), whose targets the reports use."""
    if known_lines is not None:
        app[KNOWN_LINES] = known_lines
    if site is not None:
        app[REPORT_SITE] = site
    app.router.add_get(r"/api/reports/{kind:daily|weekly|monthly|range}", get_report)
    app.router.add_get("/api/reports/files", list_report_files)
    app.router.add_get(r"/api/reports/files/{kind:daily|weekly|monthly}/{name}",
                       get_report_file)


__all__ = ["REPORTS_DIR", "REPORT_SITE", "setup_report_routes"]
