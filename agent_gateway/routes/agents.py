"""The HTTP API of the ACD core: the agent roster, agents' states, dispositions,
voicemail. Who may use which route is in :mod:`agent_gateway.auth.access`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

import structlog
from aiohttp import web
from pydantic import Field, model_validator

from acd.domain import agents as domain
from agent_gateway.auth.principal import principal
from agent_gateway.http import ApiError, Body, accepts, parse_body
from agent_gateway.keys import (
    APPLY_ROSTER,
    CALL_RECORDS,
    CONTROLLER,
    ESCALATIONS,
    ROSTER,
    SITE,
    VOICEMAILS,
)

log = structlog.get_logger(__name__)

ESCALATION = "エスカレーション"


class MembershipBody(Body):
    queue: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    penalty: int = Field(default=0, ge=0, le=10)


class AgentBody(Body):
    id: str = Field(pattern=r"^[0-9]{3,8}$")
    name: str = Field(min_length=1, max_length=80)
    queues: list[MembershipBody] = Field(min_length=1)
    languages: list[Literal["ja", "en"]] = ["ja"]
    enabled: bool = True

    def profile(self) -> domain.AgentProfile:
        memberships = tuple(domain.Membership(m.queue, m.penalty) for m in self.queues)
        return domain.AgentProfile(self.id, self.name, memberships, tuple(self.languages),
                                   self.enabled)


class AwayBody(Body):
    reason: str


class CallbackBody(Body):
    """An escalation's callback request (折り返し): who, a number reachable in opening
    hours, what the city must answer, and which department."""

    name: str = Field(min_length=1, max_length=80)
    number: str = Field(pattern=r"^[0-9+()\- ]{3,32}$")
    question: str = Field(min_length=1, max_length=2000)
    department: str = Field(min_length=1, max_length=80)


class DispositionBody(Body):
    uniqueid: str
    outcome: Literal["完了", "取次", "転送", "エスカレーション", "その他"]
    category: str | None = Field(default=None, max_length=80)
    complaint: bool = False
    escalation: bool = False
    note: str = Field(default="", max_length=2000)
    faq_prescribed: bool = False
    callback: CallbackBody | None = None

    @model_validator(mode="after")
    def _callback_for_escalations(self) -> DispositionBody:
        if self.outcome == ESCALATION and self.callback is None:
            raise ValueError("an escalation needs a callback request ('callback': name, "
                             "number, question, department)")
        if self.outcome != ESCALATION and self.callback is not None:
            raise ValueError("a callback request goes with the outcome エスカレーション")
        return self


#: The parsed disposition body of a request (for what follows its acceptance).
DISPOSITION = web.RequestKey("disposition", DispositionBody)


class HandledBody(Body):
    by: str = Field(min_length=1, max_length=40)


def agent_json(state: domain.AgentState) -> dict:
    return {"id": state.id, "name": state.profile.name, "status": state.status.value,
            "reason": state.reason, "since": state.since, "call": state.call,
            "wrapup_deadline": state.wrapup_deadline,
            "queues": [{"queue": m.queue, "penalty": m.penalty} for m in state.profile.queues],
            "languages": list(state.profile.languages)}


async def list_agents(request: web.Request) -> web.Response:
    agents = list(request.app[CONTROLLER].agents.by_id.values())
    who = principal(request)
    if who.role == "agent":  # an agent sees only themselves
        agents = [a for a in agents if a.id == who.agent_id]
    return web.json_response([agent_json(a) for a in sorted(agents, key=lambda a: a.id)])


@accepts(AgentBody)
async def add_agent(request: web.Request) -> web.Response:
    body = await parse_body(request, AgentBody)
    await request.app[ROSTER].add(body.profile())
    await request.app[APPLY_ROSTER]()
    log.info("roster.agent_added", agent=body.id)
    return web.json_response(agent_json(request.app[CONTROLLER].agents.by_id[body.id]),
                             status=201)


@accepts(AgentBody)
async def update_agent(request: web.Request) -> web.Response:
    body = await parse_body(request, AgentBody)
    if body.id != request.match_info["agent"]:
        raise ApiError(422, "ID_MISMATCH", "the body's id differs from the URL's")
    current = request.app[CONTROLLER].agents.by_id.get(body.id)
    if current and current.status is not domain.Status.LOGGED_OUT and not body.enabled:
        raise ApiError(409, "AGENT_LOGGED_IN", f"agent {body.id} is logged in: log out first")
    await request.app[ROSTER].update(body.profile())
    await request.app[APPLY_ROSTER]()
    log.info("roster.agent_updated", agent=body.id)
    return web.json_response({"id": body.id, "enabled": body.enabled})


async def reload_roster(request: web.Request) -> web.Response:
    await request.app[APPLY_ROSTER]()
    return web.json_response({"agents": len(request.app[CONTROLLER].agents.by_id)})


AgentRequest = Callable[[web.Request, str], Awaitable[domain.Request]]


def _agent_request(make: AgentRequest) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A handler that submits ``make(request, agent)`` to the agent machine and answers
    the agent's state after it (a refusal is answered by its error id)."""
    async def handler(request: web.Request) -> web.Response:
        message = await make(request, request.match_info["agent"])
        return web.json_response(agent_json(await request.app[CONTROLLER].submit(message)))
    return handler


def _simple(cls: Callable[[str], domain.Request]
            ) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def make(request: web.Request, agent: str) -> domain.Request:
        return cls(agent)
    return _agent_request(make)


async def _away(request: web.Request, agent: str) -> domain.Request:
    return domain.SetAway(agent, (await parse_body(request, AwayBody)).reason)


async def _disposition(request: web.Request, agent: str) -> domain.Request:
    body = await parse_body(request, DispositionBody)
    site = request.app[SITE]() if SITE in request.app else None
    if site is not None and site.categories and body.category is not None \
            and body.category not in site.categories:
        raise ApiError(422, "CATEGORY_UNKNOWN", f"category {body.category!r} is not one of "
                       f"the flows' categories: {', '.join(site.categories)}",
                       {"field": "category", "categories": list(site.categories)})
    request[DISPOSITION] = body
    return domain.SubmitDisposition(agent, body.uniqueid, body.outcome, body.category,
                                    body.complaint, body.escalation or body.outcome == ESCALATION,
                                    body.note, body.faq_prescribed)


@accepts(DispositionBody)
async def submit_disposition(request: web.Request) -> web.Response:
    """The disposition; for an escalation, its callback request lands on the escalation
    list once the disposition is accepted."""
    response = await _agent_request(_disposition)(request)
    body = request[DISPOSITION]
    if body.callback is not None:
        line, caller = await _call_of(request, body.uniqueid)
        item = await request.app[ESCALATIONS].add(
            uniqueid=body.uniqueid, agent=request.match_info["agent"], line=line,
            caller=caller, callback_name=body.callback.name,
            callback_number=body.callback.number, question=body.callback.question,
            department=body.callback.department)
        log.info("escalation.added", id=item, uniqueid=body.uniqueid)
    return response


async def _call_of(request: web.Request, uniqueid: str) -> tuple[str | None, str | None]:
    call = request.app[CONTROLLER].calls.active.get(uniqueid)
    if call is not None:
        return call.line, call.caller
    return await request.app[CALL_RECORDS].line_and_caller(uniqueid)


async def list_voicemails(request: web.Request) -> web.Response:
    rows = await request.app[VOICEMAILS].list(unhandled=request.query.get("unhandled") == "1")
    log.info("personal_data.accessed", what="voicemails", count=len(rows),
             remote=request.remote)
    return web.json_response(rows)


@accepts(HandledBody)
async def mark_voicemail_handled(request: web.Request) -> web.Response:
    who = principal(request)
    # a signed-in user is who they are; the API token says who in the body
    by = who.user if not who.is_service else (await parse_body(request, HandledBody)).by
    uniqueid = request.match_info["uniqueid"]
    if not await request.app[VOICEMAILS].mark_handled(uniqueid, by):
        raise ApiError(404, "VOICEMAIL_UNKNOWN", "no such voicemail message")
    return web.json_response({"uniqueid": uniqueid, "handled_by": by})


def setup_agent_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/agents", list_agents)
    r.add_post("/api/agents", add_agent)
    r.add_put("/api/agents/{agent}", update_agent)
    r.add_post("/api/roster/reload", reload_roster)
    r.add_post("/api/agents/{agent}/login", _simple(domain.Login))
    r.add_post("/api/agents/{agent}/logout", _simple(domain.Logout))
    r.add_post("/api/agents/{agent}/ready", _simple(domain.SetReady))
    r.add_post("/api/agents/{agent}/wrapup/extend", _simple(domain.ExtendWrapup))
    r.add_post("/api/agents/{agent}/away", accepts(AwayBody)(_agent_request(_away)))
    r.add_post("/api/agents/{agent}/disposition", submit_disposition)
    r.add_get("/api/voicemails", list_voicemails)
    r.add_post("/api/voicemails/{uniqueid}/handled", mark_voicemail_handled)
