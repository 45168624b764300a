"""The event-information line's part of the HTTP API: staff list, add, change and delete
the events of a day (Tokyo date) on an events list (a line's ``events:`` name).

- ``GET    /api/event-statuses`` -- the statuses of the flows (id -> prompt name)
- ``GET    /api/events/{events}?date=YYYY-MM-DD`` -- the day's items (default: today)
- ``POST   /api/events/{events}`` -- ``{date?, position?, title_prompt | title_text,
  status, by}``; 201
- ``PATCH  /api/events/{events}/{id}`` -- ``{status?, position?, title_prompt?,
  title_text?, by}``
- ``DELETE /api/events/{events}/{id}?by=<who>``

Every change is in the database first, then pushed to Asterisk; the answer's ``pushed``
says whether callers hear it already (false: Asterisk is unreachable now; the change is
pushed when the controller reconnects). Errors are ``{error_id, message, details}``.
"""

from __future__ import annotations

from datetime import date

from aiohttp import web
from pydantic import Field, model_validator

from acd.domain.clock import tokyo_today
from acd.domain.event_info import EventItem
from agent_gateway.http import ApiError, Body, accepts, parse_body, path_id
from agent_gateway.keys import EVENT_LINES

STATUS_ID = r"^[a-z][a-z0-9_-]{0,39}$"


class NewEvent(Body):
    day: date | None = Field(default=None, alias="date", description="Tokyo date; "
                             "default today")
    position: int | None = Field(default=None, ge=1, le=999)
    title_prompt: str | None = Field(default=None, max_length=80)
    title_text: str | None = Field(default=None, min_length=1, max_length=200)
    status: str = Field(pattern=STATUS_ID)
    by: str = Field(min_length=1, max_length=40)

    @model_validator(mode="after")
    def _one_title(self) -> NewEvent:
        if (self.title_prompt is None) == (self.title_text is None):
            raise ValueError("give exactly one of 'title_prompt' (a prompt of the flows) "
                             "and 'title_text' (spoken by synthesis)")
        return self


class EventChange(Body):
    position: int | None = Field(default=None, ge=1, le=999)
    title_prompt: str | None = Field(default=None, max_length=80)
    title_text: str | None = Field(default=None, min_length=1, max_length=200)
    status: str | None = Field(default=None, pattern=STATUS_ID)
    by: str = Field(min_length=1, max_length=40)

    @model_validator(mode="after")
    def _something(self) -> EventChange:
        if self.title_prompt is not None and self.title_text is not None:
            raise ValueError("give at most one of 'title_prompt' and 'title_text'")
        if all(v is None for v in (self.position, self.title_prompt, self.title_text,
                                   self.status)):
            raise ValueError("nothing to change: give 'status', 'position', "
                             "'title_prompt' or 'title_text'")
        return self


def item_json(item: EventItem) -> dict:
    return {"id": item.id, "events": item.events, "date": item.day.isoformat(),
            "position": item.position, "status": item.status,
            "title_prompt": item.title_prompt, "title_text": item.title_text,
            "updated_at": item.updated_at, "updated_by": item.updated_by,
            "deleted": item.deleted}


def _item_id(request: web.Request) -> int:
    return path_id(request, "EVENT_UNKNOWN", "event")


async def list_statuses(request: web.Request) -> web.Response:
    return web.json_response(request.app[EVENT_LINES].statuses())


async def list_events(request: web.Request) -> web.Response:
    lines = request.app[EVENT_LINES]
    events = request.match_info["events"]
    raw = request.query.get("date")
    try:
        day = date.fromisoformat(raw) if raw else tokyo_today()
    except ValueError:
        raise ApiError(422, "INVALID_DATE", f"'{raw}' is not a date (YYYY-MM-DD)") from None
    lines.check_events(events)
    items = await lines.store.items(events, day)
    return web.json_response({"events": events, "date": day.isoformat(),
                              "items": [item_json(i) for i in items]})


@accepts(NewEvent)
async def create_event(request: web.Request) -> web.Response:
    body = await parse_body(request, NewEvent)
    item, pushed = await request.app[EVENT_LINES].create(
        request.match_info["events"], body.day or tokyo_today(), body.status, body.by,
        title_prompt=body.title_prompt, title_text=body.title_text,
        position=body.position)
    return web.json_response({**item_json(item), "pushed": pushed}, status=201)


@accepts(EventChange)
async def change_event(request: web.Request) -> web.Response:
    body = await parse_body(request, EventChange)
    item, pushed = await request.app[EVENT_LINES].update(
        request.match_info["events"], _item_id(request), body.by, status=body.status,
        position=body.position, title_prompt=body.title_prompt,
        title_text=body.title_text)
    return web.json_response({**item_json(item), "pushed": pushed})


async def delete_event(request: web.Request) -> web.Response:
    by = request.query.get("by", "").strip()
    if not by or len(by) > 40:
        raise ApiError(422, "WHO_MISSING", "say who deletes the event: ?by=<name> "
                       "(1 to 40 characters)")
    item, pushed = await request.app[EVENT_LINES].delete(
        request.match_info["events"], _item_id(request), by)
    return web.json_response({**item_json(item), "pushed": pushed})


def setup_event_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/event-statuses", list_statuses)
    r.add_get("/api/events/{events}", list_events)
    r.add_post("/api/events/{events}", create_event)
    r.add_patch("/api/events/{events}/{id}", change_event)
    r.add_delete("/api/events/{events}/{id}", delete_event)
