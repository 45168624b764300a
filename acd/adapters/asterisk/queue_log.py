"""Asterisk's queue log (``<asterisk>/log/queue_log``): what the queues did, written by
Asterisk itself whether a controller listens or not.

When the controller reconnects, the calls it still holds open but Asterisk no longer
has ended while nobody listened. Their answer, end and abandon are read back from here,
as the typed events the AMI would have given, with Asterisk's own times (whole seconds:
the queue log's precision), so the records carry the true talk time and the agents'
states follow what really happened. Calls that came and went entirely while nobody
listened are found here too: the dialplan writes its own lines beside its UserEvents
(``MDGLINE`` at a line's entry, ``MDGEMERGENCY``, ``MDGCALENDAR``, ``MDGOVERFLOW``,
``MDGVOICEMAIL``:
extensions.conf.j2), so such a call is rebuilt from its entry to its end.

A line: ``time|callid|queue|agent|event|data1|data2|data3...``; the agent field is the
member's name, which starts with the agent id (``actions.member_name``).
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

from acd.domain.events import (
    NO_QUEUE,
    AgentAnswered,
    AgentCallEnded,
    AgentRingNoAnswer,
    CalendarDecided,
    CallerAbandoned,
    EmergencyHeard,
    Event,
    LineEntered,
    Overflowed,
    QueueJoined,
    VoicemailLeft,
)

#: Only the end of the file is read: the calls open at a reconnect are recent.
TAIL_BYTES = 32 * 1024 * 1024


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def _agent(field: str) -> str:
    """The agent id of a member name ``<id> <name>`` (or of an interface ``PJSIP/<id>``)."""
    return field.split(" ", 1)[0].rsplit("/", 1)[-1]


def parse_line(line: str) -> Event | None:
    """The typed event of one queue-log line (None for lines the controller needs not)."""
    parts = line.rstrip("\n").split("|")
    if len(parts) < 5:
        return None
    stamp, uniqueid, queue, agent, kind, *data = parts
    data += [""] * (5 - len(data))
    try:
        at = float(stamp)
    except ValueError:
        return None
    match kind:
        case "ENTERQUEUE":
            return QueueJoined(at, uniqueid, queue, _integer(data[2]))
        case "CONNECT":
            return AgentAnswered(at, uniqueid, queue, _agent(agent), _integer(data[0]),
                                 _integer(data[2]))
        case "COMPLETECALLER" | "COMPLETEAGENT":
            return AgentCallEnded(at, uniqueid, queue, _agent(agent), _integer(data[1]),
                                  "caller" if kind == "COMPLETECALLER" else "agent")
        case "ABANDON":
            return CallerAbandoned(at, uniqueid, queue, _integer(data[0]), _integer(data[2]))
        case "MDGLINE":  # did|queue|caller|recording|flow
            return LineEntered(at, uniqueid, data[0], data[1] or NO_QUEUE, data[2],
                               data[3] or None, data[4] or None)
        case "MDGCALENDAR":
            return CalendarDecided(at, uniqueid, data[0])
        case "MDGOVERFLOW":
            return Overflowed(at, uniqueid, data[0], data[1])
        case "MDGEMERGENCY":  # switch|mode
            return EmergencyHeard(at, uniqueid, _integer(data[0]), data[1])
        case "MDGVOICEMAIL":
            return VoicemailLeft(at, uniqueid, data[0])
        case "RINGNOANSWER":
            return AgentRingNoAnswer(at, uniqueid, queue, _agent(agent),
                                     _integer(data[0]) / 1000)
    return None


class QueueLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[Event]:
        """Every event of the log's tail, in the order Asterisk wrote them."""
        try:
            with self.path.open("rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                fh.seek(max(0, size - TAIL_BYTES))
                text = fh.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return []
        return [event for line in text.splitlines()
                if (event := parse_line(line)) is not None]


def events_of(events: list[Event], uniqueids: Collection[str]) -> list[Event]:
    """The events of these calls, in order."""
    wanted = set(uniqueids)
    return [e for e in events if getattr(e, "uniqueid", None) in wanted]


def calls_entered_since(events: list[Event], since: float) -> dict[str, list[Event]]:
    """The calls that entered a line at ``since`` or later (by their ``MDGLINE``), each
    with all of its events, in order."""
    entered = {e.uniqueid for e in events
               if isinstance(e, LineEntered) and e.at >= since}
    calls: dict[str, list[Event]] = {uniqueid: [] for uniqueid in entered}
    for event in events:
        uniqueid = getattr(event, "uniqueid", None)
        if uniqueid in calls:
            calls[uniqueid].append(event)
    return calls
