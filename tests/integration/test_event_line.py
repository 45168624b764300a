"""The event-information line on a real `acd up`: staff create 8 events for today with
different statuses through the HTTP API, a caller hears the intro and every event's
title and status (one EventAnnounced per event in the event log, a call as long as the
prompts), then a status change through the API is heard by the next caller -- pushed to
the dialplan's global variables, no dialplan reload. The call records say event_info,
never a queue's outcome.

Ports: the shared TEST_PORTS (``MDG_PORT_BASE`` moves them).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from acd.adapters.db.schema import call_events, call_records
from tests.support.flows import write_flows
from tests.support.rtp_sniff import prompt_seconds
from tests.support.stack import RunningStack, call, environment, ports
from tests.support.tables import record_for, rows

pytestmark = pytest.mark.integration

EVENT_LINE = "0467000800"
INTRO = "本日のイベントをお知らせします。"
NONE_TODAY = "本日のイベントはありません。"
STATUSES = {  # id: announcement (short, to keep the calls short)
    "held": "は開催します。",
    "cancelled": "は中止です。",
    "next_day": "は明日に順延です。",
    "postponed": "は延期です。",
    "venue_changed": "は会場が変わりました。",
    "time_changed": "は時間が変わりました。",
    "full": "は定員に達しました。",
    "registration_closed": "は受付を終了しました。",
    "rain_or_shine": "は雨天決行です。",
    "undecided": "は未定です。",
}
TITLES = ["朝市", "花火大会", "写生会", "ヨガ教室", "清掃活動", "音楽会", "古本市", "講演会"]


def flows_yaml() -> str:
    statuses = "".join(f"  {sid}: st_{sid}\n" for sid in STATUSES)
    prompts = "".join(f"  st_{sid}:\n    text:\n      ja: {text}\n"
                      for sid, text in STATUSES.items())
    return textwrap.dedent(f"""\
        lines:
          - did: "{EVENT_LINE}"
            name: イベント案内
            events: city-events
            intro_prompt: intro
            no_events_prompt: none_today
        queues:
          - name: main
        event_statuses:
        """) + statuses + textwrap.dedent(f"""\
        prompts:
          intro:
            text:
              ja: {INTRO}
          none_today:
            text:
              ja: {NONE_TODAY}
        """) + prompts


def heard_at(events: list[dict], uniqueid: str) -> float:
    """When the first event's announcement (title + status) had been played."""
    return next(e["occurred_at"] for e in events
                if e["uniqueid"] == uniqueid and e["kind"] == "EventAnnounced")


def announced(events: list[dict], uniqueid: str) -> list[tuple[int, str, str]]:
    """(position, item id, status) of each event announced to the call, in order."""
    payloads = [json.loads(e["payload"]) for e in sorted(events, key=lambda e: e["id"])
                if e["uniqueid"] == uniqueid and e["kind"] == "EventAnnounced"]
    return [(p["position"], p["item"], p["status"]) for p in payloads]


async def test_event_line_announces_todays_events_and_a_status_change_reaches_the_next_call(
        state_dir: Path, database_url: str):
    flows = state_dir / "flows"
    write_flows(flows, flows_yaml())
    statuses = list(STATUSES)
    async with RunningStack(environment(state_dir, database_url, flows), state_dir,
                            ports()["gateway_port"]) as stack:
        assert await stack.api("GET", "/api/event-statuses") == {
            sid: f"st_{sid}" for sid in STATUSES}
        # no events yet: the line says so
        first = await call(EVENT_LINE, state_dir, "none")
        assert (first.successful, first.remote_hangups) == (1, 1), first.describe()
        [empty] = await record_for(database_url, EVENT_LINE)
        assert empty["outcome"] == "event_info"
        seconds = empty["ended_at"] - empty["entered_at"]
        expected = prompt_seconds(state_dir, INTRO) + prompt_seconds(state_dir, NONE_TODAY)
        assert expected - 0.3 <= seconds <= expected + 3, (seconds, expected)

        # staff add today's 8 events, each with another status
        items = []
        for title, status in zip(TITLES, statuses, strict=False):
            created = await stack.api("POST", "/api/events/city-events",
                                      {"title_text": title, "status": status,
                                       "by": "kanko-ka"}, expect=201)
            assert created["pushed"] is True
            items.append(created)
        listed = await stack.api("GET", "/api/events/city-events")
        assert [(i["position"], i["status"]) for i in listed["items"]] == \
            [(n, s) for n, s in enumerate(statuses[:8], start=1)]

        # errors a staff member can act on
        bad = await stack.api("POST", "/api/events/city-events",
                              {"title_text": "x", "status": "exploded", "by": "k"}, expect=422)
        assert bad["error_id"] == "STATUS_UNKNOWN" and "held" in bad["details"]["known"]
        unknown = await stack.api("GET", "/api/events/nosuch", expect=404)
        assert unknown["error_id"] == "EVENTS_UNKNOWN"

        second = await call(EVENT_LINE, state_dir, "eight")
        assert (second.successful, second.remote_hangups) == (1, 1), second.describe()
        eight = (await record_for(database_url, EVENT_LINE, count=2))[1]
        events = await rows(database_url, call_events)
        assert announced(events, eight["uniqueid"]) == [
            (n, str(item["id"]), item["status"]) for n, item in enumerate(items, start=1)]
        seconds = eight["ended_at"] - eight["entered_at"]
        expected = prompt_seconds(state_dir, INTRO) + sum(
            prompt_seconds(state_dir, title) + prompt_seconds(state_dir, STATUSES[status])
            for title, status in zip(TITLES, statuses, strict=False))
        # never shorter than the prompts; on a loaded 2-core machine playback has been
        # seen to run ~13 s late, so the upper bound only catches a call that hangs
        assert expected - 0.5 <= seconds <= expected + 20, (seconds, expected)

        # a status change: pushed before the API answers, heard by the next call
        changed_wall = time.time()
        changed_at = time.monotonic()
        changed = await stack.api("PATCH", f"/api/events/city-events/{items[0]['id']}",
                                  {"status": "cancelled", "by": "kanko-ka"})
        pushed_after = time.monotonic() - changed_at
        assert changed["pushed"] is True and changed["status"] == "cancelled"
        third = await call(EVENT_LINE, state_dir, "changed")
        assert (third.successful, third.remote_hangups) == (1, 1), third.describe()
        after = (await record_for(database_url, EVENT_LINE, count=3))[2]
        events = await rows(database_url, call_events)
        heard = announced(events, after["uniqueid"])
        assert heard[0] == (1, str(items[0]["id"]), "cancelled")
        assert [status for _, _, status in heard[1:]] == statuses[1:8]
        # the call began after the change was pushed: the change took pushed_after s
        print(f"\nstatus change pushed to Asterisk (API round trip) in {pushed_after * 1000:.0f} "
              f"ms; the next call entered {after['entered_at'] - changed_wall:.2f} s after the "
              f"change and heard the new status "
              f"{heard_at(events, after['uniqueid']) - changed_wall:.2f} s after it")
        assert pushed_after < 1.0, pushed_after

        # deleting an event (who deletes is required)
        await stack.api("DELETE", f"/api/events/city-events/{items[7]['id']}?by=kanko-ka")
        missing_by = await stack.api("DELETE", f"/api/events/city-events/{items[6]['id']}",
                                     expect=422)
        assert missing_by["error_id"] == "WHO_MISSING"
        listed = await stack.api("GET", "/api/events/city-events")
        assert len(listed["items"]) == 7

        # the command line does the same through the gateway
        env = environment(state_dir, database_url, flows)
        acd = [sys.executable, "-m", "acd.cli.main", "events"]
        done = await asyncio.to_thread(
            subprocess.run, acd + ["set", "city-events", str(items[1]["id"]), "--status",
                                   "held", "--by", "kanko-ka"],
            env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert f"{items[1]['id']}\t" in done.stdout and "\theld\t" in done.stdout
        done = await asyncio.to_thread(
            subprocess.run, acd + ["set", "city-events", str(items[1]["id"]), "--status",
                                   "exploded", "--by", "kanko-ka"],
            env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1 and "STATUS_UNKNOWN" in done.stderr
        done = await asyncio.to_thread(subprocess.run, acd + ["list", "city-events"], env=env,
                                       capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and len(done.stdout.splitlines()) == 7, done.stdout

        records = [r for r in await rows(database_url, call_records) if r["line"] == EVENT_LINE]
    assert stack.returncode == 0, stack.log_tail()
    assert {(r["outcome"], r["queue"], r["queue_joined_at"], r["agent"]) for r in records} == \
        {("event_info", "", None, None)}
