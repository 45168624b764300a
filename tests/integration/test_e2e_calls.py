"""The walking skeleton end to end: `acd up` on a real Asterisk, SIPp agents that
REGISTER with generated credentials, 10 SIPp calls with audio from the carrier side.

Every call must be answered, both agents used, a call record per call written with its
line, queue, agent, times, wait and talk seconds, and a sealed recording whose length
matches the talk time within 1 s and that is not silence. Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from acd.adapters.db.engine import make_engine
from acd.adapters.db.schema import call_events, call_records
from tests.conftest import TEST_PORTS, stack_env
from tests.support.recordings import sealed_audio, seconds_and_rms
from tests.support.sipp import SippAgent, free_udp_port, register_agents, run_callers
from tests.support.stack import RunningStack

pytestmark = pytest.mark.integration

DID = "0570000123"
AGENTS = ("1001", "1002")
CALLS = 10
TALK_SECONDS = 5.0


async def fetch(url: str, table):
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            query = select(table).order_by(*table.primary_key.columns)
            return [dict(r) for r in (await conn.execute(query)).mappings().all()]
    finally:
        await engine.dispose()


async def wait_for_log(url: str, calls: int, timeout: float = 15) -> None:
    """Wait until the controller has logged the ends of all calls (or give up)."""
    for _ in range(int(timeout / 0.2)):
        ended = [e for e in await fetch(url, call_events) if e["kind"] == "AgentCallEnded"]
        if len(ended) >= calls and len(await fetch(url, call_records)) >= calls:
            return
        await asyncio.sleep(0.2)


async def test_ten_calls_over_two_agents_are_answered_recorded_and_logged(
        state_dir: Path, database_url: str):
    env = stack_env(state_dir, database_url)
    sipp_dir = state_dir / "sipp"
    async with RunningStack(env, state_dir, TEST_PORTS["gateway_port"]) as stack:
        passwords = await stack.add_agents(list(AGENTS))
        ports = {agent: free_udp_port() for agent in AGENTS}
        await register_agents(list(passwords.items()), TEST_PORTS["sip_port"], ports, sipp_dir)
        agents = [SippAgent(a, ports[a], sipp_dir, talk_seconds=TALK_SECONDS) for a in AGENTS]
        for agent in agents:
            await agent.start()
        try:
            result = await run_callers(DID, TEST_PORTS["sip_port"], CALLS, rate=2.0,
                                       workdir=sipp_dir, max_seconds=150)
        finally:
            counts = [await agent.stop() for agent in agents]
        await wait_for_log(database_url, calls=CALLS)
        assert not result.overloaded, result.overload_warnings  # SIPp itself kept up
        assert (result.successful, result.failed) == (CALLS, 0), result.errors
    assert stack.returncode == 0, stack.log_tail()

    assert all(c.answered >= 1 for c in counts), counts  # both agents used
    assert sum(c.completed for c in counts) == CALLS

    records = await fetch(database_url, call_records)
    assert len(records) == CALLS
    assert sorted(r["caller"] for r in records) == sorted(result.caller_numbers)
    assert {r["agent"] for r in records} == set(AGENTS)
    for r in records:
        assert (r["line"], r["queue"], r["outcome"], r["close_reason"]) == \
            (DID, "main", "answered", "hangup")
        assert r["entered_at"] <= r["queue_joined_at"] <= r["answered_at"] < r["ended_at"]
        assert r["wait_seconds"] == pytest.approx(r["answered_at"] - r["queue_joined_at"],
                                                  abs=0.01)
        assert TALK_SECONDS - 1 <= r["talk_seconds"] <= TALK_SECONDS + 1.5
        recording = Path(r["recording_file"])
        assert recording.is_relative_to(state_dir / "recordings")
        assert not recording.exists()  # sealed at rest once the call ended
        seconds, rms = seconds_and_rms(await sealed_audio(database_url, state_dir,
                                                              r["uniqueid"]))
        assert abs(seconds - r["talk_seconds"]) <= 1.0, (recording, seconds, r["talk_seconds"])
        assert rms > 100, f"{recording} is silence (RMS {rms:.0f})"

    events = await fetch(database_url, call_events)
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    kinds = [e["kind"] for e in events]
    for kind in ("LineEntered", "QueueJoined", "AgentAnswered", "AgentCallEnded"):
        assert kinds.count(kind) == CALLS, kind
    assert kinds.count("AmiConnected") == 1
    assert "OfferViolation" not in kinds
