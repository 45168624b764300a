"""IVR flows on a real `acd up`, callers played by SIPp pressing keys as RFC 2833 DTMF
(the sip-tester captures): the language choice (English prompts after 2), a department
menu reaching its queue, an invalid key then a retry, silence until the default, the
event menu with a status change heard by the next caller, and `acd ivr apply`: a bad
file leaves the running flow serving calls; a good one serves the next call. Prints the
measured times (apply -> new flow serving; status change -> next caller hearing it).

Ports: the shared TEST_PORTS (``MDG_PORT_BASE`` moves them).
"""

from __future__ import annotations

import asyncio
import json
import textwrap
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from acd.adapters.db.schema import call_events
from acd.domain.clock import TOKYO
from tests.support.flows import write_flows
from tests.support.recordings import recording_rows, sealed_audio, seconds_and_rms
from tests.support.sipp import (
    CARRIER_ADDRESS,
    SippAgent,
    dial,
    free_udp_port,
)
from tests.support.stack import RunningStack, environment, ports
from tests.support.tables import record_for, rows

pytestmark = pytest.mark.integration

MENU_LINE = "0467000700"
EVENT_LINE = "0467000800"
STATUSES = ["held", "cancelled", "next_day", "postponed", "venue_changed", "time_changed",
            "full", "registration_closed", "rain_or_shine", "undecided"]


def flows_yaml(menu_prompt: str = "税は1、その他は2。", extra_choice: str = "") -> str:
    statuses = "".join(f"  {s}: st_{s}\n" for s in STATUSES)
    bye = "bye: {type: hangup, prompts: [nobody]}" if "bye" in extra_choice else ""
    prompts = "".join(f"  st_{s}:\n    text: {{ja: は{n}番の状態です。}}\n"
                      for n, s in enumerate(STATUSES))
    return textwrap.dedent(f"""\
        lines:
          - did: "{MENU_LINE}"
            name: 代表
            flow: main
            recording: off
          - did: "{EVENT_LINE}"
            name: イベント案内
            flow: events
            recording: off
        queues:
          - name: tax
            max_wait: 10
            no_agents_prompt: nobody
          - name: other
            max_wait: 10
            no_agents_prompt: nobody
        flows:
          main:
            start: lang
            nodes:
              lang:
                type: language
                prompt: lang
                choices: {{"1": ja, "2": en}}
                timeout: 3
                next: menu
              menu:
                type: menu
                prompt: menu
                choices: {{"1": tax, "2": general{extra_choice}}}
                timeout: 2
                retries: 1
                invalid_prompt: invalid
                default: general
              tax: {{type: queue, queue: tax}}
              general: {{type: queue, queue: other}}
              {bye}
          events:
            start: ev
            nodes:
              ev:
                type: events
                events: city-events
                intro_prompt: intro
                no_events_prompt: none_today
                timeout: 3
        event_statuses:
        """) + statuses + textwrap.dedent(f"""\
        prompts:
          lang: {{text: {{ja: 日本語は1。, en: For English press 2.}}}}
          menu: {{text: {{ja: {menu_prompt}, en: Tax 1. Other 2.}}}}
          invalid: {{text: {{ja: 番号が違います。, en: Invalid.}}}}
          nobody: {{text: {{ja: 担当者がおりません。, en: Nobody is here.}}}}
          intro: {{text: {{ja: 本日のイベントです。}}}}
          none_today: {{text: {{ja: 本日のイベントはありません。}}}}
        """) + prompts


def kinds_of(events: list[dict], uniqueid: str, kind: str) -> list[dict]:
    return [json.loads(e["payload"]) | {"at": e["occurred_at"]}
            for e in sorted(events, key=lambda e: e["id"])
            if e["uniqueid"] == uniqueid and e["kind"] == kind]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_ivr_menus_language_event_menu_and_apply_on_asterisk(
        state_dir: Path, database_url: str):
    flows = state_dir / "flows"
    write_flows(flows, flows_yaml())
    env = environment(state_dir, database_url, flows)
    async with RunningStack(env, state_dir, ports()["gateway_port"]) as stack:
        # English, then the tax department: its queue (nobody there: the English message)
        done = await dial(MENU_LINE, state_dir, "en-tax", [(1.0, "2"), (1.5, "1")])
        assert done.remote_hangups == 1, done.describe()
        [record] = await record_for(database_url, MENU_LINE)
        assert (record["menu_path"], record["language"], record["queue"],
                record["overflow_reason"]) == ("lang:2>menu:1", "en", "tax", "no_agents")

        # Japanese, an invalid key, then a retry choosing 2
        done = await dial(MENU_LINE, state_dir, "invalid", [(1.0, "1"), (1.0, "7"),
                                                          (2.5, "2")])
        assert done.remote_hangups == 1, done.describe()
        record = (await record_for(database_url, MENU_LINE, count=2))[1]
        assert (record["menu_path"], record["language"], record["queue"]) == \
            ("lang:1>menu:invalid>menu:2", "ja", "other")

        # silence: the language defaults to Japanese, the menu times out twice -> default
        done = await dial(MENU_LINE, state_dir, "silence", [])
        assert done.remote_hangups == 1, done.describe()
        record = (await record_for(database_url, MENU_LINE, count=3))[2]
        assert (record["menu_path"], record["language"], record["queue"]) == \
            ("lang:timeout>menu:timeout>menu:timeout", "ja", "other")

        # the event menu: 8 events today; the caller presses 3 and hears its status
        items = []
        for n in range(8):
            created = await stack.api("POST", "/api/events/city-events",
                                      {"title_text": f"催し{n + 1}", "status": STATUSES[n],
                                       "by": "kanko-ka"}, expect=201)
            items.append(created)
        done = await dial(EVENT_LINE, state_dir, "event-3", [(2.0, "3")])
        assert done.remote_hangups == 1, done.describe()
        [first] = await record_for(database_url, EVENT_LINE)
        events = await rows(database_url, call_events)
        [heard] = kinds_of(events, first["uniqueid"], "EventAnnounced")
        assert (heard["position"], heard["item"], heard["status"]) == \
            (3, str(items[2]["id"]), "next_day")
        assert first["outcome"] == "event_info" and first["menu_path"] == "ev:3"

        # staff change event 3; the next caller choosing 3 hears the new status
        changed_at = time.time()
        await stack.api("PATCH", f"/api/events/city-events/{items[2]['id']}",
                        {"status": "cancelled", "by": "kanko-ka"})
        pushed = time.time() - changed_at
        done = await dial(EVENT_LINE, state_dir, "event-3-changed", [(1.0, "3")])
        assert done.remote_hangups == 1, done.describe()
        second = (await record_for(database_url, EVENT_LINE, count=2))[1]
        events = await rows(database_url, call_events)
        [heard] = kinds_of(events, second["uniqueid"], "EventAnnounced")
        assert heard["status"] == "cancelled"
        entered = second["entered_at"] - changed_at

        # a bad file: refused, and the running flow goes on serving calls
        write_flows(flows, flows_yaml(extra_choice=', "3": nowhere'))
        refused = await stack.api("POST", "/api/ivr/apply", expect=422)
        assert refused["error_id"] == "FLOWS_INVALID"
        assert any("leads to unknown node 'nowhere'" in d for d in refused["details"])
        done = await dial(MENU_LINE, state_dir, "after-bad", [(1.0, "1"), (1.5, "1")])
        assert done.remote_hangups == 1, done.describe()
        record = (await record_for(database_url, MENU_LINE, count=4))[3]
        assert (record["menu_path"], record["queue"]) == ("lang:1>menu:1", "tax")

        # a good file adds choice 9 (hang up); the next call takes it
        write_flows(flows, flows_yaml(extra_choice=', "9": bye'))
        apply_started = time.monotonic()
        await stack.api("POST", "/api/ivr/apply")
        applied = time.monotonic() - apply_started
        call_started = time.time()
        done = await dial(MENU_LINE, state_dir, "after-apply", [(1.0, "1"), (1.5, "9")])
        assert done.remote_hangups == 1, done.describe()
        record = (await record_for(database_url, MENU_LINE, count=5))[4]
        assert (record["menu_path"], record["outcome"]) == ("lang:1>menu:9", "ivr")
        events = await rows(database_url, call_events)
        [exited] = kinds_of(events, record["uniqueid"], "FlowExited")
        assert exited["node"] == "bye"
        print(f"\nivr apply answered in {applied:.2f} s; the next call (placed at once) was "
              f"served by the new flow {record['entered_at'] - call_started + applied:.2f} s "
              f"after the apply began (its new node reached "
              f"{exited['at'] - call_started + applied:.2f} s after, keys included)")
        print(f"event status change: pushed in {pushed * 1000:.0f} ms; the next call entered "
              f"{entered:.2f} s after the change and heard the new status")
    assert stack.returncode == 0, stack.log_tail()


DESK_LINE = "0467000710"  # recorded 'always': 1 the environment department, 2 a message
HOURS_LINE = "0467000720"  # a calendar closed today and tomorrow
KANKYO = "0467000203"


def exit_nodes_yaml() -> str:
    today = datetime.now(TOKYO).date()
    return textwrap.dedent(f"""\
        lines:
          - did: "{DESK_LINE}"
            name: 窓口案内
            flow: desk
            recording: always
            notice: notice
          - did: "{HOURS_LINE}"
            name: 時間外テスト
            flow: hours
            recording: off
        queues:
          - name: tax
            max_wait: 10
        transfers:
          allow: ["0467XXXXXX"]
          departments: {{kankyo: "{KANKYO}"}}
        calendars:
          - name: closed-today
            hours:
              daily: ["00:00-24:00"]
            holidays: open
            year_end_closure: false
            closed_dates: [{today}, {today + timedelta(days=1)}]
        flows:
          desk:
            start: menu
            nodes:
              menu:
                type: menu
                prompt: menu
                choices: {{"1": kankyo, "2": message}}
                timeout: 5
                retries: 0
                default: message
              kankyo: {{type: transfer, to: kankyo, timeout: 10}}
              message: {{type: voicemail, prompt: leave}}
          hours:
            start: hours
            nodes:
              hours: {{type: calendar, calendar: closed-today, open: tax, closed: shut}}
              tax: {{type: queue, queue: tax}}
              shut: {{type: hangup, prompts: [closed]}}
        prompts:
          notice: {{text: {{ja: 録音します。}}}}
          menu: {{text: {{ja: 環境は1、伝言は2。}}}}
          leave: {{text: {{ja: 伝言をどうぞ。}}}}
          closed: {{text: {{ja: 本日は休みです。}}}}
        """)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_ivr_transfer_voicemail_and_calendar_nodes_on_asterisk(
        state_dir: Path, database_url: str):
    """Three calls at once on one stack: a transfer node to an allowed number (a SIPp UAS
    on the carrier's address answers and talks; the line's recording goes on through the
    transfer), a voicemail node (the message is stored and listed), and a calendar node
    sending a closed day to its closed message."""
    flows = state_dir / "flows"
    write_flows(flows, exit_nodes_yaml())
    carrier_port = free_udp_port(CARRIER_ADDRESS)
    env = environment(state_dir, database_url, flows) | {
        "MADOGUCHI_CARRIER_PORT": str(carrier_port)}
    async with RunningStack(env, state_dir, ports()["gateway_port"]) as stack:
        async with SippAgent("kankyo", carrier_port, state_dir / "sipp", talk_seconds=9,
                             address=CARRIER_ADDRESS) as kankyo:
            transferred, message, closed = await asyncio.gather(
                dial(DESK_LINE, state_dir, "transfer", [(3.0, "1")]),
                # the caller speaks, then hangs up (the message is kept)
                dial(DESK_LINE, state_dir, "voicemail", [(3.0, "2")], speak_after=3.0,
                     wait=8.0, hang_up=True),
                dial(HOURS_LINE, state_dir, "closed-day", []))
            counts = kankyo.counts()
            identity = kankyo.identities()
        for done in (transferred, closed):
            assert done.remote_hangups == 1, done.describe()
        assert (message.successful, message.local_hangups) == (1, 1), message.describe()
        assert (counts.offered, counts.answered) == (1, 1), counts

        desk = await record_for(database_url, DESK_LINE, count=2)
        by_path = {r["menu_path"]: r for r in desk}
        out, left = by_path["menu:1"], by_path["menu:2"]
        [shut] = await record_for(database_url, HOURS_LINE)
        listed = await stack.api("GET", "/api/voicemails")
        events = await rows(database_url, call_events)

        # (a) the transfer node: the call left the flow for the department's number
        assert out["outcome"] == "transferred" and out["agent"] is None
        [exited] = kinds_of(events, out["uniqueid"], "FlowExited")
        assert (exited["node"], exited["kind"], exited["target"]) == \
            ("kankyo", "transfer", KANKYO)
        assert out["recording_file"], out
        # the department sees the line's number (番号通知), not the caller's: in From and in
        # P-Asserted-Identity
        [seen] = identity
        assert seen.count(f"sip:{DESK_LINE}@") == 2 and "0312340000" not in seen, seen
        # the recording holds the transferred conversation: the department's 7 s of
        # speech (nothing is recorded in the menus, before the transfer)
        for _ in range(100):
            row = (await recording_rows(database_url)).get(out["uniqueid"])
            if row is not None and row["status"] == "sealed":
                break
            await asyncio.sleep(0.2)
        seconds, rms = seconds_and_rms(await sealed_audio(database_url, state_dir,
                                                          out["uniqueid"]))
        talk = out["ended_at"] - exited["at"]
        assert seconds >= 6.0 and seconds <= talk + 1.0, (seconds, talk)
        assert rms > 100, rms

        # (b) the voicemail node: the message is stored and listed
        assert left["outcome"] == "voicemail", left
        [vm] = [v for v in listed if v["uniqueid"] == left["uniqueid"]]
        assert vm["line"] == DESK_LINE and vm["caller"] == "0312340000"
        assert vm["seconds"] >= 5.0, vm
        assert left["recording_file"] is None  # nobody talked with the caller

        # (c) the calendar node: a closed day goes to the closed message, not the queue
        assert (shut["outcome"], shut["calendar_status"]) == ("after_hours", "closed")
        assert shut["queue_joined_at"] is None and shut["agents_rung"] == 0
        [decided] = kinds_of(events, shut["uniqueid"], "CalendarDecided")
        assert decided["status"] == "closed"
        [exited] = kinds_of(events, shut["uniqueid"], "FlowExited")
        assert (exited["node"], exited["kind"]) == ("shut", "hangup")
    assert stack.returncode == 0, stack.log_tail()
