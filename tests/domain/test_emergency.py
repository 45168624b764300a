"""The emergency switch's pure part: what AstDB must hold for the switches on record, the
translation of the dialplan's MadoguchiEmergency event and of its queue-log line, and the
call record of a caller who heard the announcement."""

import pytest

from acd.adapters.ami.events import AmiTranslationError, translate
from acd.adapters.asterisk.queue_log import parse_line
from acd.domain.calls import Calls, SaveCallRecord, step
from acd.domain.emergency import (
    ALL_LINES,
    Emergency,
    astdb_value,
    astdb_values,
    check_audio_path,
    expired,
)
from acd.domain.events import (
    EVENT_TYPES,
    ChannelHungUp,
    EmergencyHeard,
    LineEntered,
    QueueJoined,
)

T0 = 1_790_000_000.0


def switch(id=1, scope="0467000901", mode="continue", until=None, off_at=None, on_at=T0):
    return Emergency(id=id, scope=scope, mode=mode, audio="/srv/sounds/tts-ja-abc",
                     language="ja", prompt=None, text="大雨のため", until=until,
                     on_by="佐藤", on_at=on_at, off_at=off_at)


def test_each_line_key_holds_its_switch_in_force_and_the_others_are_cleared():
    values = astdb_values([switch(1, mode="hangup", until=T0 + 3600.7),
                           switch(2, scope=ALL_LINES),
                           switch(3, scope="0467000902", off_at=T0 + 5),  # taken off
                           switch(4, scope="0467000903", until=T0 + 10)],  # ended
                          ["0467000901", "0467000902", "0467000903"], now=T0 + 60)
    assert values == {"0467000901": "1|hangup|1790003600|/srv/sounds/tts-ja-abc",
                      "0467000902": None, "0467000903": None,
                      ALL_LINES: "2|continue|0|/srv/sounds/tts-ja-abc"}


def test_the_latest_switch_of_a_scope_wins_and_unknown_lines_are_left_alone():
    values = astdb_values([switch(7, on_at=T0 + 1), switch(6, on_at=T0)],
                          ["0467000901"], now=T0 + 2)
    assert values["0467000901"].startswith("7|")
    assert "0120000000" not in astdb_values([switch(8, scope="0120000000")], [], T0)


def test_switches_past_their_end_time_are_found_for_taking_off():
    assert [s.id for s in expired([switch(1, until=T0 + 5), switch(2), switch(3, until=T0 + 50)],
                                  now=T0 + 10)] == [1]


@pytest.mark.parametrize("path", ["/a|b", "/a,b", "/a$(b)", "/a\nb"])
def test_an_audio_path_the_dialplan_value_cannot_carry_is_refused(path):
    with pytest.raises(ValueError, match="cannot carry"):
        check_audio_path(path)
    with pytest.raises(ValueError):
        astdb_value(Emergency(1, "all", "continue", path, "ja", None, "x", None, "a", T0))


def test_the_dialplans_emergency_event_and_queue_log_line_are_translated():
    event = translate({"Event": "UserEvent", "UserEvent": "MadoguchiEmergency",
                       "Timestamp": "1790000001.5", "Uniqueid": "1.1", "Line": "0467000901",
                       "Switch": "12", "Mode": "hangup"})
    assert event == EmergencyHeard(1790000001.5, "1.1", 12, "hangup")
    assert EVENT_TYPES["EmergencyHeard"] is EmergencyHeard
    assert parse_line("1790000001|1.1|NONE|NONE|MDGEMERGENCY|12|hangup") == \
        EmergencyHeard(1790000001.0, "1.1", 12, "hangup")
    with pytest.raises(AmiTranslationError, match="Switch"):
        translate({"Event": "UserEvent", "UserEvent": "MadoguchiEmergency",
                   "Timestamp": "1790000001.5", "Uniqueid": "1.1", "Switch": "x",
                   "Mode": "hangup"})


def run(events):
    calls, records = Calls(), []
    for event in events:
        calls, produced = step(calls, event)
        records += [c.record for c in produced if isinstance(c, SaveCallRecord)]
    return records


def entered():
    return LineEntered(T0, "1.1", "0467000901", "desk", "0312345678", None)


def test_a_call_ended_by_the_announcement_is_counted_apart_and_names_the_switch():
    [record] = run([entered(), EmergencyHeard(T0 + 0.1, "1.1", 12, "hangup"),
                    ChannelHungUp(T0 + 8, "1.1", "PJSIP/carrier-1", 16)])
    assert (record.outcome, record.emergency_switch) == ("emergency", 12)


def test_a_caller_who_goes_on_to_the_queue_keeps_the_usual_outcome():
    [record] = run([entered(), EmergencyHeard(T0 + 0.1, "1.1", 3, "continue"),
                    QueueJoined(T0 + 8, "1.1", "desk", 1),
                    ChannelHungUp(T0 + 12, "1.1", "PJSIP/carrier-1", 16)])
    assert (record.outcome, record.emergency_switch) == ("abandoned", 3)
