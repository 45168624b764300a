"""The event-information line's pure parts: the AstDB payload of a day's events, and
calls to the line recorded as event_info (never an operator's outcome)."""

from __future__ import annotations

from datetime import date

import pytest

from acd.adapters.ami.events import translate
from acd.domain.calls import Calls, SaveCallRecord, step
from acd.domain.event_info import DbPut, EventItem, astdb_family, astdb_payload, ordered
from acd.domain.events import (
    EVENT_TYPES,
    NO_QUEUE,
    ChannelHungUp,
    EventAnnounced,
    LineEntered,
)

DAY = date(2026, 11, 22)
FAMILY = "madoguchi/events/city-events/20261122"
PROMPTS = {"fireworks": "/s/tts-ja-fire", "st_held": "/s/held", "st_cancelled": "/s/cancelled"}
STATUSES = {"held": "st_held", "cancelled": "st_cancelled"}
T0 = 1_790_000_000.0


def item(id_: int, position: int, status: str = "held", **kw) -> EventItem:
    return EventItem(id=id_, events="city-events", day=DAY, position=position, status=status,
                     **kw)


def test_the_family_is_per_events_list_and_tokyo_day():
    assert astdb_family("city-events", DAY) == FAMILY


def test_items_in_order_with_title_and_status_audio_and_the_count_last():
    puts = astdb_payload("city-events", DAY, [
        item(7, 2, "cancelled", title_text="朝市", title_audio="/s/tts-ja-asaichi"),
        item(3, 1, title_prompt="fireworks"),
    ], PROMPTS, STATUSES)
    assert puts == [
        DbPut(FAMILY, "1/title", "/s/tts-ja-fire"), DbPut(FAMILY, "1/status", "/s/held"),
        DbPut(FAMILY, "1/id", "3"), DbPut(FAMILY, "1/state", "held"),
        DbPut(FAMILY, "2/title", "/s/tts-ja-asaichi"), DbPut(FAMILY, "2/status", "/s/cancelled"),
        DbPut(FAMILY, "2/id", "7"), DbPut(FAMILY, "2/state", "cancelled"),
        DbPut(FAMILY, "count", "2"),
    ]


def test_deleted_items_are_left_out_and_no_items_is_a_count_of_zero():
    assert astdb_payload("city-events", DAY, [item(1, 1, deleted=True)], PROMPTS, STATUSES) \
        == [DbPut(FAMILY, "count", "0")]


def test_same_position_is_ordered_by_id():
    assert [i.id for i in ordered([item(9, 1), item(4, 1), item(2, 3)])] == [4, 9, 2]


def test_an_unknown_status_or_missing_title_leaves_that_part_empty():
    puts = astdb_payload("city-events", DAY, [item(1, 1, "gone")], PROMPTS, STATUSES)
    assert DbPut(FAMILY, "1/title", "") in puts and DbPut(FAMILY, "1/status", "") in puts


def test_an_item_of_another_day_is_refused():
    other = EventItem(id=1, events="city-events", day=date(2026, 11, 23), position=1,
                      status="held")
    with pytest.raises(ValueError, match="not city-events on 2026-11-22"):
        astdb_payload("city-events", DAY, [other], PROMPTS, STATUSES)


def test_the_event_line_user_events_are_translated():
    entered = translate({"Event": "UserEvent", "UserEvent": "MadoguchiEventLineEnter",
                         "Timestamp": "1790000000.5", "Uniqueid": "1.1", "Line": "0467000800",
                         "Events": "city-events", "Caller": "0312345678"})
    assert entered == LineEntered(1790000000.5, "1.1", "0467000800", NO_QUEUE, "0312345678",
                                  None)
    played = translate({"Event": "UserEvent", "UserEvent": "MadoguchiEventItem",
                        "Timestamp": "1790000004", "Uniqueid": "1.1", "Events": "city-events",
                        "Position": "1", "Item": "12", "Status": "held"})
    assert played == EventAnnounced(1790000004.0, "1.1", "city-events", 1, "12", "held")
    assert EVENT_TYPES["EventAnnounced"] is EventAnnounced


def test_a_call_to_the_event_line_is_recorded_as_event_info():
    calls = Calls()
    records = []
    for event in [LineEntered(T0, "1.1", "0467000800", NO_QUEUE, "0312345678", None),
                  EventAnnounced(T0 + 4, "1.1", "city-events", 1, "12", "held"),
                  EventAnnounced(T0 + 8, "1.1", "city-events", 2, "13", "cancelled"),
                  ChannelHungUp(T0 + 9, "1.1", "PJSIP/carrier-1", 16)]:
        calls, commands = step(calls, event)
        assert not [c for c in commands if not isinstance(c, SaveCallRecord)]
        records += [c.record for c in commands]
    [record] = records
    assert (record.outcome, record.queue, record.queue_joined_at, record.agent,
            record.wait_seconds, record.recording_file) == ("event_info", "", None, None,
                                                            None, None)
    assert record.ended_at - record.entered_at == 9
