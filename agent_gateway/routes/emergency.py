"""The emergency switch's part of the HTTP API (supervisors and admins):

- ``GET    /api/emergency`` -- the switches in force and the lines they can cover
- ``POST   /api/emergency`` -- ``{line: <number> | "all", mode?, prompt | text,
  language?, until?, by?}``: put the line (or every line) on the announcement; 201
- ``DELETE /api/emergency/{line}?by=<who>`` -- take it off
- ``GET    /api/emergency/history?limit=N`` -- every switch, latest first (the audit trail)

Who switched is the signed-in user; with the API token (the CLI, scripts) ``by`` names
the person. The answer's ``written`` says whether Asterisk has it already (false:
Asterisk is unreachable now; it is written when the controller reconnects).
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import Field, model_validator

from acd.domain.emergency import MODES, Emergency
from agent_gateway.auth.principal import principal
from agent_gateway.http import ApiError, Body, accepts, parse_body
from agent_gateway.keys import EMERGENCY

WHO = Field(default=None, min_length=1, max_length=80)


class SwitchOn(Body):
    line: str = Field(min_length=1, max_length=32, description='a line\'s number, or "all"')
    mode: str = Field(default="continue", description=" | ".join(MODES))
    prompt: str | None = Field(default=None, max_length=80)
    text: str | None = Field(default=None, min_length=1, max_length=300)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2}$")
    until: datetime | None = Field(default=None, description="end time, with its zone")
    by: str | None = WHO

    @model_validator(mode="after")
    def _one_announcement(self) -> SwitchOn:
        if (self.prompt is None) == (self.text is None):
            raise ValueError("give exactly one of 'prompt' (a prompt of the flows) and "
                             "'text' (spoken by synthesis)")
        if self.until is not None and self.until.tzinfo is None:
            raise ValueError("'until' needs its time zone, e.g. 2026-12-04T18:00+09:00")
        return self


def switch_json(switch: Emergency) -> dict:
    return {"id": switch.id, "line": switch.scope, "mode": switch.mode,
            "prompt": switch.prompt, "text": switch.text, "language": switch.language,
            "until": switch.until, "on_by": switch.on_by, "on_at": switch.on_at,
            "off_by": switch.off_by, "off_at": switch.off_at}


def _who(request: web.Request, given: str | None) -> str:
    actor = principal(request)
    if actor.is_service:
        if not given:
            raise ApiError(422, "WHO_MISSING", "say who switches: 'by' (1 to 80 characters)")
        return given
    return actor.user


async def in_force(request: web.Request) -> web.Response:
    switch = request.app[EMERGENCY]
    return web.json_response({"in_force": [switch_json(s) for s in await switch.in_force()],
                              "lines": sorted(switch.lines())})


@accepts(SwitchOn)
async def switch_on(request: web.Request) -> web.Response:
    body = await parse_body(request, SwitchOn)
    switch, written = await request.app[EMERGENCY].switch_on(
        body.line, _who(request, body.by), mode=body.mode, prompt=body.prompt,
        text=body.text, language=body.language,
        until=body.until.timestamp() if body.until else None)
    return web.json_response({**switch_json(switch), "written": written}, status=201)


async def switch_off(request: web.Request) -> web.Response:
    by = request.query.get("by", "").strip() or None
    switch, written = await request.app[EMERGENCY].switch_off(
        request.match_info["line"], _who(request, by))
    return web.json_response({**switch_json(switch), "written": written})


async def history(request: web.Request) -> web.Response:
    raw = request.query.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise ApiError(422, "INVALID_LIMIT", f"limit {raw!r} must be 1 to 1000")
    switches = await request.app[EMERGENCY].store.history(int(raw))
    return web.json_response({"switches": [switch_json(s) for s in switches]})


def setup_emergency_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/emergency", in_force)
    r.add_post("/api/emergency", switch_on)
    r.add_get("/api/emergency/history", history)
    r.add_delete("/api/emergency/{line}", switch_off)
