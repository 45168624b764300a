"""The write spool when the database goes away: a private PostgreSQL stopped and started
again under concurrent writers. Nothing is lost, nothing lands twice, the event log's
ids keep the order of the writes, and writers do not wait for the outage."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from acd.adapters.db.engine import Database, SpoolFile, make_engine
from acd.adapters.db.migrate import upgrade
from acd.adapters.db.schema import call_events
from tests.support.postgres import PrivatePostgres, fresh_database

WRITERS, EACH = 20, 10


@pytest.fixture
async def outage_server():
    server = PrivatePostgres(crash_safe=True)
    admin = await server.create()
    database = await fresh_database(admin)
    await upgrade(database.url)
    yield server, database.url


async def _events(url: str) -> list[dict]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(
                select(call_events).order_by(call_events.c.id))).mappings().all()]
    finally:
        await engine.dispose()


async def _written_back(db: Database) -> list[str]:
    """Wait for the spool to be written back; the uniqueids of the log, in id order."""
    try:
        assert await db.flush(timeout=30)
        async with db.engine.connect() as conn:
            return list((await conn.execute(select(call_events.c.uniqueid).order_by(
                call_events.c.id))).scalars().all())
    finally:
        await db.engine.dispose()


async def test_an_outage_loses_nothing_duplicates_nothing_and_keeps_the_order(
        outage_server, state_dir: Path):
    server, url = outage_server
    recovered = asyncio.Event()

    async def on_recovered() -> None:
        recovered.set()

    db = Database(make_engine(url), state_dir / "spool.jsonl", on_recovered=on_recovered,
                  write_timeout=1.0)
    latencies: list[float] = []

    async def writer(n: int, phase: str) -> None:
        for i in range(EACH):
            started = time.monotonic()
            await db.append_event("Probe", time.time(), f"{phase}-{n}", {"n": n, "i": i,
                                                                         "phase": phase})
            latencies.append(time.monotonic() - started)

    try:
        await asyncio.gather(*(writer(n, "before") for n in range(WRITERS)))
        assert not db.away
        await server.stop()
        down_at = time.monotonic()
        await asyncio.gather(*(writer(n, "during") for n in range(WRITERS)))
        assert db.away  # waiting in the spool, in order
        during = latencies[WRITERS * EACH:]
        await server.start()
        back_at = time.monotonic()
        await asyncio.gather(*(writer(n, "after") for n in range(WRITERS)))
        assert await db.flush(timeout=60)
        drained = time.monotonic() - back_at
        await asyncio.wait_for(recovered.wait(), 10)
    finally:
        await db.engine.dispose()

    events = await _events(url)
    payloads = [json.loads(e["payload"]) for e in events]
    keys = [(p["phase"], p["n"], p["i"]) for p in payloads]
    missing = {(p, n, i) for p in ("before", "during", "after") for n in range(WRITERS)
               for i in range(EACH)} - set(keys)
    assert not missing, sorted(missing)
    assert len(keys) == len(set(keys)) == 3 * WRITERS * EACH  # every write, once
    # each writer's writes are in its order, and no write of a phase precedes one of the
    # phase before it: the ids are the order of the writes
    for phase in ("before", "during", "after"):
        for n in range(WRITERS):
            assert [i for p, w, i in keys if (p, w) == (phase, n)] == list(range(EACH))
    phases = [p for p, _w, _i in keys]
    assert phases == sorted(phases, key=("before", "during", "after").index)
    assert not (state_dir / "spool.jsonl").exists()
    print(f"\nspool: {len(during)} writes during the outage, slowest "
          f"{max(during) * 1000:.0f} ms, median {sorted(during)[len(during) // 2] * 1000:.1f}"
          f" ms; written back {drained:.2f} s after the database returned "
          f"(outage {back_at - down_at:.1f} s)")


async def test_a_spool_left_by_an_earlier_run_is_written_back_once(state_dir: Path,
                                                                   database_url: str):
    await upgrade(database_url)
    spool = SpoolFile(state_dir / "spool.jsonl")
    for n in range(5):
        spool.append({"op": "insert", "table": "call_events", "values": {
            "kind": "Probe", "occurred_at": float(n), "uniqueid": str(n), "payload": "{}"}})
    # the earlier run wrote the first two and stopped before compacting the file
    spool.done(2)
    db = Database(make_engine(database_url), spool.path)
    db.resume()
    assert await _written_back(db) == ["2", "3", "4"]
    assert not spool.path.exists()


async def test_an_item_the_database_never_takes_is_kept_apart_not_retried(
        state_dir: Path, database_url: str):
    await upgrade(database_url)
    spool = SpoolFile(state_dir / "spool.jsonl")  # what an earlier run left
    spool.append({"op": "insert", "table": "call_events", "values": {
        "kind": "Probe", "occurred_at": 1.0, "uniqueid": "a", "payload": "{}"}})
    spool.append({"op": "insert", "table": "call_events", "values": {
        "id": 1, "kind": "Probe", "occurred_at": 2.0, "uniqueid": "dup", "payload": "{}"}})
    spool.append({"op": "insert", "table": "call_events", "values": {
        "kind": "Probe", "occurred_at": 3.0, "uniqueid": "b", "payload": "{}"}})
    db = Database(make_engine(database_url), spool.path)
    assert await _written_back(db) == ["a", "b"]
    rejected = (state_dir / "spool.jsonl.rejected").read_text("utf-8").splitlines()
    assert [json.loads(line)["item"]["values"]["uniqueid"] for line in rejected] == ["dup"]
