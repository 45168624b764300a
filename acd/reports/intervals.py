"""Agent-state intervals: one row per (agent, state) span, the by-agent KPIs' source.

The controller writes them as agent states change (``Database.save_agent_interval``): the
agent's open interval is closed at the change and, unless the agent logged out, a new one
is opened. Each row carries ``login_at``, the start of the logged-in session it belongs to,
so staffing (agents logged in at once) is a handful of sessions, not a sweep over states.

:func:`intervals_from_events` derives the same rows from the ``AgentStateChanged`` events
of the log (pure): the migration that creates the table fills it from an existing log
with it, and the tests and the benchmark use it to write what the controller would have.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime

from acd.domain.clock import JST

#: AgentStateChanged payloads as acd.runtime writes them (json.dumps, keys in this order);
#: anything else is parsed as JSON.
_PAYLOAD = re.compile(r'\{"agent": "([0-9A-Za-z_.-]+)", "status": "([a-z_]+)", '
                      r'"previous": "([a-z_]+)", "reason": (?:null|"([^"\\]*)")[,}]')


@dataclass(frozen=True)
class StateChange:
    at: float
    agent: str
    status: str  # the new status (acd.domain.agents.Status values)
    previous: str
    reason: str | None = None
    uniqueid: str | None = None


@dataclass
class Interval:
    agent: str
    status: str
    reason: str | None
    started_at: float
    ended_at: float | None  # None: still open
    login_at: float
    uniqueid: str | None = None

    def row(self) -> dict:
        return asdict(self)


def parse_state_change(at: float, payload: str, uniqueid: str | None = None
                       ) -> StateChange | None:
    """An AgentStateChanged payload (any JSON layout); None when it names no agent/status."""
    fast = _PAYLOAD.match(payload)
    if fast is not None:  # the controller's own layout: no JSON parsing needed
        agent, status, previous, reason = fast.groups()
    else:
        data = json.loads(payload)
        agent, status = data.get("agent"), data.get("status")
        previous, reason = data.get("previous"), data.get("reason")
        if agent is None or status is None:
            return None
    return StateChange(float(at), agent, status, previous or "logged_out", reason, uniqueid)


def start_of_jst_day(t: float) -> float:
    moment = datetime.fromtimestamp(t, JST)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def intervals_from_events(changes: Iterable[StateChange]) -> list[Interval]:
    """The intervals the controller writes, from state changes in time order.

    When an agent's first change says the agent was already logged in (its ``previous``
    is not ``logged_out``: the log starts in mid-session), the log does not say since
    when: that first interval is taken to start at midnight JST of that day. A later
    change of an agent who had logged out opens a session at that change.
    """
    result: list[Interval] = []
    open_: dict[str, Interval] = {}
    seen: set[str] = set()
    for change in changes:
        current = open_.pop(change.agent, None)
        if current is None and change.previous != "logged_out" and change.agent not in seen:
            since = start_of_jst_day(change.at)
            current = Interval(change.agent, change.previous, None, since, None, since)
            result.append(current)
        seen.add(change.agent)
        if current is not None:
            current.ended_at = max(change.at, current.started_at)
        if change.status == "logged_out":
            continue
        login_at = current.login_at if current is not None else change.at
        interval = Interval(change.agent, change.status,
                            change.reason if change.status == "away" else None,
                            change.at, None, login_at, change.uniqueid)
        open_[change.agent] = interval
        result.append(interval)
    return result


__all__ = ["Interval", "StateChange", "intervals_from_events", "parse_state_change"]
