"""Translate AMI messages into typed domain events, at the border.

Only the events the controller uses are translated; others return ``None``. A message
of a known kind that lacks a field, or has one that does not parse, raises
:class:`AmiTranslationError`: a missing field is an error, not an empty string.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from acd.domain.events import (
    NO_QUEUE,
    AgentAnswered,
    AgentCallEnded,
    AgentRinging,
    AgentRingNoAnswer,
    CalendarDecided,
    CallerAbandoned,
    ChannelHungUp,
    CongestionMessage,
    EmergencyHeard,
    Event,
    EventAnnounced,
    FlowExited,
    LineEntered,
    MenuChosen,
    Overflowed,
    QueueJoined,
    QueueLeft,
    SurveyAnswered,
    SurveyOffered,
    VoicemailLeft,
)

LINE_ENTER_USEREVENT = "MadoguchiLineEnter"
#: A call reached an event-information line: a LineEntered without a queue (NO_QUEUE),
#: so the call tracker records it as event_info, apart from the operators' calls.
EVENT_LINE_ENTER_USEREVENT = "MadoguchiEventLineEnter"


class AmiTranslationError(ValueError):
    pass


class _Fields:
    def __init__(self, message: Mapping[str, str]) -> None:
        self._message = {k.lower(): v for k, v in message.items()}
        self.name = self._message.get("event", "?")

    def text(self, key: str) -> str:
        value = self._message.get(key.lower())
        if value is None:
            raise AmiTranslationError(f"AMI {self.name} without {key}")
        return value

    def optional(self, key: str) -> str | None:
        value = self._message.get(key.lower())
        return value or None

    def integer(self, key: str) -> int:
        raw = self.text(key)
        try:
            return int(raw)
        except ValueError:
            raise AmiTranslationError(f"AMI {self.name}: {key}={raw!r} is not an integer") from None

    def at(self) -> float:
        raw = self.text("Timestamp")
        try:
            return float(raw)
        except ValueError:
            raise AmiTranslationError(f"AMI {self.name}: Timestamp={raw!r} is not a time") from None

    def choice(self, key: str, yes: str, no: str) -> bool:
        value = self.text(key)
        if value not in (yes, no):
            raise AmiTranslationError(f"AMI {self.name}: {key}={value!r}, expected {yes} or {no}")
        return value == yes

    def caller_uniqueid(self) -> str | None:
        """The caller's uniqueid in AgentComplete. When the caller's channel is already
        gone (AgentComplete often comes after the hangup), Asterisk sends no caller
        snapshot: the agent leg's linked id is then the caller's uniqueid; when both
        channels are gone there is neither, and the controller takes the agent's call."""
        return self.optional("Uniqueid") or self.optional("DestLinkedid")

    def agent(self) -> str:
        """The agent id from a queue member interface such as ``PJSIP/1001``."""
        interface = self.text("Interface")
        return interface.rsplit("/", 1)[-1]


def _survey(f: _Fields) -> Event:
    if f.text("State") == "offered":
        return SurveyOffered(at=f.at(), uniqueid=f.text("Uniqueid"))
    if f.text("State") != "answered":
        raise AmiTranslationError(f"AMI {f.name}: State={f.text('State')!r}, expected "
                                  "offered or answered")
    return SurveyAnswered(at=f.at(), uniqueid=f.text("Uniqueid"),
                          question=f.integer("Question"), answer=f.integer("Answer"))


#: The dialplan's own events (UserEvent names) and their translation.
_USER_EVENTS: dict[str, Callable[[_Fields], Event]] = {
    LINE_ENTER_USEREVENT: lambda f: LineEntered(
        at=f.at(), uniqueid=f.text("Uniqueid"), line=f.text("Line"),
        queue=NO_QUEUE if f.optional("Flow") else f.text("Queue"),
        caller=f.text("Caller"), recording_file=f.optional("Recording"),
        flow=f.optional("Flow")),
    "MadoguchiMenu": lambda f: MenuChosen(
        at=f.at(), uniqueid=f.text("Uniqueid"), node=f.text("Node"), choice=f.text("Choice"),
        path=f.text("Path"), language=f.text("Language")),  # the channel's language
    "MadoguchiFlowExit": lambda f: FlowExited(
        at=f.at(), uniqueid=f.text("Uniqueid"), node=f.text("Node"), kind=f.text("Kind"),
        target=f.optional("Target") or ""),
    "MadoguchiCongestion": lambda f: CongestionMessage(
        at=f.at(), uniqueid=f.text("Uniqueid"), started=f.choice("State", "start", "end")),
    "MadoguchiQueueResult": lambda f: QueueLeft(
        at=f.at(), uniqueid=f.text("Uniqueid"), queue=f.text("Queue"), status=f.text("Status")),
    "MadoguchiOverflow": lambda f: Overflowed(
        at=f.at(), uniqueid=f.text("Uniqueid"), reason=f.text("Reason"),
        destination=f.text("Destination")),
    "MadoguchiVoicemail": lambda f: VoicemailLeft(
        at=f.at(), uniqueid=f.text("Uniqueid"), file=f.text("File")),
    "MadoguchiCalendar": lambda f: CalendarDecided(
        at=f.at(), uniqueid=f.text("Uniqueid"), status=f.text("Status")),
    EVENT_LINE_ENTER_USEREVENT: lambda f: LineEntered(
        at=f.at(), uniqueid=f.text("Uniqueid"), line=f.text("Line"), queue=NO_QUEUE,
        caller=f.text("Caller"), recording_file=None),
    "MadoguchiEmergency": lambda f: EmergencyHeard(
        at=f.at(), uniqueid=f.text("Uniqueid"), switch=f.integer("Switch"),
        mode=f.text("Mode")),
    "MadoguchiSurvey": _survey,
    "MadoguchiEventItem": lambda f: EventAnnounced(
        at=f.at(), uniqueid=f.text("Uniqueid"), events=f.text("Events"),
        position=f.integer("Position"), item=f.text("Item"), status=f.text("Status")),
}


def _user_event(f: _Fields) -> Event | None:
    translator = _USER_EVENTS.get(f.text("UserEvent"))
    return translator(f) if translator else None


_TRANSLATORS: dict[str, Callable[[_Fields], Event | None]] = {
    "userevent": _user_event,
    "queuecallerjoin": lambda f: QueueJoined(
        at=f.at(), uniqueid=f.text("Uniqueid"), queue=f.text("Queue"),
        position=f.integer("Position")),
    "agentcalled": lambda f: AgentRinging(
        at=f.at(), uniqueid=f.text("Uniqueid"), queue=f.text("Queue"), agent=f.agent()),
    "agentringnoanswer": lambda f: AgentRingNoAnswer(
        at=f.at(), uniqueid=f.text("Uniqueid"), queue=f.text("Queue"), agent=f.agent(),
        ring_seconds=f.integer("RingTime") / 1000),
    "agentconnect": lambda f: AgentAnswered(
        at=f.at(), uniqueid=f.text("Uniqueid"), queue=f.text("Queue"), agent=f.agent(),
        hold_seconds=f.integer("HoldTime"), ring_seconds=f.integer("RingTime")),
    "agentcomplete": lambda f: AgentCallEnded(
        at=f.at(), uniqueid=f.caller_uniqueid(), queue=f.text("Queue"), agent=f.agent(),
        talk_seconds=f.integer("TalkTime"), reason=f.text("Reason")),
    "queuecallerabandon": lambda f: CallerAbandoned(
        at=f.at(), uniqueid=f.text("Uniqueid"), queue=f.text("Queue"),
        position=f.integer("Position"), hold_seconds=f.integer("HoldTime")),
    "hangup": lambda f: ChannelHungUp(
        at=f.at(), uniqueid=f.text("Uniqueid"), channel=f.text("Channel"),
        cause=f.integer("Cause")),
}

#: The AMI events the controller listens to; manager.conf filters on these names.
USED_EVENTS = ("UserEvent", "QueueCallerJoin", "AgentCalled", "AgentRingNoAnswer",
               "AgentConnect", "AgentComplete", "QueueCallerAbandon", "Hangup",
               "FullyBooted", "Shutdown")


def translate(message: Mapping[str, str]) -> Event | None:
    fields = _Fields(message)
    translator = _TRANSLATORS.get(fields.name.lower())
    return translator(fields) if translator else None
