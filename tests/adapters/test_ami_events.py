"""AMI translation, replayed from a stream recorded on the real Asterisk
(tests/support/record_ami_stream.py): one answered call, one abandoned in the queue."""

from __future__ import annotations

from pathlib import Path

import pytest
from panoramisk.message import Message

from acd.adapters.ami.client import _Utf8Protocol
from acd.adapters.ami.events import AmiTranslationError, translate
from acd.domain.calls import Calls, SaveCallRecord, step
from acd.domain.events import (
    AgentAnswered,
    AgentCallEnded,
    AgentRinging,
    CallerAbandoned,
    ChannelHungUp,
    LineEntered,
    QueueJoined,
)

STREAM = Path(__file__).parent.parent / "fixtures" / "ami" / "two_calls.ami"


def recorded_messages() -> list[Message]:
    blocks = STREAM.read_text().replace("\r\n", "\n").split("\n\n")
    messages = [Message.from_line(block.strip().replace("\n", "\r\n")) for block in blocks]
    return [m for m in messages if m is not None and "event" in m]


def recorded_events():
    return [e for e in (translate(dict(m)) for m in recorded_messages()) if e is not None]


def test_recorded_stream_translates_to_the_expected_event_sequence():
    kinds = [type(e) for e in recorded_events()]
    assert kinds == [
        LineEntered, QueueJoined, AgentRinging, AgentAnswered, AgentCallEnded, ChannelHungUp,
        ChannelHungUp,
        LineEntered, QueueJoined, CallerAbandoned, ChannelHungUp,
    ]


def test_recorded_fields_are_typed():
    events = recorded_events()
    entered = events[0]
    assert isinstance(entered, LineEntered)
    assert (entered.line, entered.queue, entered.caller) == ("0570000123", "main", "0312340000")
    assert entered.recording_file.endswith(f"{entered.uniqueid}.wav")
    answered = next(e for e in events if isinstance(e, AgentAnswered))
    assert answered.agent == "1001" and answered.uniqueid == entered.uniqueid
    assert isinstance(answered.at, float) and answered.at > entered.at


def test_replaying_the_stream_through_the_domain_gives_two_records():
    calls, records = Calls(), []
    for event in recorded_events():
        calls, commands = step(calls, event)
        records += [c.record for c in commands if isinstance(c, SaveCallRecord)]
    answered, abandoned = records
    assert answered.outcome == "answered" and answered.agent == "1001"
    assert 2 <= answered.talk_seconds <= 4
    assert abandoned.outcome == "abandoned" and abandoned.caller == "0312349999"
    assert abandoned.wait_seconds > 1 and abandoned.recording_file is None


def test_a_known_event_without_a_field_is_an_error_not_an_empty_string():
    message = dict(next(m for m in recorded_messages() if m["Event"] == "AgentConnect"))
    del message["Interface"]
    with pytest.raises(AmiTranslationError, match="AgentConnect without Interface"):
        translate(message)


def test_unused_events_are_not_translated():
    assert translate({"Event": "FullyBooted", "Status": "Fully Booted"}) is None


def test_utf8_split_between_tcp_reads_is_kept_whole():
    received = []

    class Factory:
        save_stream = None

        def dispatch(self, message):
            received.append(message)

    protocol = _Utf8Protocol()
    protocol.connection_made(transport=None)
    protocol.factory = Factory()
    protocol.responses = {}
    protocol.encoding = "utf8"  # as panoramisk's Manager sets it
    raw = "Event: UserEvent\r\nName: 山田 花子\r\n\r\n".encode()
    cut = raw.index("田".encode()) + 1  # in the middle of a character
    protocol.data_received(raw[:cut])
    protocol.data_received(raw[cut:])
    assert received and received[0]["Name"] == "山田 花子"


def test_agent_complete_after_the_callers_channel_is_gone_uses_the_linked_id():
    message = dict(next(m for m in recorded_messages() if m["Event"] == "AgentComplete"))
    caller = message["Uniqueid"]
    for key in [k for k in message if not k.startswith(("Dest", "Event", "Queue", "Interface",
                                                         "MemberName", "HoldTime", "TalkTime",
                                                         "Reason", "Timestamp"))]:
        del message[key]
    event = translate(message)
    assert isinstance(event, AgentCallEnded) and event.uniqueid == caller
