"""A running stack's database read back: a table's rows, a line's call records once
written, and the report's rows copied into another database (the same report computed on
PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import insert, select

from acd.adapters.db.engine import make_engine
from acd.adapters.db.migrate import upgrade
from acd.adapters.db.schema import agent_intervals, call_records, dispositions
from acd.reports.kpi import Kpis, compute_kpis


async def rows(url: str, table) -> list[dict]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(select(table))).mappings().all()]
    finally:
        await engine.dispose()


async def record_for(url: str, line: str, count: int = 1, timeout: float = 15) -> list[dict]:
    """The call records of ``line``, once there are ``count`` of them."""
    found: list[dict] = []
    for _ in range(int(timeout / 0.2)):
        found = [r for r in await rows(url, call_records) if r["line"] == line]
        if len(found) >= count:
            return sorted(found, key=lambda r: r["entered_at"])
        await asyncio.sleep(0.2)
    raise AssertionError(f"{len(found)} of {count} call records of line {line}")


async def copy_rows(source: str, target: str) -> None:
    """The call records, dispositions and agent intervals of ``source`` into ``target``
    (migrated first)."""
    await upgrade(target)
    src, dst = make_engine(source), make_engine(target)
    try:
        for table in (call_records, dispositions, agent_intervals):
            async with src.connect() as conn:
                found = [dict(r) for r in (await conn.execute(
                    select(table).order_by(*table.primary_key.columns))).mappings().all()]
            if found:
                async with dst.begin() as conn:
                    await conn.execute(insert(table), found)
    finally:
        await src.dispose()
        await dst.dispose()


async def kpis_on_both_databases(url: str, postgres_admin_url: str, start: datetime,
                                 end: datetime) -> list[Kpis]:
    """The KPIs of [start, end) computed on ``url`` and on a fresh PostgreSQL database
    holding a copy of its rows (the same SQL must give the same figures)."""
    from tests.support.postgres import fresh_database

    pg_url, drop, _name = await fresh_database(postgres_admin_url)
    try:
        await copy_rows(url, pg_url)
        computed = []
        for database in (url, pg_url):
            engine = make_engine(database)
            try:
                computed.append(await compute_kpis(engine, start, end))
            finally:
                await engine.dispose()
        return computed
    finally:
        await drop()
