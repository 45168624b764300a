"""The event-information line's pure parts: the AstDB payload of a day's events, and
calls to the line recorded as event_info (never an operator's outcome)."""

from __future__ import annotations

from datetime import date

import pytest

from acd.adapters.ami.events import translate
from acd.domain.calls import Calls, SaveCallRecord, step
from acd.domain.event_info import EventItem, GlobalVar, dialplan_payload, ordered, variable_prefix
from acd.domain.events import (
    EVENT_TYPES,
    NO_QUEUE,
    ChannelHungUp,
    EventAnnounced,
    LineEntered,
)

DAY = date(2026, 11, 22)
PREFIX = "EV_city-events_20261122_"
PROMPTS = {"fireworks": "/s/tts-ja-fire", "st_held": "/s/held", "st_cancelled": "/s/cancelled"}
STATUSES = {"held": "st_held", "cancelled": "st_cancelled"}
T0 = 1_790_000_000.0


def item(id_: int, position: int, status: str = "held", **kw) -> EventItem:
    return EventItem(id=id_, events="city-events", day=DAY, position=position, status=status,
                     **kw)


def test_the_prefix_is_per_events_list_and_tokyo_day():
    assert variable_prefix("city-events", DAY) == PREFIX


def test_items_in_order_with_title_and_status_audio_and_the_count_last():
    puts = dialplan_payload("city-events", DAY, [
        item(7, 2, "cancelled", title_text="朝市", title_audio="/s/tts-ja-asaichi"),
        item(3, 1, title_prompt="fireworks"),
    ], PROMPTS, STATUSES)
    assert puts == [
        GlobalVar(PREFIX + "1_title", "/s/tts-ja-fire"), GlobalVar(PREFIX + "1_status", "/s/held"),
        GlobalVar(PREFIX + "1_id", "3"), GlobalVar(PREFIX + "1_state", "held"),
        GlobalVar(PREFIX + "2_title", "/s/tts-ja-asaichi"),
        GlobalVar(PREFIX + "2_status", "/s/cancelled"),
        GlobalVar(PREFIX + "2_id", "7"), GlobalVar(PREFIX + "2_state", "cancelled"),
        GlobalVar(PREFIX + "count", "2"),
    ]


def test_deleted_items_are_left_out_and_no_items_is_a_count_of_zero():
    assert dialplan_payload("city-events", DAY, [item(1, 1, deleted=True)], PROMPTS, STATUSES) \
        == [GlobalVar(PREFIX + "count", "0")]


def test_same_position_is_ordered_by_id():
    assert [i.id for i in ordered([item(9, 1), item(4, 1), item(2, 3)])] == [4, 9, 2]


def test_an_unknown_status_or_missing_title_leaves_that_part_empty():
    puts = dialplan_payload("city-events", DAY, [item(1, 1, "gone")], PROMPTS, STATUSES)
    assert GlobalVar(PREFIX + "1_title", "") in puts and GlobalVar(PREFIX + "1_status", "") in puts


def test_an_item_of_another_day_is_refused():
    other = EventItem(id=1, events="city-events", day=date(2026, 11, 23), position=1,
                      status="held")
    with pytest.raises(ValueError, match="not city-events on 2026-11-22"):
        dialplan_payload("city-events", DAY, [other], PROMPTS, STATUSES)


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
