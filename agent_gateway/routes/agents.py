"""The HTTP API of the ACD core: the agent roster, agents' states, dispositions,
voicemail. Every route needs the API token (``Authorization: Bearer ...``)."""

from __future__ import annotations

import hmac
import time
from typing import Literal

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select, update

from acd.adapters.db.escalations import EscalationStore
from acd.adapters.db.roster import Roster, RosterError
from acd.adapters.db.schema import call_records, voicemails
from acd.domain import agents as domain
from acd.runtime import Controller, RequestRejected
from agent_gateway.auth.principal import PRINCIPAL_KEY, SERVICE, principal

log = structlog.get_logger(__name__)

CONTROLLER = web.AppKey("controller", Controller)
ROSTER = web.AppKey("roster", Roster)
API_TOKEN = web.AppKey("api_token", str)
APPLY_ROSTER = web.AppKey("apply_roster", object)  # async () -> None
ESCALATIONS = web.AppKey("escalations", EscalationStore)
ESCALATION = "エスカレーション"
#: The parsed disposition body of a request (for what follows its acceptance).
DISPOSITION = web.RequestKey("disposition", object)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
        return domain.AgentProfile(self.id, self.name,
                                   tuple(domain.Membership(m.queue, m.penalty) for m in self.queues),
                                   tuple(self.languages), self.enabled)


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


class HandledBody(Body):
    by: str = Field(min_length=1, max_length=40)


class ApiError(web.HTTPException):
    """An error the client can act on: rendered as {error_id, message, details}."""

    def __init__(self, status: int, error_id: str, message: str, details: object = None):
        self.status_code = status
        super().__init__(reason=message)
        self.error_id, self.message, self.details = error_id, message, details


async def _body(request: web.Request, model: type[Body]) -> Body:
    try:
        data = await request.json()
    except ValueError:
        raise ApiError(400, "BAD_JSON", "the body is not JSON") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "INVALID_BODY", "the body is not valid",
                       [{"field": ".".join(map(str, e["loc"])), "problem": e["msg"]}
                        for e in exc.errors()]) from None


@web.middleware
async def require_token(request: web.Request, handler):
    if request.path.startswith("/api/"):
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), request.app[API_TOKEN].encode()):
            raise ApiError(401, "UNAUTHENTICATED", "a valid API token is required")
        request[PRINCIPAL_KEY] = SERVICE
    return await handler(request)


def _state_json(state: domain.AgentState) -> dict:
    return {"id": state.id, "name": state.profile.name, "status": state.status.value,
            "reason": state.reason, "since": state.since, "call": state.call,
            "wrapup_deadline": state.wrapup_deadline,
            "queues": [{"queue": m.queue, "penalty": m.penalty} for m in state.profile.queues],
            "languages": list(state.profile.languages)}


async def list_agents(request: web.Request) -> web.Response:
    agents = request.app[CONTROLLER].agents.by_id.values()
    who = principal(request)
    if who.role == "agent":  # an agent sees only themselves
        agents = [a for a in agents if a.id == who.agent_id]
    return web.json_response([_state_json(a) for a in sorted(agents, key=lambda a: a.id)])


async def add_agent(request: web.Request) -> web.Response:
    body = await _body(request, AgentBody)
    try:
        await request.app[ROSTER].add(body.profile())
    except RosterError as exc:
        raise ApiError(409, exc.error_id, str(exc)) from None
    await request.app[APPLY_ROSTER]()
    log.info("roster.agent_added", agent=body.id)
    return web.json_response(_state_json(request.app[CONTROLLER].agents.by_id[body.id]),
                             status=201)


async def update_agent(request: web.Request) -> web.Response:
    body = await _body(request, AgentBody)
    if body.id != request.match_info["agent"]:
        raise ApiError(422, "ID_MISMATCH", "the body's id differs from the URL's")
    current = request.app[CONTROLLER].agents.by_id.get(body.id)
    if current and current.status is not domain.Status.LOGGED_OUT and not body.enabled:
        raise ApiError(409, "AGENT_LOGGED_IN", f"agent {body.id} is logged in: log out first")
    try:
        await request.app[ROSTER].update(body.profile())
    except RosterError as exc:
        raise ApiError(404, exc.error_id, str(exc)) from None
    await request.app[APPLY_ROSTER]()
    log.info("roster.agent_updated", agent=body.id)
    return web.json_response({"id": body.id, "enabled": body.enabled})


async def reload_roster(request: web.Request) -> web.Response:
    await request.app[APPLY_ROSTER]()
    return web.json_response({"agents": len(request.app[CONTROLLER].agents.by_id)})


def _agent_request(make):
    async def handler(request: web.Request) -> web.Response:
        agent = request.match_info["agent"]
        message = await make(request, agent)
        try:
            state = await request.app[CONTROLLER].submit(message)
        except RequestRejected as exc:
            status = 404 if exc.error_id == "AGENT_UNKNOWN" else 409
            raise ApiError(status, exc.error_id, str(exc)) from None
        return web.json_response(_state_json(state))
    return handler


async def _away(request, agent):
    return domain.SetAway(agent, (await _body(request, AwayBody)).reason)


async def _disposition(request, agent):
    body = await _body(request, DispositionBody)
    request[DISPOSITION] = body
    return domain.SubmitDisposition(agent, body.uniqueid, body.outcome, body.category,
                                    body.complaint, body.escalation or body.outcome == ESCALATION,
                                    body.note, body.faq_prescribed)


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
    async with request.app[ROSTER].engine.connect() as conn:
        row = (await conn.execute(select(call_records.c.line, call_records.c.caller).where(
            call_records.c.uniqueid == uniqueid))).first()
    return (row[0], row[1]) if row else (None, None)


async def list_voicemails(request: web.Request) -> web.Response:
    engine = request.app[ROSTER].engine
    query = select(voicemails).order_by(voicemails.c.left_at.desc()).limit(200)
    if request.query.get("unhandled") == "1":
        query = query.where(voicemails.c.handled_at.is_(None))
    async with engine.connect() as conn:
        rows = [dict(r) for r in (await conn.execute(query)).mappings().all()]
    log.info("personal_data.accessed", what="voicemails", count=len(rows),
             remote=request.remote)
    return web.json_response(rows)


async def mark_voicemail_handled(request: web.Request) -> web.Response:
    who = principal(request)
    # a signed-in user is who they are; the API token says who in the body
    by = who.user if not who.is_service else (await _body(request, HandledBody)).by
    async with request.app[ROSTER].engine.begin() as conn:
        done = await conn.execute(update(voicemails).where(
            voicemails.c.uniqueid == request.match_info["uniqueid"]).values(
            handled_at=time.time(), handled_by=by))
    if done.rowcount == 0:
        raise ApiError(404, "VOICEMAIL_UNKNOWN", "no such voicemail message")
    return web.json_response({"uniqueid": request.match_info["uniqueid"], "handled_by": by})


def setup_routes(app: web.Application) -> None:
    def simple(cls):
        async def make(request, agent):
            return cls(agent)
        return _agent_request(make)

    r = app.router
    r.add_get("/api/agents", list_agents)
    r.add_post("/api/agents", add_agent)
    r.add_put("/api/agents/{agent}", update_agent)
    r.add_post("/api/roster/reload", reload_roster)
    r.add_post("/api/agents/{agent}/login", simple(domain.Login))
    r.add_post("/api/agents/{agent}/logout", simple(domain.Logout))
    r.add_post("/api/agents/{agent}/ready", simple(domain.SetReady))
    r.add_post("/api/agents/{agent}/wrapup/extend", simple(domain.ExtendWrapup))
    r.add_post("/api/agents/{agent}/away", _agent_request(_away))
    r.add_post("/api/agents/{agent}/disposition", submit_disposition)
    r.add_get("/api/voicemails", list_voicemails)
    r.add_post("/api/voicemails/{uniqueid}/handled", mark_voicemail_handled)
