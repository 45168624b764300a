"""Staffing plans over HTTP, for supervisors (the reports' access: supervisors, admins,
viewers and the API token; acd/planning/):

    GET /api/reports/plan?from=2026-11-01&to=2026-11-30     (to: inclusive; JST days)
        &line=DID &queue=NAME &target=answer_rate=0.9,quick_answer=0.9@10,blocking=0.01
        &agents=N &lines=N        (what N operators / lines would do, instead of sizing)
        &format=json|csv|xlsx|svg (default json) &lang=ja|en &day_type=weekday (svg)

Sized from the history of the period (the event log), against the line's targets unless
``target`` is given. A malformed period is 422 BAD_PERIOD, a malformed target or number
422 BAD_TARGET, targets no staffing meets 422 TARGETS_UNREACHABLE, an unknown format 422
BAD_FORMAT, a day type without calls 404 DAY_TYPE_EMPTY.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from acd.domain.clock import parse_period
from acd.domain.sizing.plan import DAY_TYPES, MAX_AGENTS, size
from acd.planning.history import read_history
from acd.planning.outputs import plan_json, render_charts, render_csv, render_xlsx
from acd.planning.site import line_working_days, sizing_targets
from agent_gateway.http import ApiError
from agent_gateway.keys import DATABASE, SITE

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "svg": "image/svg+xml",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _count(value: str | None, name: str, limit: int) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
        if not 0 <= number <= limit:
            raise ValueError
    except ValueError:
        raise ApiError(422, "BAD_TARGET", f"{name} must be a number from 0 to {limit}, "
                       f"not {value!r}") from None
    return number


async def get_plan(request: web.Request) -> web.StreamResponse:
    q = request.query
    fmt, lang = q.get("format", "json"), q.get("lang", "ja")
    if fmt not in ("json", *CONTENT_TYPES) or lang not in ("ja", "en"):
        raise ApiError(422, "BAD_FORMAT", "format must be json, csv, xlsx or svg; lang ja or en")
    try:
        start, end = parse_period("range", q.get("from"), q.get("to"))
    except (ValueError, TypeError) as exc:
        raise ApiError(422, "BAD_PERIOD", f"from and to (YYYY-MM-DD): {exc}") from None
    site = request.app[SITE]() if SITE in request.app else None
    line, queue = q.get("line") or None, q.get("queue") or None
    try:
        targets = sizing_targets(site, line, q.get("target"))
    except ValueError as exc:
        raise ApiError(422, "BAD_TARGET", str(exc)) from None
    agents = _count(q.get("agents"), "agents", MAX_AGENTS)
    lines = _count(q.get("lines"), "lines", 10 * MAX_AGENTS)
    history = await read_history(request.app[DATABASE], start, end, line, queue)
    forecast = history.forecast(line_working_days(site, line))
    try:
        rows = await asyncio.to_thread(size, forecast, targets, agents, lines)
    except ValueError as exc:  # e.g. the targets cannot be met by MAX_AGENTS operators
        raise ApiError(422, "TARGETS_UNREACHABLE", str(exc)) from None
    name = f"plan-{start:%Y%m%d}" + (f"-{line}" if line else "")
    if fmt == "json":
        return web.json_response(plan_json(forecast, targets, rows))
    if fmt == "svg":
        kind = q.get("day_type", "weekday")
        if kind not in DAY_TYPES:
            raise ApiError(422, "BAD_FORMAT", f"day_type must be one of {', '.join(DAY_TYPES)}")
        charts = await asyncio.to_thread(render_charts, forecast, targets, rows, "svg", lang)
        if kind not in charts:
            raise ApiError(404, "DAY_TYPE_EMPTY", f"no {kind} with calls in the period")
        return web.Response(body=charts[kind], headers={"Content-Type": CONTENT_TYPES["svg"]})
    body = (render_csv(rows, lang) if fmt == "csv"
            else await asyncio.to_thread(render_xlsx, forecast, targets, rows, lang))
    return web.Response(body=body, headers={
        "Content-Type": CONTENT_TYPES[fmt],
        "Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


def setup_plan_routes(app: web.Application) -> None:
    app.router.add_get("/api/reports/plan", get_plan)


__all__ = ["setup_plan_routes"]
