"""Recording policies on a real Asterisk: the notice of an ``always`` line, on-demand
recording started and stopped by the API.

One `acd up` with the flows of ``tests/fixtures/flows_recording``, one SIPp agent that
talks 12 s and what the callers receive captured on the loopback (RTP to 127.0.0.2):

1. ``always``: the notice prompt reaches the caller before the agent answers (its audio
   is found sample for sample, by cross-correlation, in what the caller received before
   the AgentAnswered time), and the call is recorded.
2. ``on_demand``: no notice is heard and nothing is recorded by itself; the API refuses a
   stop before a start, starts recording ~1 s into the conversation and stops it ~4 s
   later; the call leaves one sealed segment of about the started-to-stopped length that
   is not silence, and the event log has RecordingStarted/RecordingStopped with who.
   Starting on the ``always`` line is refused (409 RECORDING_NOT_ON_DEMAND).

SQLite only: the SQL is covered on both databases by the unit tests.
Ports: the test ports (``MDG_PORT_BASE``).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from acd.adapters.db.engine import make_engine
from acd.adapters.db.schema import call_events
from tests.conftest import FIXTURES, TEST_PORTS, stack_env
from tests.support.recordings import seconds_and_rms
from tests.support.rtp_sniff import RtpSniffer, best_match_in, synthesized_prompt
from tests.support.sipp import SippAgent, free_udp_port, register_agents, run_callers
from tests.support.stack import RunningStack

pytestmark = pytest.mark.integration

ALWAYS, ON_DEMAND = "0570000123", "0570000500"
AGENT = "1001"
TALK_SECONDS = 12.0
NOTICE = "この通話は録音されます。"
WHO = "山田 花子"


async def events_of(url: str, uniqueid: str) -> list[tuple[str, float, dict]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(call_events).where(
                call_events.c.uniqueid == uniqueid).order_by(call_events.c.id))).all()
    finally:
        await engine.dispose()
    return [(r.kind, r.occurred_at, json.loads(r.payload)) for r in rows]


async def current_call(stack: RunningStack, timeout: float = 20, not_this: str = "") -> str:
    """The uniqueid of the call the agent is talking on (another than ``not_this``)."""
    for _ in range(int(timeout / 0.2)):
        agents = await stack.api("GET", "/api/agents")
        mine = next(a for a in agents if a["id"] == AGENT)
        if mine["call"] and mine["status"] == "on_call" and mine["call"] != not_this:
            return mine["call"]
        await asyncio.sleep(0.2)
    raise AssertionError(f"the agent never talked: {agents}\n{stack.log_tail()}")


async def wait_sealed(stack: RunningStack, uniqueid: str, count: int,
                      timeout: float = 30) -> list[dict]:
    items: list[dict] = []
    for _ in range(int(timeout / 0.5)):
        page = await stack.api("GET", f"/api/recordings?status=all&call_uniqueid={uniqueid}")
        items = page["items"]
        if len(items) >= count and all(i["status"] == "sealed" for i in items):
            return items
        assert all(i["status"] != "failed" for i in items), items
        await asyncio.sleep(0.5)
    raise AssertionError(f"recordings of {uniqueid} not sealed: {items}\n{stack.log_tail()}")


async def control(stack: RunningStack, uniqueid: str, action: str, expect: int) -> dict:
    import aiohttp

    headers = {"Authorization": f"Bearer {stack.secrets()['api']}", "X-Madoguchi-User": WHO}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{stack.gateway}/api/calls/{uniqueid}/recording",
                             json={"action": action}, headers=headers) as resp:
            body = await resp.json()
            assert resp.status == expect, body
            return body


async def play(stack: RunningStack, item: dict) -> bytes:
    import aiohttp

    headers = {"Authorization": f"Bearer {stack.secrets()['api']}", "X-Madoguchi-User": WHO}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{stack.gateway}{item['audio_url']}", headers=headers) as resp:
            assert resp.status == 200
            return await resp.read()


async def test_notice_before_answer_and_on_demand_recording(state_dir: Path):
    url = f"sqlite+aiosqlite:///{state_dir / 'madoguchi.db'}"
    env = stack_env(state_dir, url, MADOGUCHI_FLOWS_DIR=str(FIXTURES / "flows_recording"))
    sipp_dir = state_dir / "sipp"
    async with RunningStack(env, state_dir, TEST_PORTS["gateway_port"]) as stack:
        passwords = await stack.add_agents([AGENT])
        contact = {AGENT: free_udp_port()}
        await register_agents(list(passwords.items()), TEST_PORTS["sip_port"], contact,
                              sipp_dir)
        notice = synthesized_prompt(state_dir, NOTICE)
        with RtpSniffer("127.0.0.2") as sniffer:
            async with SippAgent(AGENT, contact[AGENT], sipp_dir, talk_seconds=TALK_SECONDS,
                                 ring_seconds=1.0):
                # 1. always: the notice, then the agent
                first = asyncio.create_task(run_callers(
                    ALWAYS, TEST_PORTS["sip_port"], 1, rate=1.0, workdir=sipp_dir / "always",
                    caller_start="0311110000", max_seconds=60))
                always_call = await current_call(stack)
                refused = await control(stack, always_call, "start", 409)
                assert refused["error_id"] == "RECORDING_NOT_ON_DEMAND"
                (await first).check()
                heard_always = sniffer.packets[:]

                # 2. on demand: no notice; start and stop by the API
                sniffer.packets.clear()
                second = asyncio.create_task(run_callers(
                    ON_DEMAND, TEST_PORTS["sip_port"], 1, rate=1.0,
                    workdir=sipp_dir / "on_demand", caller_start="0322220000",
                    max_seconds=60))
                call = await current_call(stack, not_this=always_call)
                none = await control(stack, call, "stop", 409)
                assert none["error_id"] == "RECORDING_NOT_STARTED"
                await asyncio.sleep(1.0)
                started_at = time.time()
                started = await control(stack, call, "start", 200)
                assert started["recording"] is True
                assert started["segments"][0]["started_by"] == WHO
                again = await control(stack, call, "start", 409)
                assert again["error_id"] == "RECORDING_ALREADY_STARTED"
                await asyncio.sleep(4.0)
                stopped = await control(stack, call, "stop", 200)
                stopped_at = time.time()
                assert stopped["recording"] is False
                (await second).check()
                heard_on_demand = sniffer.packets[:]

        # the notice reached the caller of the always line before the agent answered
        answered = {kind: at for kind, at, _ in await events_of(url, always_call)}
        sniffer.packets = heard_always
        score_always = best_match_in(sniffer.streams(until=answered["AgentAnswered"]), notice)
        assert score_always > 0.9, f"notice not heard before the answer ({score_always:.2f})"
        sniffer.packets = heard_on_demand
        od_events = await events_of(url, call)
        od_answered = next(at for kind, at, _ in od_events if kind == "AgentAnswered")
        score_on_demand = best_match_in(sniffer.streams(), notice)
        assert score_on_demand < 0.5, f"a notice was heard on demand ({score_on_demand:.2f})"
        assert len(sniffer.audio(until=od_answered)) > 0  # the caller did hear something
        print(f"\nnotice match: always {score_always:.3f}, on demand {score_on_demand:.3f}")

        # the always call has its whole-call recording
        always_rows = await wait_sealed(stack, always_call, 1)
        assert [r["uniqueid"] for r in always_rows] == [always_call]

        # the on-demand call: one segment, about the started-to-stopped length, not silence
        rows = await wait_sealed(stack, call, 1)
        assert [r["uniqueid"] for r in rows] == [f"{call}-r1"]
        row = rows[0]
        assert (row["segment"], row["started_by"], row["stopped_by"]) == (1, WHO, WHO)
        assert row["line"] == ON_DEMAND and row["agent"] == AGENT
        plain = await play(stack, row)
        seconds, rms = seconds_and_rms(plain)
        wanted = stopped_at - started_at
        print(f"on-demand segment: {seconds:.2f} s (started to stopped {wanted:.2f} s), "
              f"RMS {rms:.0f}")
        assert abs(seconds - wanted) < 1.0, (seconds, wanted)
        assert rms > 100, f"the segment is silence (RMS {rms:.0f})"

        kinds = [(kind, payload) for kind, _, payload in od_events]
        started_events = [p for k, p in kinds if k == "RecordingStarted"]
        stopped_events = [p for k, p in kinds if k == "RecordingStopped"]
        assert [(p["segment"], p["by"], p["role"]) for p in started_events] == \
            [(1, WHO, "service")]
        assert [(p["segment"], p["by"]) for p in stopped_events] == [(1, WHO)]
        assert not [k for k, _ in kinds if k == "RecordingFailed"]
    assert stack.returncode == 0, stack.log_tail()
    recordings = state_dir / "recordings"
    assert list(recordings.rglob("*.wav")) == []  # every file sealed, no plain one left
    events = [e.get("event") for e in stack.log_events()]
    assert "recording.failed" not in events
