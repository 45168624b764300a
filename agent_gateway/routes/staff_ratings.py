"""職員満足度: the city's staff rate the centre each month, from the viewer console.

- ``GET  /api/staff-ratings?month=YYYY-MM`` -- the month's ratings (default: this
  month, Tokyo) and their mean
- ``POST /api/staff-ratings`` -- ``{score: 0-100, comment?, month?}``; 201. Who rates is
  the signed-in user (the API token must name them: ``by``).

The monthly KPI report shows the month's mean and the number of ratings.
"""

from __future__ import annotations

import re
from dataclasses import asdict

from aiohttp import web
from pydantic import Field

from acd.domain.clock import tokyo_today
from agent_gateway.auth.principal import principal
from agent_gateway.http import ApiError, Body, accepts, parse_body
from agent_gateway.keys import STAFF_RATINGS

MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


class NewRating(Body):
    score: int = Field(ge=0, le=100)
    comment: str = Field(default="", max_length=2000)
    month: str | None = Field(default=None, pattern=MONTH, description="YYYY-MM; default "
                              "this month (Tokyo)")
    by: str | None = Field(default=None, min_length=1, max_length=80)


def _this_month() -> str:
    return f"{tokyo_today():%Y-%m}"


async def list_ratings(request: web.Request) -> web.Response:
    month = request.query.get("month") or _this_month()
    if not re.fullmatch(MONTH, month):
        raise ApiError(422, "INVALID_MONTH", f"'{month}' is not a month (YYYY-MM)")
    ratings = await request.app[STAFF_RATINGS].of_months([month])
    mean = sum(r.score for r in ratings) / len(ratings) if ratings else None
    return web.json_response({"month": month, "mean": mean,
                              "ratings": [asdict(r) for r in ratings]})


@accepts(NewRating)
async def add_rating(request: web.Request) -> web.Response:
    body = await parse_body(request, NewRating)
    actor = principal(request)
    by = actor.user
    if actor.is_service:
        if not body.by:
            raise ApiError(422, "WHO_MISSING", "say who rates: 'by' (1 to 80 characters)")
        by = body.by
    rating = await request.app[STAFF_RATINGS].add(body.month or _this_month(), body.score,
                                                  body.comment.strip(), by)
    return web.json_response(asdict(rating), status=201)


def setup_staff_rating_routes(app: web.Application) -> None:
    app.router.add_get("/api/staff-ratings", list_ratings)
    app.router.add_post("/api/staff-ratings", add_rating)
