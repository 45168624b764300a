"""The database adapter: the event log and call records (SQLAlchemy Core, async).

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) is selected by URL.
Times are stored as UNIX epoch seconds (double precision) so durations and KPI maths are
the same SQL on both databases. The schema is owned by Alembic (migrations/); the
tables here mirror it for queries.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import (
    case,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from acd.adapters.db.schema import (
    agent_intervals,
    agent_states,
    call_events,
    call_records,
    metadata,
)
from acd.domain.calls import CallRecord

log = structlog.get_logger(__name__)









def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        return create_async_engine(url, connect_args={"timeout": 30})
    return create_async_engine(url, pool_pre_ping=True)


class Database:
    """Writes of the controller. A write that fails is retried; while the database stays
    unreachable, records wait in a spool file and are written when it is back."""

    def __init__(self, engine: AsyncEngine, spool_file: Path, retries: int = 3) -> None:
        self.engine = engine
        self._spool = spool_file
        self._retries = retries

    async def check(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(select(1))

    async def append_event(self, kind: str, occurred_at: float, uniqueid: str | None,
                           payload: dict[str, Any]) -> None:
        await self._write({"op": "insert", "table": "call_events", "values": {
            "kind": kind, "occurred_at": occurred_at, "uniqueid": uniqueid,
            "payload": json.dumps(payload, ensure_ascii=False)}})

    async def save_record(self, record: CallRecord) -> None:
        await self._write({"op": "upsert", "table": "call_records", "values": asdict(record)})

    async def save_disposition(self, values: dict[str, Any]) -> None:
        await self._write({"op": "insert", "table": "dispositions", "values": values})

    async def save_voicemail(self, values: dict[str, Any]) -> None:
        await self._write({"op": "upsert", "table": "voicemails", "values": values})

    async def save_agent_interval(self, agent: str, status: str, previous: str,
                                  reason: str | None, at: float, uniqueid: str | None) -> None:
        """Close the agent's open interval at ``at`` and open one for ``status`` (none
        after a logout); in one transaction, spooled like every write."""
        await self._write({"op": "agent_interval", "table": "agent_intervals", "values": {
            "agent": agent, "status": status, "previous": previous, "reason": reason,
            "at": at, "uniqueid": uniqueid}})

    async def _write(self, item: dict[str, Any]) -> None:
        if self._spool.exists() and not await self._drain_spool():
            self._append_spool(item)
            return
        if not await self._try(item):
            self._append_spool(item)

    async def _try(self, item: dict[str, Any]) -> bool:
        for attempt in range(self._retries):
            try:
                async with self.engine.begin() as conn:
                    if item["op"] == "agent_interval":
                        await _next_agent_interval(conn, **item["values"])
                    else:
                        await conn.execute(_statement(conn.dialect.name, item))
                return True
            except (SQLAlchemyError, OSError) as exc:
                log.warning("db.write_failed", attempt=attempt + 1, error=str(exc)[:200])
                await asyncio.sleep(0.2 * 2 ** attempt)
        return False

    def _append_spool(self, item: dict[str, Any]) -> None:
        self._spool.parent.mkdir(parents=True, exist_ok=True)
        with self._spool.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
        log.error("db.spooled", spool=str(self._spool), op=item["op"])

    async def _drain_spool(self) -> bool:
        """Write what was spooled, in order. True when the spool is empty again."""
        items = [json.loads(line) for line in self._spool.read_text("utf-8").splitlines()
                 if line.strip()]
        for index, item in enumerate(items):
            if not await self._try(item):
                remaining = items[index:]
                self._spool.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n"
                                               for i in remaining), "utf-8")
                return False
        self._spool.unlink()
        log.info("db.spool_drained", items=len(items))
        return True

    async def save_agent_state(self, agent_id: str, status: str, snapshot: dict[str, Any],
                               at: float) -> None:
        await self._write({"op": "upsert", "table": "agent_states", "values": {
            "agent_id": agent_id, "status": status, "updated_at": at,
            "snapshot": json.dumps(snapshot, ensure_ascii=False)}})

    async def agent_snapshots(self) -> dict[str, dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(agent_states))).mappings().all()
        return {r["agent_id"]: json.loads(r["snapshot"]) for r in rows}

    async def open_call_events(self, since: float) -> list[dict[str, Any]]:
        """Events of calls that have no record yet (to rebuild state after a restart)."""
        done = select(call_records.c.uniqueid)
        query = (select(call_events)
                 .where(call_events.c.occurred_at >= since,
                        call_events.c.uniqueid.is_not(None),
                        call_events.c.uniqueid.not_in(done))
                 .order_by(call_events.c.id))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [dict(row) for row in rows]

    async def call_records(self, limit: int = 100) -> list[dict[str, Any]]:
        query = select(call_records).order_by(call_records.c.entered_at.desc()).limit(limit)
        async with self.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings().all()]


async def _next_agent_interval(conn, agent: str, status: str, previous: str,
                               reason: str | None, at: float, uniqueid: str | None) -> None:
    t = agent_intervals
    open_ = (await conn.execute(select(t.c.login_at).where(
        t.c.agent == agent, t.c.ended_at.is_(None)).order_by(t.c.id.desc()).limit(1))).first()
    await conn.execute(update(t).where(t.c.agent == agent, t.c.ended_at.is_(None)).values(
        ended_at=case((t.c.started_at > at, t.c.started_at), else_=at)))
    if status == "logged_out":
        return
    login_at = open_.login_at if open_ is not None and previous != "logged_out" else at
    await conn.execute(insert(t).values(
        agent=agent, status=status, reason=reason if status == "away" else None,
        started_at=at, ended_at=None, login_at=login_at, uniqueid=uniqueid))


def _statement(dialect: str, item: dict[str, Any]):
    table = metadata.tables[item["table"]]
    values = item["values"]
    if item["op"] == "insert":
        return insert(table).values(**values)
    upsert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = upsert(table).values(**values)
    key = [c.name for c in table.primary_key.columns]
    return statement.on_conflict_do_update(
        index_elements=key, set_={k: statement.excluded[k] for k in values if k not in key})
