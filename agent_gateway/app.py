"""The agent gateway: a small aiohttp application beside the controller.

It serves the HTTP API of the ACD core (agents, states, dispositions, voicemail) and the
health of the stack; consoles build on it. It listens on loopback only by default.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from acd.adapters.db.roster import Roster
from acd.recordings.store import RecordingStore
from acd.runtime import Controller
from acd.services.event_line import EventLines
from agent_gateway.auth.middleware import authenticate
from agent_gateway.consoles.pages import setup_consoles
from agent_gateway.routes import ivr as ivr_api
from agent_gateway.routes.agents import (
    API_TOKEN,
    APPLY_ROSTER,
    CONTROLLER,
    ROSTER,
    ApiError,
    setup_routes,
)
from agent_gateway.routes.events import setup_event_routes
from agent_gateway.routes.recordings import setup_recording_routes
from agent_gateway.routes.reports import setup_report_routes

log = structlog.get_logger(__name__)


@web.middleware
async def error_middleware(request: web.Request, handler):
    """The one place that turns every failure into ``{error_id, message, details}``."""
    try:
        return await handler(request)
    except ApiError as exc:
        return web.json_response({"error_id": exc.error_id, "message": exc.message,
                                  "details": exc.details}, status=exc.status_code)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return web.json_response({"error_id": f"HTTP_{exc.status}", "message": exc.reason,
                                  "details": None}, status=exc.status)
    except Exception as exc:
        error_id = uuid.uuid4().hex[:12]
        log.exception("gateway.error", error_id=error_id, path=request.path)
        return web.json_response({"error_id": error_id, "message": "internal error",
                                  "details": type(exc).__name__}, status=500)


async def healthz(request: web.Request) -> web.Response:
    controller = request.app[CONTROLLER]
    body = {"ami_connected": controller.connected, "open_calls": len(controller.calls),
            "events_handled": controller.events_handled}
    return web.json_response(body, status=200 if controller.connected else 503)


def create_app(controller: Controller, roster: Roster, api_token: str,
               apply_roster: Callable[[], Awaitable[None]],
               apply_flows: ivr_api.ApplyFlows | None = None,
               event_lines: EventLines | None = None,
               recordings: RecordingStore | None = None,
               site: Callable[[], object] | None = None,
               auth_policy: object | None = None) -> web.Application:
    """``site``: the flows now (``() -> Site``), for the consoles; ``auth_policy``: the
    sign-in rules (acd.auth.policy.AuthPolicy; default from the settings' defaults)."""
    app = web.Application(middlewares=[error_middleware, authenticate])
    app[CONTROLLER] = controller
    app[ROSTER] = roster
    app[API_TOKEN] = api_token
    app[APPLY_ROSTER] = apply_roster
    app.router.add_get("/healthz", healthz)
    setup_routes(app)
    setup_report_routes(app, site=site, known_lines=None if site is None else (
        lambda: ({line.did for line in site().lines}, {q.name for q in site().queues})))
    setup_consoles(app, site, auth_policy)
    if apply_flows is not None:
        ivr_api.setup_routes(app, apply_flows)
    if event_lines is not None:
        setup_event_routes(app, event_lines)
    if recordings is not None:
        setup_recording_routes(app, recordings)
    return app
