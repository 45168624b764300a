"""HTTP API of the call controls (acd/services/call_controls.py) and supervisors'
forced states.

    GET    /api/calls/{uniqueid}/channels            caller, agent, third party, listeners
    POST   /api/calls/{uniqueid}/transfer            {"target": "<number or department>",
                                                      "mode": "blind"|"attended"}
    POST   /api/calls/{uniqueid}/transfer/complete   attended: the target answered; join
                                                      caller and target
    POST   /api/calls/{uniqueid}/conference          {"target": ...}: add a third party
                                                      (interpreter)
    DELETE /api/calls/{uniqueid}/conference          drop it; caller and agent stay
    POST   /api/calls/{uniqueid}/hold                {"on": true|false}
    POST   /api/calls/{uniqueid}/monitor             {"mode": "listen"|"whisper"|"barge",
                                                      "extension": "<phone>"}
    POST   /api/agents/{id}/force                    {"action": "away"|"logout",
                                                      "reason": "..."}

An operator may control only their own call; supervisors and admins any call. Listening
and forcing an agent's state are for supervisors and admins. A target outside the
allow-list is refused with 403 ``TRANSFER_NOT_ALLOWED``; every request, refused or not, is
in the event log with who asked.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any, Literal

from aiohttp import web
from pydantic import Field

from acd.domain import agents as domain
from acd.runtime import RequestRejected
from agent_gateway.auth.principal import principal
from agent_gateway.http import ApiError, Body, accepts, parse_body
from agent_gateway.keys import CALL_CONTROLS, CONTROLLER
from agent_gateway.routes.agents import agent_json

TARGET = Field(min_length=2, max_length=40)


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


async def _answer(work: Awaitable[dict[str, Any]]) -> web.Response:
    return web.json_response(await work)


def _uniqueid(request: web.Request) -> str:
    return request.match_info["uniqueid"]


async def show(request: web.Request) -> web.Response:
    who = principal(request)
    return await _answer(request.app[CALL_CONTROLS].show(_uniqueid(request), who))


@accepts(TransferBody)
async def transfer(request: web.Request) -> web.Response:
    who = principal(request)
    body = await parse_body(request, TransferBody)
    return await _answer(request.app[CALL_CONTROLS].transfer(
        _uniqueid(request), body.target, body.mode, who))


async def complete_transfer(request: web.Request) -> web.Response:
    who = principal(request)
    return await _answer(request.app[CALL_CONTROLS].complete_transfer(
        _uniqueid(request), who))


@accepts(ConferenceBody)
async def add_party(request: web.Request) -> web.Response:
    who = principal(request)
    body = await parse_body(request, ConferenceBody)
    return await _answer(request.app[CALL_CONTROLS].add_party(
        _uniqueid(request), body.target, who))


async def drop_party(request: web.Request) -> web.Response:
    who = principal(request)
    return await _answer(request.app[CALL_CONTROLS].drop_party(
        _uniqueid(request), who))


@accepts(HoldBody)
async def hold(request: web.Request) -> web.Response:
    who = principal(request)
    body = await parse_body(request, HoldBody)
    return await _answer(request.app[CALL_CONTROLS].hold(
        _uniqueid(request), body.on, who))


@accepts(MonitorBody)
async def monitor(request: web.Request) -> web.Response:
    who = principal(request)
    body = await parse_body(request, MonitorBody)
    return await _answer(request.app[CALL_CONTROLS].monitor(
        _uniqueid(request), body.mode, body.extension, who))


@accepts(ForceBody)
async def force(request: web.Request) -> web.Response:
    who = principal(request)
    body = await parse_body(request, ForceBody)
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
        raise
    await controller.event_log.append("AgentForced", time.time(), None, entry)
    return web.json_response(agent_json(state))


def setup_call_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/calls/{uniqueid}/channels", show)
    r.add_post("/api/calls/{uniqueid}/transfer", transfer)
    r.add_post("/api/calls/{uniqueid}/transfer/complete", complete_transfer)
    r.add_post("/api/calls/{uniqueid}/conference", add_party)
    r.add_delete("/api/calls/{uniqueid}/conference", drop_party)
    r.add_post("/api/calls/{uniqueid}/hold", hold)
    r.add_post("/api/calls/{uniqueid}/monitor", monitor)
    r.add_post("/api/agents/{agent}/force", force)
