"""The follow-up lists: escalations (callback requests) and voicemail messages --
listed, assigned, marked handled, exported as CSV (UTF-8 with BOM, for Excel).

    GET  /api/escalations[?unhandled=1]        supervisors, admins, viewers (read only)
    GET  /api/escalations.csv[?unhandled=1]
    POST /api/escalations/{id}/handled          supervisors, admins
    POST /api/escalations/{id}/assign  {"to": "<login>" | null}
    POST /api/voicemails/{uniqueid}/assign  {"to": ...}
    GET  /api/voicemails.csv[?unhandled=1]

Every read is personal data and lands in the access log (see agent_gateway.auth.access).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from aiohttp import web
from pydantic import Field

from acd.domain.clock import JST
from agent_gateway.auth.principal import principal
from agent_gateway.http import ApiError, Body, accepts, parse_body, path_id
from agent_gateway.keys import ESCALATIONS, VOICEMAILS

#: The most messages one CSV export holds.
CSV_ROWS = 5000


class AssignBody(Body):
    to: str | None = Field(default=None, max_length=40)


def _when(t: float | None) -> str:
    return datetime.fromtimestamp(t, UTC).astimezone(JST).strftime("%Y-%m-%d %H:%M") \
        if t else ""


def _csv(name: str, header: list[str], rows: list[list[object]]) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return web.Response(body=("\ufeff" + out.getvalue()).encode("utf-8"),
                        content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def list_escalations(request: web.Request) -> web.Response:
    items = await request.app[ESCALATIONS].list(unhandled=request.query.get("unhandled") == "1")
    return web.json_response(items)


async def escalations_csv(request: web.Request) -> web.Response:
    items = await request.app[ESCALATIONS].list(unhandled=request.query.get("unhandled") == "1")
    header = ["id", "受付日時", "オペレーター", "着信回線", "発信者番号", "お名前", "連絡先",
              "回答すべき内容", "担当課", "担当者", "対応日時", "対応者"]
    rows = [[e["id"], _when(e["created_at"]), e["agent"], e["line"] or "", e["caller"] or "",
             e["callback_name"], e["callback_number"], e["question"], e["department"],
             e["assigned_to"] or "", _when(e["handled_at"]), e["handled_by"] or ""]
            for e in items]
    return _csv(f"escalations-{datetime.now(JST):%Y%m%d}.csv", header, rows)


def _item(request: web.Request) -> int:
    return path_id(request, "ESCALATION_UNKNOWN", "escalation")


async def escalation_handled(request: web.Request) -> web.Response:
    who = principal(request)
    if not await request.app[ESCALATIONS].mark_handled(_item(request), who.user):
        raise ApiError(404, "ESCALATION_UNKNOWN", "no such escalation")
    return web.json_response({"id": _item(request), "handled_by": who.user})


@accepts(AssignBody)
async def escalation_assign(request: web.Request) -> web.Response:
    body = await parse_body(request, AssignBody)
    if not await request.app[ESCALATIONS].assign(_item(request), body.to or None):
        raise ApiError(404, "ESCALATION_UNKNOWN", "no such escalation")
    return web.json_response({"id": _item(request), "assigned_to": body.to or None})


@accepts(AssignBody)
async def voicemail_assign(request: web.Request) -> web.Response:
    body = await parse_body(request, AssignBody)
    if not await request.app[VOICEMAILS].assign(request.match_info["uniqueid"], body.to or None):
        raise ApiError(404, "VOICEMAIL_UNKNOWN", "no such voicemail message")
    return web.json_response({"uniqueid": request.match_info["uniqueid"],
                              "assigned_to": body.to or None})


async def voicemails_csv(request: web.Request) -> web.Response:
    items = await request.app[VOICEMAILS].list(unhandled=request.query.get("unhandled") == "1",
                                               limit=CSV_ROWS)
    header = ["uniqueid", "受付日時", "着信回線", "キュー", "発信者番号", "秒数", "担当者",
              "対応日時", "対応者"]
    rows = [[v["uniqueid"], _when(v["left_at"]), v["line"], v["queue"], v["caller"],
             v["seconds"], v["assigned_to"] or "", _when(v["handled_at"]),
             v["handled_by"] or ""] for v in items]
    return _csv(f"voicemails-{datetime.now(JST):%Y%m%d}.csv", header, rows)


def setup_followup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/escalations", list_escalations)
    r.add_get("/api/escalations.csv", escalations_csv)
    r.add_post("/api/escalations/{id}/handled", escalation_handled)
    r.add_post("/api/escalations/{id}/assign", escalation_assign)
    r.add_post("/api/voicemails/{uniqueid}/assign", voicemail_assign)
    r.add_get("/api/voicemails.csv", voicemails_csv)


__all__ = ["setup_followup_routes"]
