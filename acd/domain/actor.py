"""Who acts: the one model of a person (or the API token) doing something, as the
event log, the call controls, on-demand recording and the gateway all see them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["agent", "supervisor", "admin", "viewer", "service"]
ROLES: tuple[Role, ...] = ("agent", "supervisor", "admin", "viewer", "service")


@dataclass(frozen=True)
class Actor:
    """A user name for the log, a role, and for an operator the agent id they are (they
    may act only on their own calls and state). ``service`` is the API token (the CLI,
    scripts), which may do what an admin may do."""

    user: str
    role: Role
    agent_id: str | None = None

    @property
    def is_service(self) -> bool:
        return self.role == "service"


SERVICE = Actor(user="api", role="service")
