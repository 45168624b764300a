"""The console pages (/agent, /supervisor, /viewer), their data routes and the live
socket (/ws). Which role reaches which is in agent_gateway.auth.access."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from aiohttp import web

from acd.domain.agents import OUTCOMES, STANDARD_AWAY_REASONS
from acd.domain.clock import JST
from acd.reports.scheduler import list_files
from agent_gateway.consoles.data import ConsoleData, state_json
from agent_gateway.consoles.live import LiveHub
from agent_gateway.consoles.render import STATIC, page
from agent_gateway.http import ApiError
from agent_gateway.keys import CONTROLLER, REPORTS_DIR, SESSION_KEY, SESSIONS, USERS

CONSOLE_DATA = web.AppKey("console_data", ConsoleData)
LIVE = web.AppKey("live_hub", LiveHub)

#: The scheduled report files a console lists (the newest first; all of them are in
#: GET /api/reports/files).
REPORT_FILES_SHOWN = 60

OUTCOME_KEYS = dict(zip(OUTCOMES, ("out_done", "out_handed", "out_transferred",
                                   "out_escalated", "out_other"), strict=True))


def _away_reasons(data: ConsoleData) -> dict[str, str]:
    site = data.site()
    return {**STANDARD_AWAY_REASONS, **(site.away_reasons if site else {})}


def _departments(data: ConsoleData) -> list[str]:
    site = data.site()
    transfers = getattr(site, "transfers", None)
    return sorted(transfers.departments) if transfers else []


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB" if n < 1024 * 1024 \
        else f"{n / 1024 / 1024:.1f} MB"


async def _report_files(request: web.Request) -> dict[str, Any]:
    """The scheduled report files (acd/reports/scheduler.py) for the 帳票 section."""
    directory = request.app.get(REPORTS_DIR)
    files = await asyncio.to_thread(list_files, directory) if directory is not None else []
    return {"report_files": [
        {"kind": f.kind, "period": f.period, "format": f.format.upper(), "size": _size(f.size),
         "written_at": datetime.fromtimestamp(f.written_at, JST).strftime("%Y-%m-%d %H:%M"),
         "url": f"/api/reports/files/{f.kind}/{f.name}", "name": f.name}
        for f in files[:REPORT_FILES_SHOWN]], "report_files_total": len(files)}


async def agent_page(request: web.Request) -> web.Response:
    data = request.app[CONSOLE_DATA]
    site = data.site()
    return page(request, "agent.html", outcomes=OUTCOME_KEYS,
                categories=list(site.categories) if site else [],
                away_reasons=_away_reasons(data), departments=_departments(data))


async def supervisor_page(request: web.Request) -> web.Response:
    data = request.app[CONSOLE_DATA]
    users = [u.id for u in await request.app[USERS].all()
             if u.enabled and u.role in ("supervisor", "admin", "viewer")]
    return page(request, "supervisor.html", away_reasons=_away_reasons(data),
                assignees=users, **await _report_files(request))


async def viewer_page(request: web.Request) -> web.Response:
    return page(request, "viewer.html", **await _report_files(request))


async def console_me(request: web.Request) -> web.Response:
    """The signed-in agent's state and the pop they have to dispose of (a reloaded page)."""
    agent = request[SESSION_KEY].user.agent_id
    if agent is None:
        raise ApiError(404, "NOT_AN_AGENT", "this user is not an agent of the roster")
    state = request.app[CONTROLLER].agents.by_id.get(agent)
    return web.json_response({"state": state_json(state) if state else None,
                              "pending": await request.app[LIVE].pending(agent)})


async def console_wallboard(request: web.Request) -> web.Response:
    return web.json_response(await request.app[CONSOLE_DATA].wallboard())


async def live_socket(request: web.Request) -> web.WebSocketResponse:
    return await request.app[LIVE].serve(request, request.get(SESSION_KEY),
                                         request.app[SESSIONS])


def setup_console_routes(app: web.Application, data: ConsoleData, hub: LiveHub) -> None:
    app[CONSOLE_DATA] = data
    app[LIVE] = hub
    r = app.router
    r.add_get("/agent", agent_page)
    r.add_get("/supervisor", supervisor_page)
    r.add_get("/viewer", viewer_page)
    r.add_get("/api/console/me", console_me)
    r.add_get("/api/console/wallboard", console_wallboard)
    r.add_get("/ws", live_socket)
    r.add_static("/static/", path=str(STATIC), name="static", append_version=True)
