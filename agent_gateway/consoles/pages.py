"""The console pages (/agent, /supervisor, /viewer), their data routes and the live
socket (/ws). Which role reaches which is in agent_gateway.auth.access."""

from __future__ import annotations

import asyncio
from datetime import datetime

from aiohttp import web

from acd.domain.agents import OUTCOMES, STANDARD_AWAY_REASONS
from acd.domain.clock import JST
from acd.reports.scheduler import list_files
from agent_gateway.auth.middleware import SESSION_KEY, SESSIONS, USERS
from agent_gateway.consoles.data import ConsoleData, state_json
from agent_gateway.consoles.live import LiveHub
from agent_gateway.consoles.render import page
from agent_gateway.routes.agents import CONTROLLER
from agent_gateway.routes.reports import REPORTS_DIR

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


async def _report_files(request: web.Request) -> dict:
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
    session = request[SESSION_KEY]
    agent = session.user.agent_id
    state = request.app[CONTROLLER].agents.by_id.get(agent)
    return web.json_response({"state": state_json(state) if state else None,
                              "pending": await request.app[LIVE].pending(agent)})


async def console_wallboard(request: web.Request) -> web.Response:
    return web.json_response(await request.app[CONSOLE_DATA].wallboard())


async def live_socket(request: web.Request) -> web.WebSocketResponse:
    return await request.app[LIVE].serve(request, request.app[SESSIONS])


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
    r.add_static("/static/", path=str(data_static()), name="static", append_version=True)


def data_static():
    from agent_gateway.consoles.render import STATIC

    return STATIC


def setup_consoles(app: web.Application, site=None, policy=None) -> None:
    """Sign-in, sessions, the consoles, the follow-up lists and the live socket.

    ``site``: ``() -> Site`` (the flows now: line names, categories, away reasons);
    ``policy``: the :class:`AuthPolicy` (default: 30 min idle, 12 h, 5 failures)."""
    from acd.adapters.db.access_log import AccessLog
    from acd.adapters.db.escalations import EscalationStore
    from acd.adapters.db.sessions import SessionStore
    from acd.adapters.db.users import UserStore
    from acd.auth.policy import AuthPolicy
    from agent_gateway.auth.middleware import ACCESS_LOG, AUTH_POLICY
    from agent_gateway.auth.pages import setup_auth_routes
    from agent_gateway.routes.agents import ESCALATIONS, ROSTER
    from agent_gateway.routes.followups import setup_followup_routes

    policy = policy or AuthPolicy()
    engine = app[ROSTER].engine
    access = AccessLog(engine)
    app[AUTH_POLICY] = policy
    app[ACCESS_LOG] = access
    app[USERS] = UserStore(engine, policy, access)
    app[SESSIONS] = SessionStore(engine, policy)
    app[ESCALATIONS] = EscalationStore(engine)
    controller = app[CONTROLLER]
    data = ConsoleData(controller, engine, site or (lambda: None))
    hub = LiveHub(data, access)
    setup_auth_routes(app)
    setup_followup_routes(app)
    setup_console_routes(app, data, hub)

    async def live(app: web.Application):
        import asyncio
        import contextlib

        controller.event_log.subscribe(hub.listener)
        task = asyncio.create_task(hub.run(), name="live-hub")
        yield
        controller.event_log.unsubscribe(hub.listener)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(live)
