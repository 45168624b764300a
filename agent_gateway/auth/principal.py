"""Who is asking: the principal of a request and the roles a route allows.

Every request under ``/api/`` carries a principal, set by the authentication middleware:
a signed-in user of the consoles (agent, supervisor, admin, viewer), or ``service`` for a
holder of the API token (the CLI, scripts), which may do what an admin may do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiohttp import web

Role = Literal["agent", "supervisor", "admin", "viewer", "service"]

@dataclass(frozen=True)
class Principal:
    user: str
    role: Role
    #: The agent id a user of role ``agent`` is (their calls, their state); else None.
    agent_id: str | None = None

    @property
    def is_service(self) -> bool:
        return self.role == "service"


SERVICE = Principal(user="api", role="service")

#: Request key under which the authentication middleware stores the :class:`Principal`.
PRINCIPAL_KEY = web.RequestKey("principal", Principal)


def principal(request: web.Request) -> Principal:
    found = request.get(PRINCIPAL_KEY)
    if found is None:
        from agent_gateway.routes.agents import ApiError

        raise ApiError(401, "UNAUTHENTICATED", "sign in or give a valid API token")
    return found


def require_role(request: web.Request, *roles: Role) -> Principal:
    """The request's principal if its role is one of ``roles`` (``service`` always is);
    else a 403 ``FORBIDDEN`` error naming the roles allowed."""
    who = principal(request)
    if who.is_service or who.role in roles:
        return who
    from agent_gateway.routes.agents import ApiError

    raise ApiError(403, "FORBIDDEN", f"this needs the role {' or '.join(roles)}",
                   {"role": who.role})
