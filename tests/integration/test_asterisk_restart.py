"""Asterisk killed under a running controller: it retries, logs it, resynchronises when
Asterisk is back, and closes the call that died meanwhile. Nothing received is lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from acd.adapters.ami.client import AmiClient
from acd.adapters.asterisk.config import AMI_USER
from acd.adapters.asterisk.process import AsteriskProcess
from acd.adapters.db.engine import Database, make_engine
from acd.adapters.db.migrate import upgrade
from acd.adapters.db.schema import call_events, call_records
from acd.domain.agents import AgentProfile, Login, Membership, SetAway
from acd.runtime import Controller
from acd.settings import Settings
from acd.stack import prepare
from tests.conftest import FIXTURES, TEST_PORTS
from tests.support.sipp import free_udp_port, register_agents, run_callers
from tests.support.waiting import until

pytestmark = pytest.mark.integration


async def test_controller_survives_an_asterisk_crash_and_resynchronises(
        state_dir: Path, database_url: str):
    settings = Settings(state_dir=state_dir, recordings_dir=state_dir / "recordings",
                        flows_dir=FIXTURES / "flows", database_url=database_url, **TEST_PORTS)
    await upgrade(database_url)
    roster = [AgentProfile("1001", "山田", (Membership("main"),))]
    deployment = prepare(settings, roster)
    installation, secrets, dirs = deployment.installation, deployment.secrets, deployment.dirs

    def asterisk() -> AsteriskProcess:
        return AsteriskProcess(installation, dirs.asterisk_conf,
                               [state_dir, settings.recordings_dir], dirs.run / "log" / "out")

    first = asterisk()
    await first.start()
    await first.wait_ready("127.0.0.1", settings.ami_port)
    engine = make_engine(database_url)
    queue: asyncio.Queue = asyncio.Queue()
    ami = AmiClient("127.0.0.1", settings.ami_port, AMI_USER, secrets.get("ami"), queue,
                    ping_interval=1.0)
    controller = Controller(ami, queue, Database(engine, state_dir / "spool.jsonl"),
                            deployment.agents(roster))
    second = asterisk()
    try:
        async with asyncio.TaskGroup() as tasks:
            ami_task = tasks.create_task(ami.run())
            controller_task = tasks.create_task(controller.run())
            await ami.wait_connected(10)
            # an agent is logged in but away: a caller waits in the queue
            await controller.submit(Login("1001"))
            await controller.submit(SetAway("1001", "break"))
            await register_agents([("1001", secrets.get("sip:1001"))], settings.sip_port,
                                  {"1001": free_udp_port()}, state_dir / "sipp")
            caller = tasks.create_task(run_callers(
                "0570000123", settings.sip_port, 1, rate=1.0, workdir=state_dir / "sipp",
                hangup_after=25, max_seconds=45))
            await until(lambda: any(c.queue_joined_at for c in controller.calls.active.values()),
                        20, "the call to wait in the queue")

            await first.kill()
            await until(lambda: not controller.connected, 10, "the disconnection")
            await asyncio.sleep(2.5)  # a few failed reconnection attempts

            await second.start()
            await second.wait_ready("127.0.0.1", settings.ami_port)
            await ami.wait_connected(15)
            await until(lambda: len(controller.calls) == 0, 10, "the resync to close the call")

            await caller  # the caller's dialog died with the first Asterisk; its result is moot
            ami_task.cancel()
            controller_task.cancel()
    except* asyncio.CancelledError:
        pass
    finally:
        await second.stop()
        await first.stop()

    async with engine.connect() as conn:
        events = (await conn.execute(select(call_events.c.kind, call_events.c.occurred_at)
                                     .order_by(call_events.c.id))).all()
        kinds = [r.kind for r in events]
        [record] = (await conn.execute(select(call_records))).mappings().all()
    await engine.dispose()
    assert kinds.count("AmiConnected") == 2 and kinds.count("AmiDisconnected") == 1
    assert kinds.index("LineEntered") < kinds.index("AmiDisconnected")
    assert kinds.count("ChannelsSnapshot") == 2
    # each resync followed Asterisk's FullyBooted at once (not the 10-s fallback)
    connects = [e.occurred_at for e in events if e.kind == "AmiConnected"]
    snapshots = [e.occurred_at for e in events if e.kind == "ChannelsSnapshot"]
    assert all(0 <= s - c < 3 for c, s in zip(connects, snapshots, strict=True)), (
        connects, snapshots)
    assert record["close_reason"] == "resync" and record["outcome"] == "abandoned"
    assert record["queue_joined_at"] is not None
    assert controller.agents.by_id["1001"].status.value == "away"  # kept across the crash
    # the never-answered call left no (empty) recording behind
    assert list(settings.recordings_dir.rglob("*.wav")) == []
