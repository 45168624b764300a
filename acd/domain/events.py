"""Typed events the domain core is fed with.

Adapters translate what Asterisk says (AMI messages) into these frozen values at the
border. Times are UNIX epoch seconds (float) as Asterisk stamped them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AmiConnected:
    """The controller (re)connected and logged in to Asterisk."""

    at: float


@dataclass(frozen=True)
class AmiDisconnected:
    at: float
    reason: str


@dataclass(frozen=True)
class ChannelsSnapshot:
    """The channels alive in Asterisk right now (resynchronisation after a (re)connect)."""

    at: float
    uniqueids: frozenset[str]


#: The ``queue`` of a call to an event-information line: it never enters a queue, so it
#: never counts in the operators' KPIs; its record's outcome is ``event_info``.
NO_QUEUE = ""


@dataclass(frozen=True)
class LineEntered:
    """A caller reached one of our lines (DIDs); the dialplan announces it. On an
    event-information line ``queue`` is :data:`NO_QUEUE`."""

    at: float
    uniqueid: str
    line: str
    queue: str
    caller: str
    recording_file: str | None
    flow: str | None = None  # the line's IVR flow (its queue is then NO_QUEUE at entry)


@dataclass(frozen=True)
class MenuChosen:
    """The caller pressed a key in an IVR menu (or let it time out): ``path`` is every
    choice of the call so far (``menu:1>lang:2``), ``language`` the caller's language."""

    at: float
    uniqueid: str
    node: str
    choice: str
    path: str
    language: str


@dataclass(frozen=True)
class FlowExited:
    """The call left the IVR flow at a node of ``kind`` queue, voicemail, transfer,
    events or hangup; ``target`` is the queue, the number or the events list."""

    at: float
    uniqueid: str
    node: str
    kind: str
    target: str


@dataclass(frozen=True)
class QueueJoined:
    at: float
    uniqueid: str
    queue: str
    position: int


@dataclass(frozen=True)
class AgentRinging:
    at: float
    uniqueid: str
    queue: str
    agent: str


@dataclass(frozen=True)
class AgentRingNoAnswer:
    at: float
    uniqueid: str
    queue: str
    agent: str
    ring_seconds: float


@dataclass(frozen=True)
class AgentAnswered:
    at: float
    uniqueid: str
    queue: str
    agent: str
    hold_seconds: int
    ring_seconds: int


@dataclass(frozen=True)
class AgentCallEnded:
    at: float
    uniqueid: str | None  # None: Asterisk no longer had either channel; see the runtime
    queue: str
    agent: str
    talk_seconds: int
    reason: str


@dataclass(frozen=True)
class CallerAbandoned:
    at: float
    uniqueid: str
    queue: str
    position: int
    hold_seconds: int


@dataclass(frozen=True)
class QueueLeft:
    """Queue() returned without an operator: why (TIMEOUT = max wait, FULL, JOINEMPTY /
    LEAVEEMPTY = nobody logged in, ...). Sent by the dialplan after Queue()."""

    at: float
    uniqueid: str
    queue: str
    status: str


@dataclass(frozen=True)
class CongestionMessage:
    """The congestion guidance (混雑時アナウンス) started or ended for a caller; its time
    is excluded from the quick-answer wait."""

    at: float
    uniqueid: str
    started: bool


@dataclass(frozen=True)
class Overflowed:
    """The call could not wait for an operator and went elsewhere."""

    at: float
    uniqueid: str
    reason: str  # timeout | full | no_agents | channels (the line's max_channels)
    destination: str  # voicemail | queue:<name> | message | busy


@dataclass(frozen=True)
class VoicemailLeft:
    """The caller was invited to leave a message, recorded into ``file``."""

    at: float
    uniqueid: str
    file: str


@dataclass(frozen=True)
class CalendarDecided:
    """The line's calendar (opening hours) decided, in the dialplan, whether the call is
    served: open, or closed / holiday / year_end / after_service (then the caller hears
    the closed message and the call ends without entering a queue)."""

    at: float
    uniqueid: str
    status: str


@dataclass(frozen=True)
class EmergencyHeard:
    """The caller heard an emergency announcement (acd/domain/emergency.py) on entering
    the line; ``mode`` says what came next (continue, hangup, voicemail)."""

    at: float
    uniqueid: str
    switch: int
    mode: str


@dataclass(frozen=True)
class SurveyOffered:
    """The operator hung up and the caller hears the satisfaction survey."""

    at: float
    uniqueid: str


@dataclass(frozen=True)
class SurveyAnswered:
    """The caller answered one question of the survey with a key 1-5."""

    at: float
    uniqueid: str
    question: int
    answer: int


@dataclass(frozen=True)
class EventAnnounced:
    """The event line announced one event of the day (title and status played)."""

    at: float
    uniqueid: str
    events: str
    position: int
    item: str  # the event's id in the database
    status: str


@dataclass(frozen=True)
class MembersSnapshot:
    """Queue members as Asterisk has them now: (queue, agent id, paused) triples."""

    at: float
    members: frozenset[tuple[str, str, bool]]


@dataclass(frozen=True)
class ChannelHungUp:
    at: float
    uniqueid: str
    channel: str
    cause: int


CallEvent = (
    LineEntered | QueueJoined | AgentRinging | AgentRingNoAnswer | AgentAnswered
    | AgentCallEnded | CallerAbandoned | QueueLeft | CongestionMessage | Overflowed
    | VoicemailLeft | ChannelHungUp | CalendarDecided | EventAnnounced | MenuChosen
    | FlowExited | EmergencyHeard | SurveyOffered | SurveyAnswered
)
ConnectionEvent = AmiConnected | AmiDisconnected | ChannelsSnapshot | MembersSnapshot
Event = CallEvent | ConnectionEvent

EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        AmiConnected, AmiDisconnected, ChannelsSnapshot, LineEntered, QueueJoined,
        AgentRinging, AgentRingNoAnswer, AgentAnswered, AgentCallEnded, CallerAbandoned,
        QueueLeft, CongestionMessage, Overflowed, VoicemailLeft, MembersSnapshot, ChannelHungUp,
        CalendarDecided, EventAnnounced, MenuChosen, FlowExited, EmergencyHeard,
        SurveyOffered, SurveyAnswered,
    )
}
