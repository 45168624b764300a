"""Asterisk's queue log (``<asterisk>/log/queue_log``): what the queues did, written by
Asterisk itself whether a controller listens or not.

When the controller reconnects, the calls it still holds open but Asterisk no longer
has ended while nobody listened. Their answer, end and abandon are read back from here,
as the typed events the AMI would have given, with Asterisk's own times (whole seconds:
the queue log's precision), so the records carry the true talk time and the agents'
states follow what really happened.

A line: ``time|callid|queue|agent|event|data1|data2|data3...``; the agent field is the
member's name, which starts with the agent id (``actions.member_name``).
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

from acd.domain.events import (
    AgentAnswered,
    AgentCallEnded,
    AgentRingNoAnswer,
    CallerAbandoned,
    Event,
    QueueJoined,
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
    data += [""] * (3 - len(data))
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
        case "RINGNOANSWER":
            return AgentRingNoAnswer(at, uniqueid, queue, _agent(agent),
                                     _integer(data[0]) / 1000)
    return None


class QueueLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def events_of(self, uniqueids: Collection[str]) -> list[Event]:
        """The queue events of these calls, in the order Asterisk wrote them."""
        wanted = set(uniqueids)
        if not wanted:
            return []
        try:
            with self.path.open("rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                fh.seek(max(0, size - TAIL_BYTES))
                text = fh.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return []
        events = []
        for line in text.splitlines():
            if line.split("|", 2)[1:2] and line.split("|", 2)[1] in wanted:
                event = parse_line(line)
                if event is not None:
                    events.append(event)
        return events
