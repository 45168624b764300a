"""The writes of one turn of the event loop go to the database in one transaction, in
order; a batch the database refuses goes to the spool whole, in order, and nothing of it
is lost (real SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select, text

from acd.adapters.db.engine import Database, make_engine
from acd.adapters.db.migrate import upgrade
from acd.adapters.db.schema import agent_intervals, call_events, call_records
from tests.support.calls import T0
from tests.support.recordings import call


async def events(db: Database) -> list[tuple[int, str, int]]:
    async with db.engine.connect() as conn:
        rows = (await conn.execute(select(call_events).order_by(call_events.c.id))).all()
    return [(r.id, r.kind, json.loads(r.payload)["n"]) for r in rows]


async def test_the_writes_of_one_turn_are_one_transaction_in_order(state_dir: Path,
                                                                   database_url: str):
    await upgrade(database_url)
    db = Database(make_engine(database_url), state_dir / "spool.jsonl")
    try:
        record = call("1.1", "0312345678", None)
        for n in range(50):
            await db.append_event("QueueJoined" if n % 2 else "LineEntered", T0 + n, "1.1",
                                  {"n": n})
            if n == 20:  # a record and an agent's interval between the events
                await db.save_record(record)
                await db.save_agent_interval("1001", "ready", "logged_out", None, T0, None)
        assert db.batches == 0  # queued: the writer has not run yet
        await db.flushed()
        assert (db.batches, db.batched_items) == (1, 52)
        logged = await events(db)
        assert [n for _id, _kind, n in logged] == list(range(50))
        assert [i for i, _k, _n in logged] == sorted(i for i, _k, _n in logged)
        assert [k for _i, k, _n in logged][:2] == ["LineEntered", "QueueJoined"]
        async with db.engine.connect() as conn:
            saved = (await conn.execute(select(call_records))).mappings().one()
            interval = (await conn.execute(select(agent_intervals))).mappings().one()
        assert saved["uniqueid"] == "1.1" and saved["caller"] == record.caller
        assert (interval["agent"], interval["status"]) == ("1001", "ready")
        # the next turn's writes are the next transaction
        await db.append_event("ChannelHungUp", T0 + 60, "1.1", {"n": 50})
        await db.flushed()
        assert db.batches == 2
        assert [n for _i, _k, n in await events(db)] == list(range(51))
    finally:
        await db.engine.dispose()


async def test_reads_see_the_writes_made_before_them(state_dir: Path, database_url: str):
    await upgrade(database_url)
    db = Database(make_engine(database_url), state_dir / "spool.jsonl")
    try:
        await db.append_event("LineEntered", T0, "2.2", {"n": 1})
        assert await db.last_event_at() == T0
        assert [e["uniqueid"] for e in await db.open_call_events(since=0)] == ["2.2"]
        await db.save_record(call("2.2", "0312345678", None))
        assert await db.recorded(["2.2", "3.3"]) == {"2.2"}
    finally:
        await db.engine.dispose()


async def test_a_refused_batch_is_spooled_whole_and_written_back_in_order(
        state_dir: Path, database_url: str):
    """One item of the batch breaks a constraint: the transaction fails, the whole batch
    waits in the spool with the writes after it; written back item by item, the bad
    one is kept apart, every other lands once and in order."""
    await upgrade(database_url)
    spool = state_dir / "spool.jsonl"
    db = Database(make_engine(database_url), spool)
    try:
        await db.append_event("LineEntered", T0, "4.4", {"n": 0})
        await db.flushed()
        await db.append_event("QueueJoined", T0 + 1, "4.4", {"n": 1})
        await db.append_event(None, T0 + 2, "4.4", {"n": 2})  # type: ignore[arg-type]
        await db.save_record(call("4.4", "0312345678", None))
        await db.append_event("ChannelHungUp", T0 + 3, "4.4", {"n": 3})
        await db.flushed()
        assert db.away
        spooled = [json.loads(line) for line in spool.read_text().splitlines()]
        assert [i["values"].get("payload") for i in spooled] == [
            '{"n": 1}', '{"n": 2}', None, '{"n": 3}']
        await db.append_event("AgentConnected", T0 + 4, "4.4", {"n": 4})  # while away
        assert await db.flush(timeout=30)
        assert not spool.exists() and not db.away
        assert [n for _i, _k, n in await events(db)] == [0, 1, 3, 4]
        rejected = (state_dir / "spool.jsonl.rejected").read_text().splitlines()
        assert [json.loads(r)["item"]["values"]["payload"] for r in rejected] == ['{"n": 2}']
        assert await db.recorded(["4.4"]) == {"4.4"}
    finally:
        await db.engine.dispose()


async def test_sqlite_runs_in_wal_mode_with_normal_sync(state_dir: Path):
    url = f"sqlite+aiosqlite:///{state_dir / 'wal.db'}"
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
            sync = (await conn.execute(text("PRAGMA synchronous"))).scalar()
        assert (mode, sync) == ("wal", 1)  # 1: NORMAL
    finally:
        await engine.dispose()
