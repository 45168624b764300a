"""HTTP API of the call controls (acd/call_controls.py) and supervisors' forced states.

    GET    /api/calls/{uniqueid}/channels                        caller, agent, third party, listeners
    POST   /api/calls/{uniqueid}/transfer    {"target": "<number or department>", "mode": "blind"|"attended"}
    POST   /api/calls/{uniqueid}/transfer/complete               attended: the target answered; join caller and target
    POST   /api/calls/{uniqueid}/conference  {"target": ...}     add a third party (interpreter)
    DELETE /api/calls/{uniqueid}/conference                      drop it; caller and agent stay
    POST   /api/calls/{uniqueid}/hold        {"on": true|false}
    POST   /api/calls/{uniqueid}/monitor     {"mode": "listen"|"whisper"|"barge", "extension": "<phone>"}
    POST   /api/agents/{id}/force            {"action": "away"|"logout", "reason": "..."}

An operator may control only their own call; supervisors and admins any call. Listening
and forcing an agent's state are for supervisors and admins. A target outside the
allow-list is refused with 403 ``TRANSFER_NOT_ALLOWED``; every request, refused or not, is
in the event log with who asked.
"""

from __future__ import annotations

import time
from typing import Literal

from aiohttp import web
from pydantic import Field

from acd.domain import agents as domain
from acd.domain.actor import Actor
from acd.runtime import RequestRejected
from acd.services.call_controls import CallControlError, CallControls
from agent_gateway.auth.principal import require_role
from agent_gateway.routes.agents import CONTROLLER, ApiError, Body, _body, _state_json

CALL_CONTROLS = web.AppKey("call_controls", CallControls)

TARGET = Field(min_length=2, max_length=40)

#: The HTTP status of each call-control error id (acd.services.call_controls).
CALL_CONTROL_ERROR_STATUS: dict[str, int] = {
    "CALL_UNKNOWN": 404,
    "NOT_YOUR_CALL": 403,
    "TRANSFER_NOT_ALLOWED": 403,
    "CALL_NOT_CONNECTED": 409,
    "NO_ATTENDED_TRANSFER": 409,
    "TRANSFER_ENDED": 409,
    "TRANSFER_NOT_ANSWERED": 409,
    "NO_THIRD_PARTY": 409,
    "HOLD_UNCHANGED": 409,
    "EXTENSION_UNKNOWN": 422,
    "EXTENSION_IS_AGENT": 422,
    "ASTERISK_REFUSED": 502,
}


class TransferBody(Body):
    target: str = TARGET
    mode: Literal["blind", "attended"] = "blind"


class ConferenceBody(Body):
    target: str = TARGET


class HoldBody(Body):
    on: bool


class MonitorBody(Body):
    mode: Literal["listen", "whisper", "barge"]
    extension: str = Field(pattern=r"^[0-9]{3,8}$")


class ForceBody(Body):
    action: Literal["away", "logout"]
    #: away: one of the away reasons (required); logout: free text for the log
    reason: str | None = Field(default=None, min_length=1, max_length=40)


def _who(request: web.Request, *roles) -> Actor:
    who = require_role(request, *roles)
    return Actor(who.user, who.role, who.agent_id)


async def _carry_out(work) -> web.Response:
    try:
        return web.json_response(await work)
    except CallControlError as exc:
        raise ApiError(CALL_CONTROL_ERROR_STATUS.get(exc.error_id, 500), exc.error_id,
                       exc.message, exc.details) from None


async def show(request: web.Request) -> web.Response:
    who = _who(request, "agent", "supervisor", "admin")
    return await _carry_out(request.app[CALL_CONTROLS].show(request.match_info["uniqueid"], who))


async def transfer(request: web.Request) -> web.Response:
    who = _who(request, "agent", "supervisor", "admin")
    body = await _body(request, TransferBody)
    return await _carry_out(request.app[CALL_CONTROLS].transfer(
        request.match_info["uniqueid"], body.target, body.mode, who))


async def complete_transfer(request: web.Request) -> web.Response:
    who = _who(request, "agent", "supervisor", "admin")
    return await _carry_out(request.app[CALL_CONTROLS].complete_transfer(
        request.match_info["uniqueid"], who))


async def add_party(request: web.Request) -> web.Response:
    who = _who(request, "agent", "supervisor", "admin")
    body = await _body(request, ConferenceBody)
    return await _carry_out(request.app[CALL_CONTROLS].add_party(
        request.match_info["uniqueid"], body.target, who))


async def drop_party(request: web.Request) -> web.Response:
    who = _who(request, "agent", "supervisor", "admin")
    return await _carry_out(request.app[CALL_CONTROLS].drop_party(
        request.match_info["uniqueid"], who))


async def hold(request: web.Request) -> web.Response:
    who = _who(request, "agent", "supervisor", "admin")
    body = await _body(request, HoldBody)
    return await _carry_out(request.app[CALL_CONTROLS].hold(
        request.match_info["uniqueid"], body.on, who))


async def monitor(request: web.Request) -> web.Response:
    who = _who(request, "supervisor", "admin")
    body = await _body(request, MonitorBody)
    return await _carry_out(request.app[CALL_CONTROLS].monitor(
        request.match_info["uniqueid"], body.mode, body.extension, who))


async def force(request: web.Request) -> web.Response:
    who = _who(request, "supervisor", "admin")
    body = await _body(request, ForceBody)
    agent = request.match_info["agent"]
    controller = request.app[CONTROLLER]
    if body.action == "away" and body.reason is None:
        # the away reason is what the reports count the time under: never guessed
        raise ApiError(422, "REASON_REQUIRED", "forcing an agent away needs an away "
                       "reason (break, training, meeting, admin or the site's own)")
    reason = body.reason or "supervisor"
    message = (domain.SetAway(agent, reason) if body.action == "away"
               else domain.Logout(agent))
    entry = {"agent": agent, "action": body.action, "reason": reason, "by": who.user,
             "role": who.role}
    try:
        state = await controller.submit(message)
    except RequestRejected as exc:
        await controller.event_log.append("AgentForceRefused", time.time(), None,
                                          {**entry, "error_id": exc.error_id})
        status = 404 if exc.error_id == "AGENT_UNKNOWN" else 409
        raise ApiError(status, exc.error_id, str(exc)) from None
    await controller.event_log.append("AgentForced", time.time(), None, entry)
    return web.json_response(_state_json(state))


def setup_call_routes(app: web.Application, controls: CallControls) -> None:
    app[CALL_CONTROLS] = controls
    r = app.router
    r.add_get("/api/calls/{uniqueid}/channels", show)
    r.add_post("/api/calls/{uniqueid}/transfer", transfer)
    r.add_post("/api/calls/{uniqueid}/transfer/complete", complete_transfer)
    r.add_post("/api/calls/{uniqueid}/conference", add_party)
    r.add_delete("/api/calls/{uniqueid}/conference", drop_party)
    r.add_post("/api/calls/{uniqueid}/hold", hold)
    r.add_post("/api/calls/{uniqueid}/monitor", monitor)
    r.add_post("/api/agents/{agent}/force", force)
