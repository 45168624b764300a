"""The line's channel limit on a real `acd up`: with ``max_channels: 5``, six calls at
once -- five are carried (one talks to the agent, four wait), the sixth hears the busy
message and is recorded as overflow (reason ``channels``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from acd.adapters.db.engine import make_engine
from acd.adapters.db.schema import call_records
from tests.conftest import FIXTURES, TEST_PORTS, stack_env
from tests.support.sipp import SippAgent, free_udp_port, register_agents, run_callers
from tests.support.stack import RunningStack
from tests.support.waiting import until

pytestmark = pytest.mark.integration

DID = "0570000123"
CALLS = 6


async def records(url: str) -> list[dict]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(select(call_records))).mappings()]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_call_beyond_the_lines_channels_hears_busy_and_is_overflow(
        state_dir: Path, database_url: str):
    flows = state_dir / "flows"
    shutil.copytree(FIXTURES / "flows", flows)
    site = flows / "site.yaml"
    text = site.read_text(encoding="utf-8")
    assert "    notice: recording_notice\n" in text
    site.write_text(text.replace("    notice: recording_notice\n", "    notice: recording_notice\n"
                                 "    max_channels: 5\n    busy_prompt: recording_notice\n",
                                 1), encoding="utf-8")
    env = stack_env(state_dir, database_url, MADOGUCHI_FLOWS_DIR=str(flows))
    sipp_dir = state_dir / "sipp"
    async with RunningStack(env, state_dir, TEST_PORTS["gateway_port"]) as stack:
        passwords = await stack.add_agents(["1001"])
        port = free_udp_port()
        await register_agents(list(passwords.items()), TEST_PORTS["sip_port"], {"1001": port},
                              sipp_dir)
        agent = SippAgent("1001", port, sipp_dir, talk_seconds=20.0)
        await agent.start()
        try:
            result = await run_callers(DID, TEST_PORTS["sip_port"], CALLS, rate=10.0,
                                       workdir=sipp_dir, max_seconds=60, hangup_after=15)
        finally:
            await agent.stop()
        done = await until(lambda: _all(database_url), 20, "six call records")
    assert stack.returncode == 0, stack.log_tail()
    assert result.successful == CALLS, result.describe()
    overflow = [r for r in done if r["outcome"] == "overflow"]
    assert [(r["overflow_reason"], r["overflow_destination"]) for r in overflow] == \
        [("channels", "busy")]
    assert overflow[0]["caller"] == max(r["caller"] for r in done)  # the sixth call
    assert sum(r["outcome"] == "answered" for r in done) == 1
    print(f"\nmax_channels 5: {len(done)} calls, outcomes "
          f"{sorted(r['outcome'] for r in done)}")


async def _all(url: str) -> list[dict] | None:
    found = await records(url)
    return found if len(found) >= CALLS else None
