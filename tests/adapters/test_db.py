"""The database adapter on real SQLite and PostgreSQL: log, records, spool, rebuild."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy import select

from acd.adapters.db.engine import Database, make_engine
from acd.adapters.db.migrate import upgrade
from acd.adapters.db.schema import call_events, call_records
from acd.domain.events import LineEntered, QueueJoined
from acd.runtime import Controller
from tests.support.calls import T0, entered


async def rows(db: Database, table):
    async with db.engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(select(table).order_by(
            *table.primary_key.columns))).mappings().all()]


async def test_failed_writes_are_spooled_then_written_in_order(state_dir: Path,
                                                                database_url: str):
    spool = state_dir / "spool.jsonl"
    db = Database(make_engine(database_url), spool)
    try:
        # the schema is missing: every write fails and must wait in the spool
        await db.append_event("LineEntered", T0, "1.1", {"n": 1})
        await db.append_event("QueueJoined", T0 + 1, "1.1", {"n": 2})
        await db.flushed()  # the writes of this turn, in one transaction that failed
        assert spool.exists() and len(spool.read_text().splitlines()) == 2

        await upgrade(database_url)
        await db.append_event("ChannelHungUp", T0 + 2, "1.1", {"n": 3})  # after the others
        assert await db.flush(timeout=30)
        assert not spool.exists()
        logged = await rows(db, call_events)
        assert [r["kind"] for r in logged] == ["LineEntered", "QueueJoined", "ChannelHungUp"]
        assert [r["id"] for r in logged] == sorted(r["id"] for r in logged)
    finally:
        await db.engine.dispose()


async def test_controller_rebuilds_open_calls_from_the_log(state_dir: Path, database_url: str):
    await upgrade(database_url)
    db = Database(make_engine(database_url), state_dir / "spool.jsonl")
    try:
        first = Controller(ami=None, queue=asyncio.Queue(), db=db)
        await first.handle(entered("1.1", at=_now()))
        await first.handle(QueueJoined(_now(), "1.1", "main", 1))
        await first.handle(LineEntered(_now(), "2.2", "0570000123", "main", "09011112222", None))

        restarted = Controller(ami=None, queue=asyncio.Queue(), db=db)
        await restarted.rebuild()
        assert set(restarted.calls.active) == {"1.1", "2.2"}
        assert restarted.calls.active["1.1"].queue_joined_at is not None
        assert await rows(db, call_records) == []
    finally:
        await db.engine.dispose()


def _now() -> float:
    return time.time()


