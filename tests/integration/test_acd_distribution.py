"""Even distribution on a real Asterisk: SIPp agents, SIPp callers arriving at random.

Fairness and offer safety are judged from the event log (Asterisk's AgentCalled events
against the agents' state log), not from the product's own verdicts.
"""

from __future__ import annotations

import asyncio
import random
import statistics
from pathlib import Path

import pytest

from tests.conftest import TEST_PORTS, stack_env
from tests.support.event_log import audit_offers, load_events
from tests.support.sipp import SippAgent, free_udp_port, register_agents, run_callers
from tests.support.stack import RunningStack

pytestmark = pytest.mark.integration


async def start_agents(stack: RunningStack, ids: list[str], queue: str, workdir: Path,
                       talk: tuple[float, float]) -> list[SippAgent]:
    """Registered, logged-in SIPp agents talking a random time in ``talk`` per call."""
    passwords = await stack.add_agents(ids, queues=(queue,))
    ports = {agent: free_udp_port() for agent in ids}
    await register_agents(list(passwords.items()), TEST_PORTS["sip_port"], ports, workdir)
    agents = [SippAgent(a, ports[a], workdir, talk_seconds=talk[0], talk_max_seconds=talk[1])
              for a in ids]
    for agent in agents:
        await agent.start()
    return agents


async def poisson_callers(did: str, calls: int, rate: float, workdir: Path, seed: int):
    """Calls arriving as a Poisson process (exponential gaps), one SIPp run each."""
    rng = random.Random(seed)
    tasks = []
    for index in range(calls):
        tasks.append(asyncio.create_task(run_callers(
            did, TEST_PORTS["sip_port"], 1, 1.0, workdir / f"c{index}",
            caller_start=f"0{3120000000 + index}", max_seconds=120)))
        await asyncio.sleep(rng.expovariate(rate))
    return await asyncio.gather(*tasks)


async def test_two_hundred_random_calls_go_evenly_to_the_longest_idle_agent(state_dir: Path):
    ids = [f"20{i}" for i in range(1, 6)]
    sipp = state_dir / "sipp"
    async with RunningStack(stack_env(state_dir, f"sqlite+aiosqlite:///{state_dir}/db.sqlite"),
                            state_dir, TEST_PORTS["gateway_port"]) as stack:
        agents = await start_agents(stack, ids, "main", sipp, talk=(1.0, 2.5))
        try:
            results = await poisson_callers("0570000123", 200, rate=1.0, workdir=sipp, seed=11)
        finally:
            counts = {a.agent_id: await a.stop() for a in agents}
        await asyncio.sleep(1)
    assert sum(r.successful for r in results) == 200, [r.describe() for r in results
                                                       if r.failed][:3]
    answered = {agent: c.answered for agent, c in counts.items()}
    mean = statistics.mean(answered.values())
    audit = audit_offers(await load_events(f"sqlite+aiosqlite:///{state_dir}/db.sqlite"))
    latency = sorted(audit.ready_to_ring)
    print(f"\nfairness: answered per agent {answered} (mean {mean}); offers {audit.offers}, "
          f"to the longest idle {audit.longest_idle_share:.1%}; not ready {len(audit.not_ready)}"
          f"; ready->ring latency n={len(latency)} median "
          f"{latency[len(latency) // 2] if latency else float('nan'):.3f}s max "
          f"{latency[-1] if latency else float('nan'):.3f}s")
    assert all(abs(n - mean) <= 2 for n in answered.values()), answered
    assert audit.offers >= 200 and audit.not_ready == []
    assert audit.longest_idle_share >= 0.99
