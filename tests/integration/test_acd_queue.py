"""Waiting callers and agents' states on a real Asterisk: wrap-up, ring-no-answer,
congestion message, max-wait overflow to voicemail, queue full, nobody logged in, abandon."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from acd.adapters.db.engine import make_engine
from acd.adapters.db.schema import call_records
from tests.conftest import TEST_PORTS, stack_env
from tests.support.event_log import load_events
from tests.support.recordings import sealed_audio, wav_seconds_of
from tests.support.rtp_sniff import RtpSniffer, best_match, synthesized_prompt
from tests.support.sipp import SippAgent, free_udp_port, register_agents, run_callers
from tests.support.stack import RunningStack
from tests.support.waiting import until

pytestmark = pytest.mark.integration
SIP = TEST_PORTS["sip_port"]
CONGESTION_TEXT = "ただいま混み合っております。そのままお待ちください。"  # fixture prompts
PERIODIC_TEXT = "もうしばらくお待ちください。"


async def records(url: str) -> dict[str, dict]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(call_records))).mappings().all()
    finally:
        await engine.dispose()
    return {r["caller"]: dict(r) for r in rows}


async def agent_state(stack: RunningStack, agent: str) -> dict:
    return next(a for a in await stack.api("GET", "/api/agents") if a["id"] == agent)


async def registered_agents(stack, ids, queue, workdir, **agent_options) -> dict[str, SippAgent]:
    passwords = await stack.add_agents(ids, queues=(queue,))
    ports = {a: free_udp_port() for a in ids}
    await register_agents(list(passwords.items()), SIP, ports, workdir)
    agents = {a: SippAgent(a, ports[a], workdir, **agent_options.get(a, {"talk_seconds": 1.0}))
              for a in ids}
    for agent in agents.values():
        await agent.start()
    return agents


async def test_wrapup_ends_on_disposition_and_on_timeout_and_no_answer_moves_on(
        state_dir: Path):
    url = f"sqlite+aiosqlite:///{state_dir}/db.sqlite"
    sipp = state_dir / "sipp"
    async with RunningStack(stack_env(state_dir, url), state_dir,
                            TEST_PORTS["gateway_port"]) as stack:
        # 3001 is first in line but never answers in time (rings 8 s > ring_timeout 5 s)
        agents = await registered_agents(stack, ["3001", "3002"], "wrapup", sipp, **{
            "3001": {"talk_seconds": 1.0, "ring_seconds": 8.0},
            "3002": {"talk_seconds": 1.0}})
        try:
            first = await run_callers("0570000200", SIP, 1, 1.0, sipp / "a",
                                      caller_start="0311110001", max_seconds=60)
            assert first.successful == 1, first.describe()
            missed = await agent_state(stack, "3001")
            assert (missed["status"], missed["reason"]) == ("missed", "missed")
            taker = await until(lambda: _in_wrapup(stack, "3002"), 5, "wrap-up of 3002")
            # the disposition ends the wrap-up at once
            ready = await stack.api("POST", "/api/agents/3002/disposition",
                                    {"uniqueid": taker["call"], "outcome": "完了",
                                     "category": "住民票", "note": "案内済み"})
            assert ready["status"] == "ready"
            bad = await stack.api("POST", "/api/agents/3002/disposition",
                                  {"uniqueid": "nope", "outcome": "完了"}, expect=403)
            assert bad["error_id"] == "NOT_YOUR_CALL"
            # 3001 stays missed: the next call goes to 3002, whose wrap-up then times out
            second = await run_callers("0570000200", SIP, 1, 1.0, sipp / "b",
                                       caller_start="0311110002", max_seconds=60)
            assert second.successful == 1, second.describe()
            await until(lambda: _in_wrapup(stack, "3002"), 5, "second wrap-up")
            await until(lambda: _status_is(stack, "3002", "ready"), 10, "wrap-up timeout")
            back = await stack.api("POST", "/api/agents/3001/ready")
            assert back["status"] == "ready"
        finally:
            for agent in agents.values():
                await agent.stop()
    assert stack.returncode == 0
    events = await load_events(url)
    changes = [(e["payload"]["agent"], e["payload"]["status"], e["payload"]["reason"])
               for e in events if e["kind"] == "AgentStateChanged"]
    assert ("3001", "missed", "missed") in changes
    assert ("3002", "ready", "wrapup_timeout") in changes
    assert [e["payload"]["agent"] for e in events if e["kind"] == "AgentRingNoAnswer"] == ["3001"]
    assert [e["payload"]["agent"] for e in events if e["kind"] == "AgentAnswered"] == \
        ["3002", "3002"]
    disposition = next(e for e in events if e["kind"] == "DispositionRecorded")
    assert (disposition["payload"]["outcome"], disposition["payload"]["category"]) == \
        ("完了", "住民票")
    assert not any(e["kind"] == "OfferViolation" for e in events)


async def _in_wrapup(stack, agent):
    state = await agent_state(stack, agent)
    return state if state["status"] == "wrapup" else None


async def _status_is(stack, agent, status):
    return (await agent_state(stack, agent))["status"] == status


async def test_congestion_overflow_voicemail_busy_no_agents_and_abandon(state_dir: Path):
    url = f"sqlite+aiosqlite:///{state_dir}/db.sqlite"
    sipp = state_dir / "sipp"
    async with RunningStack(stack_env(state_dir, url), state_dir,
                            TEST_PORTS["gateway_port"]) as stack:
        # nobody logged in: the no-agents message, then voicemail; the caller speaks
        alone = await run_callers("0570000300", SIP, 1, 1.0, sipp / "n",
                                  caller_start="0322220001", hangup_after=12, max_seconds=40)
        assert alone.successful == 1, alone.describe()

        # one agent logged in but away: callers hear the congestion message and wait
        passwords = await stack.add_agents(["3101"], queues=("small",))
        port = free_udp_port()
        await register_agents(list(passwords.items()), SIP, {"3101": port}, sipp)
        await stack.api("POST", "/api/agents/3101/away", {"reason": "break"})
        with RtpSniffer("127.0.0.2") as sniffer:  # what the waiting caller hears
            waiting = asyncio.create_task(run_callers(
                "0570000300", SIP, 1, 1.0, sipp / "w", caller_start="0322220002",
                hangup_after=35, max_seconds=70))
            await asyncio.sleep(6)  # the first caller is in the queue (max 1 caller)
            # this stack's audio comes from its RTP ports (other stacks may be running)
            waiting_port = next(p.dst_port for p in sniffer.packets
                                if TEST_PORTS["rtp_start"] <= p.src_port <= TEST_PORTS["rtp_end"])
            full = await run_callers("0570000300", SIP, 1, 1.0, sipp / "f",
                                     caller_start="0322220003", hangup_after=10,
                                     max_seconds=40)
            abandoning = await run_callers("0570000300", SIP, 1, 1.0, sipp / "x",
                                           caller_start="0322220004", hangup_after=2,
                                           max_seconds=30)
            timed_out = await waiting
        heard = sniffer.audio(port=waiting_port)
        congestion = best_match(heard, synthesized_prompt(state_dir, CONGESTION_TEXT))
        periodic = best_match(heard, synthesized_prompt(state_dir, PERIODIC_TEXT))
        print(f"\nwaiting caller heard: congestion {congestion:.3f}, periodic {periodic:.3f}")
        assert congestion > 0.9 and periodic > 0.9, (congestion, periodic)
        for result in (full, abandoning, timed_out):
            assert result.successful == 1, result.describe()
        # only the first caller still spoke when the recording began (SIPp plays its 7 s
        # of audio once, from the answer): the others left no message
        voicemail = await stack.api("GET", "/api/voicemails")
        assert [v["caller"] for v in voicemail] == ["0322220001"]
        first = voicemail[0]
        assert first["seconds"] >= 1
        handled = await stack.api("POST", f"/api/voicemails/{first['uniqueid']}/handled",
                                  {"by": "supervisor1"})
        assert handled["handled_by"] == "supervisor1"
        assert await stack.api("GET", "/api/voicemails?unhandled=1") == []
    got = await records(url)
    assert (got["0322220001"]["outcome"], got["0322220001"]["overflow_reason"]) == \
        ("voicemail", "no_agents")
    waited = got["0322220002"]
    assert (waited["outcome"], waited["overflow_reason"]) == ("overflow", "timeout")
    assert waited["congestion_seconds"] > 1
    assert 17 <= waited["wait_seconds"] <= 20  # max_wait 18 s, congestion excluded
    assert (got["0322220003"]["outcome"], got["0322220003"]["overflow_reason"]) == \
        ("overflow", "full")
    # the message was sealed at rest once the call ended: no plain WAV is left
    assert list((state_dir / "recordings" / "voicemail").rglob("*.wav")) == []
    message = await sealed_audio(url, state_dir, first["uniqueid"] + "-vm")
    assert wav_seconds_of(message) == first["seconds"]
    abandoned = got["0322220004"]
    assert abandoned["outcome"] == "abandoned" and abandoned["wait_seconds"] is None


async def test_api_errors_are_clear_and_leave_state_unchanged_and_abandons_keep_position(
        state_dir: Path):
    url = f"sqlite+aiosqlite:///{state_dir}/db.sqlite"
    sipp = state_dir / "sipp"
    async with RunningStack(stack_env(state_dir, url), state_dir,
                            TEST_PORTS["gateway_port"]) as stack:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{stack.gateway}/api/agents") as resp:
                assert resp.status == 401
                assert (await resp.json())["error_id"] == "UNAUTHENTICATED"
        passwords = await stack.add_agents(["3201"], queues=("wrapup",))
        duplicate = await stack.api("POST", "/api/agents", {
            "id": "3201", "name": "x", "queues": [{"queue": "wrapup"}]}, expect=409)
        assert duplicate["error_id"] == "AGENT_EXISTS"
        invalid = await stack.api("POST", "/api/agents", {
            "id": "x1", "name": "", "queues": [], "colour": "red"}, expect=422)
        assert invalid["error_id"] == "INVALID_BODY"
        assert {d["field"] for d in invalid["details"]} >= {"id", "name", "queues", "colour"}
        unknown = await stack.api("POST", "/api/agents/9999/ready", {}, expect=404)
        assert unknown["error_id"] == "AGENT_UNKNOWN"
        # repeated requests whose outcome already holds are no-op successes
        twice = await stack.api("POST", "/api/agents/3201/login", {})
        again = await stack.api("POST", "/api/agents/3201/ready", {})
        assert twice["status"] == again["status"] == "ready"
        assert twice["since"] == again["since"]  # nothing changed
        assert (await agent_state(stack, "3201"))["status"] == "ready"

        # the agent is away: two callers wait in the queue and give up after 6 s
        await register_agents(list(passwords.items()), SIP, {"3201": free_udp_port()}, sipp)
        await stack.api("POST", "/api/agents/3201/away", {"reason": "training"})
        gave_up = await run_callers("0570000200", SIP, 2, 2.0, sipp / "g",
                                    caller_start="0344440001", hangup_after=6, max_seconds=30)
        assert gave_up.successful == 2, gave_up.describe()
        await asyncio.sleep(0.5)
    got = await records(url)
    first, second = got["0344440001"], got["0344440002"]
    assert (first["outcome"], second["outcome"]) == ("abandoned", "abandoned")
    # entered 1st and 2nd; each was 1st in line when giving up (the other had left)
    assert (first["queue_position"], second["queue_position"]) == (1, 2)
    assert (first["abandoned_position"], second["abandoned_position"]) == (1, 1)
    assert 5 <= first["wait_seconds"] <= 6.5 and 5 <= second["wait_seconds"] <= 6.5
