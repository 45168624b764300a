"""Who is asking: the :class:`~acd.domain.actor.Actor` of a request.

Every request under ``/api/`` carries one, set by the authentication middleware: a
signed-in user of the consoles (agent, supervisor, admin, viewer), or ``service`` for a
holder of the API token (the CLI, scripts), which may do what an admin may do. Which
role may use which route is decided in one table, :mod:`agent_gateway.auth.access`.
"""

from __future__ import annotations

from aiohttp import web

from acd.domain.actor import Actor
from agent_gateway.http import ApiError

#: Request key under which the authentication middleware stores the request's Actor.
PRINCIPAL_KEY = web.RequestKey("principal", Actor)


def principal(request: web.Request) -> Actor:
    found = request.get(PRINCIPAL_KEY)
    if found is None:
        raise ApiError(401, "UNAUTHENTICATED", "sign in or give a valid API token")
    return found
