"""The agent gateway: a small aiohttp application beside the controller.

It serves the HTTP API of the ACD core (agents, states, dispositions, calls, follow-up
lists, events, recordings, reports, flows), the consoles and their live socket, and the
health of the stack. It is given every service and store it uses
(:class:`GatewayServices`, built by the stack) and builds none itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from acd.adapters.db.access_log import AccessLog
from acd.adapters.db.call_records import CallRecords
from acd.adapters.db.escalations import EscalationStore
from acd.adapters.db.roster import Roster
from acd.adapters.db.sessions import SessionStore
from acd.adapters.db.staff_ratings import StaffRatings
from acd.adapters.db.users import UserStore
from acd.adapters.db.voicemails import VoicemailStore
from acd.auth.policy import AuthPolicy
from acd.ivr.models import Site
from acd.recordings.store import RecordingStore
from acd.runtime import Controller
from acd.services.call_controls import CallControls
from acd.services.emergency import EmergencySwitch
from acd.services.event_line import EventLines
from agent_gateway import keys
from agent_gateway.auth.middleware import allowed_sources, authenticate
from agent_gateway.auth.pages import setup_auth_routes
from agent_gateway.consoles.data import ConsoleData
from agent_gateway.consoles.live import LiveHub
from agent_gateway.consoles.pages import setup_console_routes
from agent_gateway.http import error_middleware
from agent_gateway.openapi import setup_openapi_route
from agent_gateway.routes.agents import setup_agent_routes
from agent_gateway.routes.calls import setup_call_routes
from agent_gateway.routes.emergency import setup_emergency_routes
from agent_gateway.routes.events import setup_event_routes
from agent_gateway.routes.followups import setup_followup_routes
from agent_gateway.routes.ivr import setup_ivr_routes
from agent_gateway.routes.plans import setup_plan_routes
from agent_gateway.routes.recordings import setup_recording_routes
from agent_gateway.routes.reports import setup_report_routes
from agent_gateway.routes.staff_ratings import setup_staff_rating_routes


@dataclass(frozen=True)
class GatewayServices:
    """Everything the gateway serves, built once by the composition root."""

    controller: Controller
    api_token: str
    roster: Roster
    #: async () -> None: the roster in the database becomes the running one
    apply_roster: Callable[[], Awaitable[None]]
    users: UserStore
    sessions: SessionStore
    access_log: AccessLog
    auth_policy: AuthPolicy
    escalations: EscalationStore
    staff_ratings: StaffRatings
    voicemails: VoicemailStore
    call_records: CallRecords
    #: () -> the flows now (None before any were loaded)
    site: Callable[[], Site | None]
    reports_dir: Path
    apply_flows: keys.ApplyFlows | None = None
    event_lines: EventLines | None = None
    emergency: EmergencySwitch | None = None
    recordings: RecordingStore | None = None
    call_controls: CallControls | None = None


async def healthz(request: web.Request) -> web.Response:
    controller = request.app[keys.CONTROLLER]
    body = {"ami_connected": controller.connected, "open_calls": len(controller.calls),
            "events_handled": controller.events_handled}
    return web.json_response(body, status=200 if controller.connected else 503)


def create_app(services: GatewayServices) -> web.Application:
    app = web.Application(middlewares=[error_middleware, allowed_sources, authenticate])
    s = services
    app[keys.CONTROLLER] = s.controller
    app[keys.API_TOKEN] = s.api_token
    app[keys.DATABASE] = s.roster.engine
    app[keys.ROSTER] = s.roster
    app[keys.APPLY_ROSTER] = s.apply_roster
    app[keys.SITE] = s.site
    app[keys.USERS] = s.users
    app[keys.SESSIONS] = s.sessions
    app[keys.ACCESS_LOG] = s.access_log
    app[keys.AUTH_POLICY] = s.auth_policy
    app[keys.ESCALATIONS] = s.escalations
    app[keys.STAFF_RATINGS] = s.staff_ratings
    app[keys.VOICEMAILS] = s.voicemails
    app[keys.CALL_RECORDS] = s.call_records
    app[keys.REPORTS_DIR] = s.reports_dir
    app.router.add_get("/healthz", healthz)
    setup_openapi_route(app)
    setup_agent_routes(app)
    setup_report_routes(app)
    setup_plan_routes(app)
    setup_auth_routes(app)
    setup_followup_routes(app)
    setup_staff_rating_routes(app)
    data = ConsoleData(s.controller, s.call_records, s.site)
    hub = LiveHub(data, s.access_log)
    setup_console_routes(app, data, hub)
    app.cleanup_ctx.append(_live_updates(s.controller, hub))
    if s.apply_flows is not None:
        app[keys.APPLY_FLOWS] = s.apply_flows
        setup_ivr_routes(app)
    if s.event_lines is not None:
        app[keys.EVENT_LINES] = s.event_lines
        setup_event_routes(app)
    if s.emergency is not None:
        app[keys.EMERGENCY] = s.emergency
        setup_emergency_routes(app)
    if s.recordings is not None:
        app[keys.RECORDING_STORE] = s.recordings
    if s.controller.on_demand is not None:
        app[keys.ON_DEMAND] = s.controller.on_demand
    setup_recording_routes(app)
    if s.call_controls is not None:
        app[keys.CALL_CONTROLS] = s.call_controls
        setup_call_routes(app)
    return app


def _live_updates(controller: Controller, hub: LiveHub
                  ) -> Callable[[web.Application], AsyncIterator[None]]:
    """The live hub hears the event log while the gateway runs."""
    async def live(app: web.Application) -> AsyncIterator[None]:
        controller.event_log.subscribe(hub.listener)
        task = asyncio.create_task(hub.run(), name="live-hub")
        yield
        controller.event_log.unsubscribe(hub.listener)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return live
