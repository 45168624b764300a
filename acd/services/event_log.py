"""The call event log: append-only, written through the database, with listeners.

Everything that happens is appended here once: the typed events the controller handles,
the agents' state changes and dispositions (the effects of the domain's commands), and
what the services do beside the domain (call controls, forced states, on-demand
recording). After each append the listeners are told, in order; the consoles' live
updates listen here. A listener must not block (put the entry on a queue); one that
raises is logged and the others are still told.

:func:`payload_of` and :func:`event_from` are how a typed event is kept in the log and
read back (the controller rebuilds the calls in progress from it after a restart).

Built once by the composition root and given to whoever logs: the controller, the
effects executor, the call controls and on-demand recording (as ``event_log.append``,
the ``log_event(kind, at, uniqueid, payload)`` callable they take).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Any, Protocol

import structlog

from acd.domain.events import EVENT_TYPES, Event

log = structlog.get_logger(__name__)

#: Told (kind, at, uniqueid, payload) after an entry is in the log; must not block.
Listener = Callable[[str, float, str | None, dict[str, Any]], None]


class _Writes(Protocol):
    async def append_event(self, kind: str, occurred_at: float, uniqueid: str | None,
                           payload: dict[str, Any]) -> None: ...


class EventLog:
    def __init__(self, db: _Writes, listeners: Iterable[Listener] = ()) -> None:
        self._db = db
        self._listeners: list[Listener] = list(listeners)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        """Stop telling ``listener``; one that was not subscribed is no error."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def append(self, kind: str, at: float, uniqueid: str | None,
                     payload: dict[str, Any]) -> None:
        """Append one entry, then tell the listeners (a failing one is logged)."""
        await self._db.append_event(kind, at, uniqueid, payload)
        for listener in tuple(self._listeners):
            try:
                listener(kind, at, uniqueid, payload)
            except Exception:
                log.exception("event_log.listener_failed", kind=kind)


def payload_of(event: Event) -> dict[str, Any]:
    """A typed event as the log keeps it (JSON: sets become sorted lists)."""
    data = asdict(event)
    return {k: sorted(v) if isinstance(v, frozenset) else v for k, v in data.items()}


def event_from(kind: str, payload: str) -> Event | None:
    """The typed event a log entry holds (``payload`` as stored, JSON text); ``None`` for
    an entry that is not a domain event (a call control, a state change...)."""
    cls = EVENT_TYPES.get(kind)
    if cls is None:
        return None
    data = json.loads(payload)
    return cls(**{k: frozenset(tuple(i) if isinstance(i, list) else i for i in v)
                  if isinstance(v, list) else v for k, v in data.items()})
