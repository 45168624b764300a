"""Lines with opening hours on a real `acd up`: a line whose calendar is closed now plays
its closed message and hangs up without entering a queue (the record says after_hours),
and `acd ivr apply` loads new flows into the running Asterisk -- a broken file changes
nothing, a good one reloads the dialplan without dropping the call in progress.

The flows are written into the test's state directory. Ports: the shared TEST_PORTS
(``MDG_PORT_BASE`` moves them).
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from acd.adapters.db.schema import call_events
from acd.domain.clock import TOKYO
from tests.support.flows import write_flows
from tests.support.rtp_sniff import prompt_seconds
from tests.support.stack import RunningStack, call, environment, ports
from tests.support.tables import record_for, rows

pytestmark = pytest.mark.integration

CLOSED_LINE = "0570000500"  # its calendar is closed today
APPLY_LINE = "0570000600"  # no calendar at first; `acd ivr apply` gives it one
CLOSED_TEXT = "本日の受付は終了しました。"
LONG_TEXT = ("お電話ありがとうございます。本日は臨時休業日のため、受付をお休みしております。"
             "お手数ですが、次の開庁日の午前八時三十分から午後五時十五分までの間に、"
             "あらためておかけ直しくださいますよう、お願い申し上げます。")
APPLIED_TEXT = "ただいまの時間は受付時間外です。"


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def site_yaml(closed_text: str, apply_line_extra: str = "", extra: str = "") -> str:
    """Both lines, a queue nobody serves, and a calendar closed today and tomorrow in
    Tokyo (tomorrow too, in case the test runs over midnight)."""
    today = datetime.now(TOKYO).date()
    return textwrap.dedent(f"""\
        lines:
          - did: "{CLOSED_LINE}"
            name: 臨時休業テスト
            queue: main
            recording: off
            calendar: closed-today
            closed_prompt: closed
          - did: "{APPLY_LINE}"
            name: 適用テスト
            queue: main
            recording: off
        """) + apply_line_extra + textwrap.dedent(f"""\
        queues:
          - name: main
            max_wait: 30
            wrapup_seconds: 0
        calendars:
          - name: closed-today
            hours:
              daily: ["00:00-24:00"]
            holidays: open
            year_end_closure: false
            closed_dates: [{today}, {today + timedelta(days=1)}]
        prompts:
          closed:
            text:
              ja: {closed_text}
        """) + extra


def events_of(events: list[dict], uniqueid: str) -> list[str]:
    return [e["kind"] for e in events if e["uniqueid"] == uniqueid]


async def test_a_closed_line_plays_its_message_and_hangs_up_without_queueing(
        state_dir: Path, database_url: str):
    flows = state_dir / "flows"
    write_flows(flows, site_yaml(CLOSED_TEXT))
    async with RunningStack(environment(state_dir, database_url, flows), state_dir,
                            ports()["gateway_port"]) as stack:
        result = await call(CLOSED_LINE, state_dir, "closed")
        assert (result.successful, result.failed, result.remote_hangups) == (1, 0, 1), \
            result.describe()
        [record] = await record_for(database_url, CLOSED_LINE)
        events = await rows(database_url, call_events)
    assert stack.returncode == 0, stack.log_tail()

    assert (record["outcome"], record["calendar_status"]) == ("after_hours", "closed")
    assert record["queue_joined_at"] is None and record["agent"] is None
    assert record["answered_at"] is None and record["agents_rung"] == 0
    assert events_of(events, record["uniqueid"]) == ["LineEntered", "CalendarDecided",
                                                     "ChannelHungUp"]
    # the call lasted as long as the closed message, and hardly more
    seconds = record["ended_at"] - record["entered_at"]
    message = prompt_seconds(state_dir, CLOSED_TEXT)
    assert message - 0.3 <= seconds <= message + 3, (seconds, message)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_ivr_apply_refuses_a_broken_file_and_reloads_a_good_one_under_a_live_call(
        state_dir: Path, database_url: str):
    flows = state_dir / "flows"
    write_flows(flows, site_yaml(LONG_TEXT))
    env = environment(state_dir, database_url, flows)
    extensions = state_dir / "asterisk" / "etc" / "extensions.conf"
    async with RunningStack(env, state_dir, ports()["gateway_port"]) as stack:
        # before: the line has no calendar, its queue has nobody -> the overflow
        await call(APPLY_LINE, state_dir, "before")
        [before] = await record_for(database_url, APPLY_LINE)
        assert (before["outcome"], before["overflow_reason"], before["calendar_status"]) == \
            ("overflow", "no_agents", None)

        # a broken file: 422 with file:line:column, nothing written, nothing reloaded
        running = extensions.read_bytes()
        write_flows(flows, site_yaml(LONG_TEXT, "    calendar: nosuch\n"))
        refused = await stack.api("POST", "/api/ivr/apply", expect=422)
        assert refused["error_id"] == "FLOWS_INVALID"
        assert refused["details"] == [
            f"{flows / 'site.yaml'}:12:15: unknown calendar 'nosuch' (known: closed-today; "
            "define it under 'calendars:' in any flows file; validating one file, give the "
            "calendars' file too: acd ivr validate FILE calendars.yaml)",
            f"{flows / 'site.yaml'}:12:5: a line with a calendar needs 'closed_prompt', "
            "played when calendar 'nosuch' says the line is not open"]
        assert extensions.read_bytes() == running

        # a valid file that needs a restart (a new queue): 409, nothing written
        write_flows(flows, site_yaml(LONG_TEXT).replace(
            "queues:\n", "queues:\n  - name: tax\n"))
        needs_restart = await stack.api("POST", "/api/ivr/apply", expect=409)
        assert needs_restart["details"] == [
            "queue 'tax' is new: restart the stack (acd up) to apply it"]
        assert extensions.read_bytes() == running

        # the line still works as before
        await call(APPLY_LINE, state_dir, "after-refusal")
        records = await record_for(database_url, APPLY_LINE, count=2)
        assert records[1]["outcome"] == "overflow"

        # a call in progress (hearing the long closed message) while a good file is applied
        in_progress = asyncio.create_task(call(CLOSED_LINE, state_dir, "in-progress"))
        for _ in range(100):
            if any(e["kind"] == "CalendarDecided" for e in await rows(database_url,
                                                                       call_events)):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the call to the closed line did not reach its calendar")
        write_flows(flows, site_yaml(
            LONG_TEXT, "    calendar: closed-today\n    closed_prompt: applied\n",
            f"  applied:\n    text:\n      ja: {APPLIED_TEXT}\n"))
        applied = await stack.api("POST", "/api/ivr/apply")
        applied_at = time.time()
        assert applied["reloaded"] == ["dialplan"]
        assert {"line-0570000500", "line-0570000600", "cal-closed-today",
                "queue-main-ja"} <= set(applied["contexts"])
        assert applied["calendars"] == ["closed-today"]
        assert {(line["did"], line["calendar"], line["status_now"])
                for line in applied["lines"]} == {(CLOSED_LINE, "closed-today", "closed"),
                                                  (APPLY_LINE, "closed-today", "closed")}
        assert b"Gosub(cal-closed-today,s,1)" in extensions.read_bytes()

        live = await in_progress
        assert (live.successful, live.failed, live.remote_hangups) == (1, 0, 1), \
            live.describe()
        [kept] = await record_for(database_url, CLOSED_LINE)
        assert kept["ended_at"] > applied_at  # it was still going when the reload came
        assert (kept["outcome"], kept["calendar_status"]) == ("after_hours", "closed")
        assert kept["ended_at"] - kept["entered_at"] >= prompt_seconds(state_dir, LONG_TEXT) - 0.3

        # the next call to the line meets its new calendar and its new message
        await call(APPLY_LINE, state_dir, "after-apply")
        records = await record_for(database_url, APPLY_LINE, count=3)
        assert (records[2]["outcome"], records[2]["calendar_status"]) == \
            ("after_hours", "closed")
        assert records[2]["queue_joined_at"] is None
        seconds = records[2]["ended_at"] - records[2]["entered_at"]
        assert seconds >= prompt_seconds(state_dir, APPLIED_TEXT) - 0.3

        # the command line does the same through the gateway
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "acd.cli.main", "ivr", "apply"], env=env,
            capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert f"line {APPLY_LINE} 適用テスト: queue main, calendar closed-today, closed now" \
            in done.stdout
        assert "reloaded dialplan" in done.stdout
    assert stack.returncode == 0, stack.log_tail()


def test_ivr_apply_without_a_running_stack_validates_and_renders(state_dir: Path):
    flows = state_dir / "flows"
    write_flows(flows, site_yaml(CLOSED_TEXT, "    calendar: nosuch\n    closed_prompt: closed\n"))
    env = environment(state_dir, f"sqlite+aiosqlite:///{state_dir}/db.sqlite", flows)
    # nothing listens there, whatever else runs on this machine
    env["MADOGUCHI_GATEWAY_PORT"] = str(free_tcp_port())
    apply = [sys.executable, "-m", "acd.cli.main", "ivr", "apply"]
    done = subprocess.run(apply, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert f"{flows / 'site.yaml'}:12:15: unknown calendar 'nosuch'" in done.stderr
    assert not (state_dir / "asterisk" / "etc" / "extensions.conf").exists()

    write_flows(flows, site_yaml(CLOSED_TEXT, "    calendar: closed-today\n"
                                 "    closed_prompt: closed\n"))
    done = subprocess.run(apply, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "the stack is not running" in done.stdout
    text = (state_dir / "asterisk" / "etc" / "extensions.conf").read_text()
    assert "[cal-closed-today]" in text and text.count("Gosub(calendar,1)") == 2
