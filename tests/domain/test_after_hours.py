"""Calls to a line whose calendar says it is not open: the dialplan's MadoguchiCalendar
event becomes CalendarDecided, and the record says after_hours with the status."""

import pytest

from acd.adapters.ami.events import AmiTranslationError, translate
from acd.domain.calls import Calls, SaveCallRecord, step
from acd.domain.events import (
    EVENT_TYPES,
    CalendarDecided,
    ChannelHungUp,
    LineEntered,
    QueueJoined,
)

T0 = 1_790_000_000.0


def run(events):
    calls, commands = Calls(), []
    for event in events:
        calls, produced = step(calls, event)
        commands.extend(produced)
    return calls, [c.record for c in commands if isinstance(c, SaveCallRecord)]


def entered(uid="1.1"):
    return LineEntered(T0, uid, "0570000500", "main", "0312345678", None)


def test_madoguchi_calendar_user_event_is_translated():
    event = translate({"Event": "UserEvent", "UserEvent": "MadoguchiCalendar",
                       "Timestamp": "1790000001.5", "Uniqueid": "1.1", "Status": "holiday"})
    assert event == CalendarDecided(1790000001.5, "1.1", "holiday")
    assert EVENT_TYPES["CalendarDecided"] is CalendarDecided


def test_a_calendar_event_without_its_status_is_an_error():
    with pytest.raises(AmiTranslationError, match="Status"):
        translate({"Event": "UserEvent", "UserEvent": "MadoguchiCalendar",
                   "Timestamp": "1790000001.5", "Uniqueid": "1.1"})


@pytest.mark.parametrize("status", ["closed", "holiday", "year_end", "after_service"])
def test_a_call_to_a_closed_line_ends_after_hours(status):
    calls, records = run([entered(), CalendarDecided(T0 + 0.1, "1.1", status),
                          ChannelHungUp(T0 + 6, "1.1", "PJSIP/carrier-1", 16)])
    assert len(calls) == 0
    [record] = records
    assert (record.outcome, record.calendar_status) == ("after_hours", status)
    assert record.queue_joined_at is None and record.wait_seconds is None
    assert record.ended_at == T0 + 6


def test_an_open_line_keeps_its_usual_outcome_and_says_open():
    _, records = run([entered(), CalendarDecided(T0 + 0.1, "1.1", "open"),
                      QueueJoined(T0 + 3, "1.1", "main", 1),
                      ChannelHungUp(T0 + 9, "1.1", "PJSIP/carrier-1", 16)])
    [record] = records
    assert (record.outcome, record.calendar_status) == ("abandoned", "open")


def test_a_line_without_calendar_has_no_calendar_status():
    _, records = run([entered(), ChannelHungUp(T0 + 9, "1.1", "PJSIP/carrier-1", 16)])
    assert records[0].calendar_status is None
