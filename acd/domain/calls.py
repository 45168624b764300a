"""The call tracker: a pure state machine from typed events to call records.

``step(calls, event)`` returns the new state and the commands to carry out. It does no
I/O and reads no clock: every time comes from the events. An event that makes no sense in
the current state (an answer for a call never seen, a second answer...) is returned as a
:class:`DomainProblem`, never silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from acd.domain.events import (
    NO_QUEUE,
    AgentAnswered,
    AgentCallEnded,
    AgentRinging,
    AgentRingNoAnswer,
    AmiConnected,
    AmiDisconnected,
    CalendarDecided,
    CallerAbandoned,
    ChannelHungUp,
    ChannelsSnapshot,
    CongestionMessage,
    EmergencyHeard,
    Event,
    EventAnnounced,
    FlowExited,
    LineEntered,
    MembersSnapshot,
    MenuChosen,
    Overflowed,
    QueueJoined,
    QueueLeft,
    SurveyAnswered,
    SurveyOffered,
    VoicemailLeft,
)
from acd.domain.numbers import national_number

#: event_info: a call to an event-information line (announcements only, no queue).
#: transferred: an IVR flow transferred the call out; ivr: it ended in the IVR (a hang-up
#: node); a caller who left during the menus abandoned (no queue_joined_at).
#: emergency: the line's emergency announcement ended the call (mode hangup).
Outcome = Literal["answered", "abandoned", "overflow", "voicemail", "after_hours",
                  "event_info", "transferred", "ivr", "emergency"]
CloseReason = Literal["hangup", "resync"]


@dataclass(frozen=True)
class CallState:
    uniqueid: str
    line: str
    queue: str
    caller: str
    entered_at: float
    recording_file: str | None
    queue_joined_at: float | None = None
    agent: str | None = None
    agents_rung: int = 0
    answered_at: float | None = None
    talk_ended_at: float | None = None
    abandoned_at: float | None = None
    abandoned_position: int | None = None
    queue_position: int | None = None  # position on entering the (first) queue
    left_queue_status: str | None = None
    congestion_started_at: float | None = None
    congestion_seconds: float = 0.0
    overflow_reason: str | None = None
    overflow_destination: str | None = None
    voicemail_file: str | None = None
    calendar_status: str | None = None  # None: the line has no calendar
    events_announced: int = 0  # event line: events announced (the event log has which)
    flow: str | None = None  # the line's IVR flow
    menu_path: str | None = None  # the IVR choices, e.g. "lang:2>menu:3"
    language: str | None = None  # the caller's language, when chosen in a flow
    flow_exit: str | None = None  # where the flow let the call go (queue, transfer...)
    emergency_switch: int | None = None  # the emergency announcement heard, if any
    emergency_mode: str | None = None
    survey_offered: bool = False
    survey_answers: tuple[int, ...] = ()  # the keys 1-5 pressed, question by question


@dataclass(frozen=True)
class CallRecord:
    """One row per call: what the city's reports and searches are built on."""

    uniqueid: str
    line: str
    queue: str
    caller: str
    agent: str | None
    entered_at: float
    queue_joined_at: float | None
    answered_at: float | None
    ended_at: float
    wait_seconds: float | None
    talk_seconds: float | None
    outcome: Outcome
    agents_rung: int
    recording_file: str | None
    close_reason: CloseReason
    abandoned_position: int | None = None
    queue_position: int | None = None
    congestion_seconds: float = 0.0
    overflow_reason: str | None = None
    overflow_destination: str | None = None
    voicemail_file: str | None = None
    calendar_status: str | None = None  # the calendar's decision; None: no calendar
    menu_path: str | None = None  # the caller's IVR choices (shown to the agent)
    language: str | None = None
    emergency_switch: int | None = None  # the emergency announcement heard, if any
    survey_offered: bool = False  # the caller heard the satisfaction survey
    survey_answer_sum: int = 0  # of the keys 1-5 the caller answered it with
    survey_answer_count: int = 0  # questions answered (0: offered, not answered)


@dataclass(frozen=True)
class SaveCallRecord:
    record: CallRecord


@dataclass(frozen=True)
class DiscardEmptyRecording:
    """A call that never reached an operator leaves an empty recording (MixMonitor
    writes only while bridged): remove it so that no file stands for no conversation."""

    path: str
    uniqueid: str


@dataclass(frozen=True)
class DomainProblem:
    """An event that makes no sense in the current state: logged with the call and the
    agent, never silently ignored. :func:`acd.domain.step.step` names the ``trigger``
    (the event's type) and, for the agent machine's problems, its ``error_id``."""

    message: str
    uniqueid: str | None
    agent: str | None = None
    trigger: str | None = None
    error_id: str | None = None


Command = SaveCallRecord | DiscardEmptyRecording | DomainProblem

#: How many closed calls are remembered, so that queue events Asterisk sends just after
#: the caller's hangup (AgentComplete often comes a few ms later) are recognised.
CLOSED_MEMORY = 2000


@dataclass(frozen=True)
class Calls:
    active: Mapping[str, CallState] = field(default_factory=dict)
    recently_closed: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.active)

    def _with(self, call: CallState) -> Calls:
        return replace(self, active={**self.active, call.uniqueid: call})

    def _closing(self, uniqueids: list[str]) -> Calls:
        active = {k: v for k, v in self.active.items() if k not in uniqueids}
        closed = (self.recently_closed + tuple(uniqueids))[-CLOSED_MEMORY:]
        return Calls(active, closed)


def step(calls: Calls, event: Event) -> tuple[Calls, list[Command]]:
    match event:
        case LineEntered():
            if event.uniqueid in calls.active or event.uniqueid in calls.recently_closed:
                return calls, [DomainProblem("line entered twice", event.uniqueid)]
            entered = CallState(event.uniqueid, event.line, event.queue,
                                national_number(event.caller),
                                event.at, event.recording_file, flow=event.flow)
            return calls._with(entered), []
        case ChannelHungUp():
            hung_up = calls.active.get(event.uniqueid)
            if hung_up is None:  # an agent's leg or a channel that is not a call of ours
                return calls, []
            return calls._closing([hung_up.uniqueid]), _finish(hung_up, event.at, "hangup")
        case ChannelsSnapshot():
            gone = [c for c in calls.active.values() if c.uniqueid not in event.uniqueids]
            return (calls._closing([c.uniqueid for c in gone]),
                    [command for c in gone
                     for command in _finish(c, _known_end(c, event.at), "resync")])
        case AmiConnected() | AmiDisconnected() | MembersSnapshot():
            return calls, []
    # (an AgentCallEnded whose uniqueid stayed unknown is a call never seen)
    call = calls.active.get(event.uniqueid) if event.uniqueid is not None else None
    if call is None:
        if event.uniqueid in calls.recently_closed and isinstance(
                event, (AgentCallEnded, CallerAbandoned)):
            return calls, []  # the queue's own report of an end we already recorded
        return calls, [DomainProblem(f"{type(event).__name__} for a call never seen",
                                     event.uniqueid, getattr(event, "agent", None))]
    updated, problem = _advance(call, event)
    if problem:
        return calls, [DomainProblem(problem, call.uniqueid, getattr(event, "agent", None))]
    return calls._with(updated), []


def _advance(call: CallState, event: Event) -> tuple[CallState, str | None]:
    match event:
        case QueueJoined():
            if call.queue_joined_at is not None and call.left_queue_status is None:
                return call, "joined a queue while waiting in another"
            first_join = call.queue_joined_at if call.queue_joined_at is not None else event.at
            position = call.queue_position if call.queue_position is not None else event.position
            return replace(call, queue=event.queue, queue_joined_at=first_join,
                           queue_position=position, left_queue_status=None), None
        case QueueLeft():
            return replace(call, left_queue_status=event.status), None
        case CongestionMessage(started=True):
            return replace(call, congestion_started_at=event.at), None
        case CongestionMessage(started=False):
            if call.congestion_started_at is None:
                return call, "congestion message ended before it started"
            return replace(call, congestion_started_at=None, congestion_seconds=round(
                call.congestion_seconds + event.at - call.congestion_started_at, 3)), None
        case Overflowed():
            return replace(call, overflow_reason=event.reason,
                           overflow_destination=event.destination), None
        case VoicemailLeft():
            return replace(call, voicemail_file=event.file), None
        case CalendarDecided():
            return replace(call, calendar_status=event.status), None
        case EmergencyHeard():
            return replace(call, emergency_switch=event.switch,
                           emergency_mode=event.mode), None
        case SurveyOffered():
            return replace(call, survey_offered=True), None
        case SurveyAnswered():
            if not 1 <= event.answer <= 5:
                return call, f"survey answer {event.answer} is not 1-5"
            return replace(call, survey_answers=(*call.survey_answers, event.answer)), None
        case EventAnnounced():
            return replace(call, events_announced=call.events_announced + 1), None
        case MenuChosen():
            return replace(call, menu_path=event.path or None,
                           language=event.language or call.language), None
        case FlowExited():
            queue = event.target if event.kind == "queue" and call.queue == NO_QUEUE \
                else call.queue
            return replace(call, flow_exit=event.kind, queue=queue), None
        case AgentRinging():
            return replace(call, agents_rung=call.agents_rung + 1), None
        case AgentRingNoAnswer():
            return call, None
        case AgentAnswered():
            if call.answered_at is not None:
                return call, f"answered again (already by {call.agent})"
            return replace(call, agent=event.agent, answered_at=event.at), None
        case AgentCallEnded():
            if call.answered_at is None:
                return call, "agent call ended before it was answered"
            return replace(call, talk_ended_at=event.at), None
        case CallerAbandoned():
            if call.answered_at is not None:
                return call, "abandoned after being answered"
            return replace(call, abandoned_at=event.at, abandoned_position=event.position), None
    raise TypeError(f"unexpected event {event!r}")


def _known_end(call: CallState, resync_at: float) -> float:
    """When a call that ended unseen ended: its talk's end or its abandon if Asterisk's
    queue log told (see :func:`news`), else the resync (an upper bound)."""
    if call.talk_ended_at is not None:
        return call.talk_ended_at
    return call.abandoned_at if call.abandoned_at is not None else resync_at


def news(call: CallState, event: Event) -> bool:
    """Whether an event read back from Asterisk's queue log after a reconnect tells
    something the call's state does not know yet (the others were seen live)."""
    match event:
        case QueueJoined():
            return call.queue_joined_at is None
        case AgentAnswered():
            return call.answered_at is None and call.abandoned_at is None
        case AgentCallEnded():
            return call.answered_at is not None and call.talk_ended_at is None
        case CallerAbandoned():
            return call.answered_at is None and call.abandoned_at is None
    return False


def _finish(call: CallState, ended_at: float, reason: CloseReason) -> list[Command]:
    waited_from = call.queue_joined_at
    if call.answered_at is not None:
        wait = call.answered_at - waited_from if waited_from is not None else None
        talk_end = call.talk_ended_at if call.talk_ended_at is not None else ended_at
        talk: float | None = max(0.0, talk_end - call.answered_at)
        outcome: Outcome = "answered"
    else:
        left_at = call.abandoned_at if call.abandoned_at is not None else ended_at
        wait = left_at - waited_from if waited_from is not None else None
        talk = None
        outcome = ("emergency" if call.emergency_mode == "hangup" else
                   _flow_outcome(call) if call.flow is not None and call.queue == NO_QUEUE
                   else "event_info" if call.queue == NO_QUEUE else
                   "after_hours" if call.calendar_status not in (None, "open") else
                   "voicemail" if call.voicemail_file else
                   "overflow" if call.overflow_reason else "abandoned")
    record = SaveCallRecord(CallRecord(
        uniqueid=call.uniqueid, line=call.line, queue=call.queue, caller=call.caller,
        agent=call.agent, entered_at=call.entered_at, queue_joined_at=call.queue_joined_at,
        answered_at=call.answered_at, ended_at=ended_at,
        wait_seconds=None if wait is None else round(wait, 3),
        talk_seconds=None if talk is None else round(talk, 3),
        outcome=outcome, agents_rung=call.agents_rung,
        recording_file=call.recording_file if _conversation_recorded(call) else None,
        close_reason=reason, abandoned_position=call.abandoned_position,
        queue_position=call.queue_position,
        congestion_seconds=call.congestion_seconds, overflow_reason=call.overflow_reason,
        overflow_destination=call.overflow_destination, voicemail_file=call.voicemail_file,
        calendar_status=call.calendar_status, menu_path=call.menu_path,
        language=call.language, emergency_switch=call.emergency_switch,
        survey_offered=call.survey_offered, survey_answer_sum=sum(call.survey_answers),
        survey_answer_count=len(call.survey_answers),
    ))
    if call.recording_file and not _conversation_recorded(call):
        return [record, DiscardEmptyRecording(call.recording_file, call.uniqueid)]
    return [record]


def _conversation_recorded(call: CallState) -> bool:
    """Whether the call's recording holds a conversation: an operator answered, or the
    flow transferred the caller out (MixMonitor records the transferred conversation;
    the runtime drops the file if the far end never answered and it stayed empty)."""
    return call.answered_at is not None or (
        call.flow is not None and call.flow_exit == "transfer")



def _flow_outcome(call: CallState) -> Outcome:
    """A flow's call that never reached a queue: where the flow let it go."""
    if call.voicemail_file:
        return "voicemail"
    if call.flow_exit == "transfer":
        return "transferred"
    if call.flow_exit == "events":
        return "event_info"
    if call.calendar_status not in (None, "open"):
        return "after_hours"
    if call.flow_exit is None:  # the caller hung up in the menus (放棄呼, KPI.md)
        return "abandoned"
    return "ivr"
