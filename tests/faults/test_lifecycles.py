"""Asterisk and the controller survive each other, on the real stack (`acd up`, SIPp
agents answering, SIPp callers):

* the controller SIGKILLed while calls are connected: Asterisk and the calls live on; a
  new `acd up` adopts that Asterisk (no "port in use"), the calls end normally and are
  recorded, and the next calls are served;
* Asterisk SIGKILLed under a running stack: the stack restarts it, the health comes
  back, and the agents take calls again without anyone touching them.

Each prints its recovery time."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from acd.adapters.db.schema import call_records, recordings
from tests.conftest import TEST_PORTS, stack_env
from tests.support.asterisk_pid import asterisk_pid
from tests.support.asterisk_view import settled
from tests.support.recordings import write_wav
from tests.support.sipp import SippAgent, run_callers
from tests.support.stack import RunningStack, start_agents
from tests.support.tables import rows
from tests.support.waiting import until

pytestmark = pytest.mark.integration

LINE = "0570000200"  # queue "wrapup": 4 s of wrap-up, then ready again
RECORDED_LINE = "0570000123"  # queue "main": recorded, no wrap-up


class Lives:
    """A stack with SIPp agents whose controller the test kills, and the stack that
    follows it on the same state, ports and Asterisk; all stopped at the end."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.url = f"sqlite+aiosqlite:///{state_dir}/db.sqlite"
        self.sipp = state_dir / "sipp"
        self._stacks: list[RunningStack] = []
        self._agents: list[SippAgent] = []

    def _stack(self) -> RunningStack:
        stack = RunningStack(stack_env(self.state_dir, self.url), self.state_dir,
                             TEST_PORTS["gateway_port"])
        self._stacks.append(stack)
        return stack

    async def start(self, ids: list[str], queue: str, talk: tuple[float, float]
                    ) -> RunningStack:
        first = await self._stack().__aenter__()
        self._agents = await start_agents(first, ids, queue, self.sipp, talk=talk)
        return first

    async def restart(self) -> RunningStack:
        return await self._stack().__aenter__()

    async def __aenter__(self) -> Lives:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for agent in self._agents:
            await agent.stop()
        for stack in reversed(self._stacks):
            await stack.stop()


async def _all_ready(stack: RunningStack, ids: list[str]) -> bool:
    states = await stack.api("GET", "/api/agents")
    return sorted(s["id"] for s in states if s["status"] == "ready") == sorted(ids)


async def test_a_killed_controller_comes_back_adopts_its_asterisk_and_drops_no_call(
        state_dir: Path):
    ids = ["5001", "5002"]
    async with Lives(state_dir) as lives:
        url, sipp = lives.url, lives.sipp
        first = await lives.start(ids, "wrapup", talk=(12.0, 12.0))
        callers = asyncio.create_task(run_callers(
            LINE, TEST_PORTS["sip_port"], 2, rate=2.0, workdir=sipp / "during",
            caller_start="0351110000", max_seconds=60, bye_timeout=40))
        await until(lambda: _talking(first, 2), 15, "two calls connected")
        pid = asterisk_pid(state_dir)
        await first.kill()
        assert pid is not None and _alive(pid), "Asterisk must outlive its controller"
        killed_at = time.monotonic()
        second = await lives.restart()
        serving_after = time.monotonic() - killed_at
        assert asterisk_pid(state_dir) == pid  # adopted, not started again
        during = await callers
        assert during.successful == 2, during.describe()  # neither call was dropped
        await until(lambda: _all_ready(second, ids), 30, "agents ready after wrap-up")
        after = await run_callers(LINE, TEST_PORTS["sip_port"], 2, rate=2.0,
                                  workdir=sipp / "after", caller_start="0352220000",
                                  max_seconds=60, bye_timeout=40)
        assert after.successful == 2, after.describe()
        agreement = await settled(second)
        records = {r["caller"]: r for r in await rows(url, call_records)}
        served = ["0351110000", "0351110001", "0352220000", "0352220001"]
        assert sorted(records) == served
        assert all(records[c]["outcome"] == "answered" and records[c]["agent"] in ids
                   for c in served), records
        for caller in served[:2]:  # the true talk time, not the restart's
            talk = records[caller]["ended_at"] - records[caller]["answered_at"]
            assert 10.0 <= talk <= 16.0, (caller, talk)
        print(f"\ncontroller killed: serving again {serving_after:.1f} s after the kill "
              f"(new acd up to healthy), 2/2 connected calls kept, 4/4 calls recorded; "
              f"{agreement}")
    assert asterisk_pid(state_dir) is None  # the clean stop stopped the adopted Asterisk


async def test_calls_that_end_while_the_controller_is_down_keep_their_true_talk_time(
        state_dir: Path):
    """The controller is down for the whole end of two answered calls: the next one
    reads Asterisk's queue log back -- the records keep the agent and the true talk time
    (not the restart's), and the agents are not left on a call that is over."""
    ids = ["5201", "5202"]
    async with Lives(state_dir) as lives:
        url, sipp = lives.url, lives.sipp
        first = await lives.start(ids, "wrapup", talk=(5.0, 5.0))
        callers = asyncio.create_task(run_callers(
            LINE, TEST_PORTS["sip_port"], 2, rate=2.0, workdir=sipp / "during",
            caller_start="0355550000", max_seconds=60, bye_timeout=40))
        await until(lambda: _talking(first, 2), 15, "two calls connected")
        await first.kill()
        during = await callers  # both calls end while no controller listens
        assert during.successful == 2, during.describe()
        await asyncio.sleep(3.0)
        second = await lives.restart()
        records = await until(lambda: _records(url, 2), 15, "both calls recorded")
        for record in records:
            assert record["outcome"] == "answered" and record["agent"] in ids, record
            assert 3.0 <= record["talk_seconds"] <= 7.0, record  # 5 s, to the second
            assert record["ended_at"] < time.time() - 2.5, record  # not the restart's end
        states = {s["id"]: s["status"] for s in await second.api("GET", "/api/agents")}
        assert "on_call" not in states.values(), states
        await until(lambda: _all_ready(second, ids), 30, "agents ready after wrap-up")
        await settled(second)
        print(f"\ncalls ended unseen: talk {[r['talk_seconds'] for r in records]} s from "
              f"the queue log; agents {states} after the restart")


async def test_calls_that_come_and_go_while_the_controller_is_down_are_recorded(
        state_dir: Path):
    """Two recorded calls enter, are answered and end while no controller runs: the
    next controller rebuilds them from Asterisk's queue log -- line, caller, agent, true
    times --, seals their recordings, and the agents' states follow. A WAV no record
    names (its call lost with the queue log) is sealed by the sweep of the disk: no WAV
    is left plain."""
    ids = ["5301", "5302"]
    async with Lives(state_dir) as lives:
        url, sipp = lives.url, lives.sipp
        first = await lives.start(ids, "main", talk=(3.0, 3.0))
        await first.kill()
        placed_at = time.time()
        unseen = await run_callers(RECORDED_LINE, TEST_PORTS["sip_port"], 2, rate=2.0,
                                   workdir=sipp / "unseen", caller_start="0356660000",
                                   max_seconds=60, bye_timeout=40)
        assert unseen.successful == 2, unseen.describe()
        orphan = state_dir / "recordings" / "2026" / "12" / "01" / "1764547200.77.wav"
        write_wav(orphan, 1.0)
        os.utime(orphan, (time.time() - 600, time.time() - 600))
        second = await lives.restart()
        records = await until(lambda: _records(url, 2), 15, "both unseen calls recorded")
        assert sorted(r["caller"] for r in records) == ["0356660000", "0356660001"]
        for record in records:
            assert (record["line"], record["queue"], record["outcome"]) == \
                (RECORDED_LINE, "main", "answered"), record
            assert record["recording_file"], record
            assert record["agent"] in ids and 1.0 <= record["talk_seconds"] <= 5.0, record
            assert placed_at - 1.5 <= record["entered_at"] <= record["ended_at"], record
        sealed = await until(lambda: _sealed(url, {r["uniqueid"] for r in records}
                                             | {"1764547200.77"}), 30,
                             "both recordings and the orphan sealed")
        assert not list((state_dir / "recordings").rglob("*.wav"))  # none left plain
        await until(lambda: _all_ready(second, ids), 30, "agents ready")
        agreement = await settled(second)
        print(f"\ncalls never seen live: {len(records)} rebuilt from the queue log, talk "
              f"{[r['talk_seconds'] for r in records]} s, {len(sealed)} recordings sealed "
              f"(one an orphan found on disk), no plain WAV left; {agreement}")


async def _sealed(url: str, uniqueids: set[str]) -> list[dict] | None:
    found = [r for r in await rows(url, recordings) if r["uniqueid"] in uniqueids
             and r["status"] == "sealed"]
    return found if len(found) == len(uniqueids) else None


async def _records(url: str, count: int) -> list[dict] | None:
    found = await rows(url, call_records)
    return found if len(found) >= count else None


async def test_a_killed_asterisk_is_restarted_and_the_agents_take_calls_again(
        state_dir: Path):
    url = f"sqlite+aiosqlite:///{state_dir}/db.sqlite"
    ids = ["5101"]
    sipp = state_dir / "sipp"
    async with RunningStack(stack_env(state_dir, url), state_dir,
                            TEST_PORTS["gateway_port"]) as stack:
        agents = await start_agents(stack, ids, "wrapup", sipp, talk=(1.0, 1.0))
        try:
            before = await run_callers(LINE, TEST_PORTS["sip_port"], 1, rate=1.0,
                                       workdir=sipp / "before", caller_start="0353330000")
            assert before.successful == 1, before.describe()
            pid = asterisk_pid(state_dir)
            assert pid is not None
            os.killpg(pid, signal.SIGKILL)
            killed_at = time.monotonic()
            await until(lambda: _restarted(stack, state_dir, pid), 30,
                        "Asterisk restarted and AMI connected")
            recovered = time.monotonic() - killed_at
            await until(lambda: _all_ready(stack, ids), 30, "the agent ready again")
            after = await run_callers(LINE, TEST_PORTS["sip_port"], 1, rate=1.0,
                                      workdir=sipp / "after", caller_start="0354440000")
            assert after.successful == 1, after.describe()
            await settled(stack)  # the members and pauses are back in the new Asterisk
        finally:
            for agent in agents:
                await agent.stop()
        events = [e.get("event") for e in stack.log_events()]
        assert "asterisk.died" in events and "asterisk.restarted" in events
        print(f"\nAsterisk killed: restarted and AMI connected {recovered:.1f} s later; the "
              "agent took the next call")


async def test_a_frozen_asterisk_is_noticed_and_served_again_when_it_thaws(state_dir: Path):
    """Asterisk stopped (SIGSTOP) for 30 s: the half-open AMI connection is noticed by the
    watchdog (the health says so), nothing restarts a process that is only frozen, and
    when it thaws the controller reconnects and the agent takes the next call."""
    url = f"sqlite+aiosqlite:///{state_dir}/db.sqlite"
    ids = ["5501"]
    sipp = state_dir / "sipp"
    async with RunningStack(stack_env(state_dir, url), state_dir,
                            TEST_PORTS["gateway_port"]) as stack:
        agents = await start_agents(stack, ids, "wrapup", sipp, talk=(1.0, 1.0))
        try:
            pid = asterisk_pid(state_dir)
            assert pid is not None
            os.kill(pid, signal.SIGSTOP)
            frozen_at = time.monotonic()
            try:
                await until(lambda: _ami_down(stack), 20, "the frozen AMI noticed")
                noticed = time.monotonic() - frozen_at
                await asyncio.sleep(max(0.0, 30.0 - (time.monotonic() - frozen_at)))
            finally:
                os.kill(pid, signal.SIGCONT)
            thawed_at = time.monotonic()
            await until(lambda: _ami_up(stack), 30, "AMI connected after the thaw")
            back = time.monotonic() - thawed_at
            assert asterisk_pid(state_dir) == pid  # the same process: not restarted
            await until(lambda: _all_ready(stack, ids), 30, "the agent ready")
            after = await run_callers(LINE, TEST_PORTS["sip_port"], 1, rate=1.0,
                                      workdir=sipp / "after", caller_start="0358880000")
            assert after.successful == 1, after.describe()
        finally:
            for agent in agents:
                await agent.stop()
        print(f"\nAsterisk frozen 30 s: noticed after {noticed:.1f} s, connected again "
              f"{back:.1f} s after the thaw; the agent took the next call")


async def _ami_down(stack: RunningStack) -> bool:
    return not await _ami_up(stack)


async def _ami_up(stack: RunningStack) -> bool:
    health = await stack.health_any()
    return bool(health and health["ami_connected"])


async def _talking(stack: RunningStack, calls: int) -> bool:
    states = await stack.api("GET", "/api/agents")
    return sum(1 for s in states if s["status"] == "on_call") == calls


async def _restarted(stack: RunningStack, state_dir: Path, old_pid: int) -> bool:
    pid = asterisk_pid(state_dir)
    health = await stack.health()
    return pid is not None and pid != old_pid and bool(health and health["ami_connected"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
