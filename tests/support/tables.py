"""A running stack's database read back: a table's rows, and a line's call records once written."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from acd.adapters.db.engine import make_engine
from acd.adapters.db.schema import call_records


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
