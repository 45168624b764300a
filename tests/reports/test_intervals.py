"""Agent intervals: what the controller writes as states change equals what the migration
derives from the event log, on SQLite and PostgreSQL; both give the by-agent KPIs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from sqlalchemy import insert, select

import acd.adapters.db.migrate
from acd.adapters.db.engine import Database, make_engine
from acd.adapters.db.schema import agent_intervals, call_events
from acd.domain.clock import day_range
from acd.reports.intervals import intervals_from_events, parse_state_change
from acd.reports.kpi import compute_kpis
from tests.support.kpi_mix import DAY, FAR_FUTURE, STATES, at

COLUMNS = ("agent", "status", "reason", "started_at", "ended_at", "login_at")


def _ordered_changes():
    return [parse_state_change(s["occurred_at"], s["payload"])
            for s in sorted(STATES, key=lambda s: s["occurred_at"])]


async def _rows(engine) -> list[tuple]:
    t = agent_intervals
    async with engine.connect() as conn:
        rows = (await conn.execute(select(*[t.c[c] for c in COLUMNS])
                                   .order_by(t.c.agent, t.c.started_at, t.c.id))).all()
    return [tuple(r) for r in rows]


async def test_live_writes_equal_the_derivation(database_url, state_dir: Path):
    await acd.adapters.db.migrate.upgrade(database_url)
    engine = make_engine(database_url)
    db = Database(engine, state_dir / "spool.jsonl")
    try:
        changes = [c for c in _ordered_changes() if c.agent != "1003"]  # logged in mid-log
        for c in changes:
            await db.save_agent_interval(c.agent, c.status, c.previous, c.reason, c.at,
                                         c.uniqueid)
        await db.flushed()  # the writes are committed together
        expected = sorted(((i.agent, i.status, i.reason, i.started_at, i.ended_at, i.login_at)
                           for i in intervals_from_events(changes)),
                          key=lambda r: (r[0], r[3]))
        assert await _rows(engine) == expected
        # 1001: ready 09:00, calls, away 12-13 (break), logged out 17:00: one session
        sessions = {(r[0], r[5]) for r in expected if r[0] == "1001"}
        assert sessions == {("1001", at(9, 0))}
        k = await compute_kpis(engine, *day_range(DAY), now=FAR_FUTURE)
        a1 = k.agents["1001"]
        assert (a1.logged_in_seconds, a1.on_call_seconds, a1.wrapup_seconds,
                a1.away_seconds) == (28800, 600, 300, {"break": 3600})
        # an open interval counts until "now"
        await db.save_agent_interval("1004", "ready", "logged_out", None, at(9, 0), None)
        await db.save_agent_interval("1004", "away", "ready", "training", at(9, 30), None)
        await db.flushed()
        k = await compute_kpis(engine, *day_range(DAY), now=at(10, 0))
        a4 = k.agents["1004"]
        assert (a4.logged_in_seconds, a4.ready_seconds, a4.away_seconds) == (
            3600, 1800, {"training": 1800})
    finally:
        await engine.dispose()


async def test_migration_fills_intervals_from_an_existing_log(database_url):
    config = acd.adapters.db.migrate.alembic_config(database_url)
    await asyncio.to_thread(command.upgrade, config, "0006")
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(call_events), STATES)
        await acd.adapters.db.migrate.upgrade(database_url)
        expected = sorted(((i.agent, i.status, i.reason, i.started_at, i.ended_at, i.login_at)
                           for i in intervals_from_events(_ordered_changes())),
                          key=lambda r: (r[0], r[3]))
        rows = await _rows(engine)
        assert rows == expected and len(rows) == 12
        k = await compute_kpis(engine, *day_range(DAY), now=FAR_FUTURE)
        assert k.agents["1003"].away_seconds == {"meeting": 3600}
        assert k.agents["1002"].logged_in_seconds == 37800
    finally:
        await engine.dispose()
