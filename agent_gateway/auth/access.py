"""Who may use which route: the role policy of the gateway, in one table.

Evaluated by the authentication middleware for every request that carries a principal
(the API token's ``service`` principal may do everything). The first rule whose method
and path match decides; an ``/api/`` route no rule names is for supervisors and admins.

- ``agent``: only themselves -- their own state and dispositions
  (``/api/agents/{their id}/...``), the calls they hold (``/api/calls/{uniqueid}/...``,
  except listening in), their own console data.
- ``supervisor``, ``admin``: everyone's; the roster and the flows are the admin's.
- ``viewer`` (city staff): the reports and the escalation list, read only; their monthly
  rating of the centre (職員満足度).

Personal-data routes (caller numbers, callback details, messages) are written to the
access log after a successful answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from acd.domain.actor import Actor

STAFF = ("supervisor", "admin")
ADMIN = ("admin",)
REPORTS = ("supervisor", "admin", "viewer")


@dataclass(frozen=True)
class Rule:
    methods: str  # "*" or "GET,POST"
    path: re.Pattern
    roles: tuple[str, ...]
    #: "self": an agent only for their own ``{agent}``; "own_call": an agent only for a
    #: call they hold now (ringing, talking or in wrap-up).
    agent_scope: str | None = None
    #: About the signed-in user themselves: the API token (no user) may not use it.
    session_only: bool = False

    def matches(self, method: str, path: str) -> re.Match | None:
        if self.methods != "*" and method not in self.methods.split(","):
            return None
        return self.path.fullmatch(path)


def _rule(methods: str, path: str, roles: tuple[str, ...], scope: str | None = None, *,
          session_only: bool = False) -> Rule:
    return Rule(methods, re.compile(path), roles, scope, session_only)


RULES: tuple[Rule, ...] = (
    # the agents and their states
    _rule("GET", r"/api/agents", ("agent", *STAFF)),  # an agent sees only themselves
    _rule("POST,PUT", r"/api/agents(/[^/]+)?", ADMIN),
    _rule("POST", r"/api/roster/reload", ADMIN),
    _rule("POST", r"/api/agents/(?P<agent>[^/]+)/(login|logout|ready|away|disposition"
          r"|wrapup/extend)", ("agent", *STAFF), "self"),
    # the description of this API
    _rule("GET", r"/api/openapi\.json", ("agent", *REPORTS)),
    # the consoles' own data (the signed-in agent's: no API token)
    _rule("GET", r"/api/console/me", ("agent",), session_only=True),
    _rule("GET", r"/api/console/wallboard", STAFF),
    # follow-up lists
    _rule("GET", r"/api/escalations(\.csv)?", REPORTS),
    _rule("POST", r"/api/escalations/\d+/(handled|assign)", STAFF),
    _rule("*", r"/api/voicemails.*", STAFF),
    # reports, flows, events, recordings
    _rule("GET", r"/api/reports/.*", REPORTS),
    # 職員満足度: the city's staff (viewers) rate the centre; supervisors see it
    _rule("POST", r"/api/staff-ratings", ("viewer", "admin")),
    _rule("GET", r"/api/staff-ratings", REPORTS),
    _rule("*", r"/api/ivr/.*", ADMIN),
    _rule("*", r"/api/(events|event-statuses)(/.*)?", STAFF),
    _rule("*", r"/api/emergency(/.*)?", STAFF),
    # recordings: the access log and the erasure certificate are the admin's; agents
    # only their own calls (when the site allows), decided by the recordings API itself
    _rule("GET", r"/api/recordings/(access-log|certificate)", ADMIN),
    _rule("*", r"/api/recordings(/.*)?", ("agent", *STAFF)),
    # call controls (their API lives elsewhere): listening in is for supervisors; the
    # operator holding a call may transfer it, conference, hold, record
    _rule("*", r"/api/calls/[^/]+/monitor", STAFF),
    _rule("*", r"/api/calls/(?P<uniqueid>[^/]+)(/.*)?", ("agent", *STAFF), "own_call"),
    _rule("*", r"/api/.*", STAFF),
    # pages
    _rule("GET", r"/agent", ("agent",)),
    _rule("GET", r"/supervisor", STAFF),
    _rule("GET", r"/viewer", REPORTS),
)

#: Routes whose answer is personal data, by what the access log calls it.
PERSONAL_DATA: tuple[tuple[str, re.Pattern], ...] = (
    ("escalations", re.compile(r"/api/escalations(\.csv)?")),
    ("voicemails", re.compile(r"/api/voicemails(\.csv)?")),
    ("screen_pop", re.compile(r"/api/console/me")),
)


class Forbidden(Exception):
    def __init__(self, error_id: str, message: str) -> None:
        super().__init__(message)
        self.error_id = error_id


def authorize(request: web.Request, who: Actor,
              agent_calls: Callable[[str | None], str | None]) -> None:
    """Raise :class:`Forbidden` unless ``who`` may make this request.

    ``agent_calls(agent_id)`` is the call the agent holds now (or None)."""
    for rule in RULES:
        match = rule.matches(request.method, request.path)
        if match is None:
            continue
        if who.is_service:
            if rule.session_only:
                raise Forbidden("SESSION_REQUIRED", "this is a signed-in user's own data: "
                                "the API token has none")
            return
        if who.role not in rule.roles:
            raise Forbidden("FORBIDDEN", f"the role {who.role} may not use this")
        if who.role == "agent" and rule.agent_scope == "self" \
                and match.group("agent") != who.agent_id:
            raise Forbidden("NOT_YOURSELF", "an agent may act only on themselves")
        if who.role == "agent" and rule.agent_scope == "own_call" \
                and agent_calls(who.agent_id) != match.group("uniqueid"):
            raise Forbidden("NOT_YOUR_CALL", "an agent may act only on the call they hold")
        return


def personal_data_subject(request: web.Request) -> str | None:
    if request.method != "GET":
        return None
    for subject, pattern in PERSONAL_DATA:
        if pattern.fullmatch(request.path):
            return subject
    return None
