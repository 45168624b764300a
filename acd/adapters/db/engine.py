"""The database adapter: the event log and call records (SQLAlchemy Core, async).

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) is selected by URL.
Times are stored as UNIX epoch seconds (double precision) so durations and KPI maths are
the same SQL on both databases. The schema is owned by Alembic (migrations/); the
tables here mirror it for queries.
"""

from __future__ import annotations

import asyncio
import functools
import json
import socket
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import (
    Double,
    bindparam,
    case,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
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

#: How long one write may take on the event path before the database counts as away.
WRITE_TIMEOUT = 2.0
#: What reading or writing raises when the database cannot be reached (asyncpg's refused
#: connection comes as it is, not wrapped by SQLAlchemy).
UNREACHABLE = (SQLAlchemyError, ConnectionError, TimeoutError, socket.gaierror)
#: The spool is written back in batches of this many items (the writers wait meanwhile).
DRAIN_BATCH = 100
RETRY_FIRST, RETRY_MAX = 0.2, 5.0


#: Writes waiting for their transaction past which a writer waits for it (back-pressure).
PENDING_LIMIT = 1000


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL (readers never wait for the writer, a commit appends to the log) with
    ``synchronous=NORMAL``: a commit is not fsynced, the log is at each checkpoint; a
    power cut may lose the last transactions but never corrupts the database, and a
    crash of the process loses nothing."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


class Database:
    """Writes of the controller and the gateway, in order, never lost.

    A write is queued and the writer goes on at once: the writes queued during one turn
    of the event loop (an AMI burst, a call's end: its events, record and agent states)
    go to the database together, in one transaction, in the order they were made. When
    that fails (or takes longer than :data:`WRITE_TIMEOUT`) the database counts as away:
    that batch and every later write go to the spool file, in order, and a background
    task writes the spool back as soon as the database answers again (retrying with
    backoff). Only then do writes go to the database directly again, so the order of the
    event log (its ids) is the order of the writes. One lock keeps the batches and the
    drain from interleaving: every item lands once. :meth:`flushed` waits until every
    write made so far is committed or spooled (the reads of this class do it first);
    past :data:`PENDING_LIMIT` queued writes a writer waits for that too.

    ``on_recovered``: called (async) after a spool was written back (recordings whose
    sealing waited for the database are sealed then).
    """

    def __init__(self, engine: AsyncEngine, spool_file: Path, *,
                 on_recovered: Callable[[], Awaitable[Any]] | None = None,
                 write_timeout: float = WRITE_TIMEOUT) -> None:
        self.engine = engine
        self._spool = SpoolFile(spool_file)
        #: Writes wait in the spool (a spool left by an earlier run counts).
        self._away = self._spool.exists()
        self._on_recovered = on_recovered
        self._write_timeout = write_timeout
        self._lock = asyncio.Lock()
        self._recovery: asyncio.Task[None] | None = None
        self._pending: list[dict[str, Any]] = []
        self._writer: asyncio.Task[None] | None = None
        #: Transactions committed by the writer (batches), and the items in them.
        self.batches = self.batched_items = 0

    @property
    def away(self) -> bool:
        """True while writes wait in the spool."""
        return self._away

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

    async def save_access(self, values: dict[str, Any]) -> None:
        """An entry of the consoles' access log (:mod:`acd.adapters.db.access_log`),
        committed (or spooled) before this returns: the page that follows reads it."""
        await self._write({"op": "insert", "table": "access_log", "values": values})
        await self.flushed()

    async def save_agent_interval(self, agent: str, status: str, previous: str,
                                  reason: str | None, at: float, uniqueid: str | None) -> None:
        """Close the agent's open interval at ``at`` and open one for ``status`` (none
        after a logout); in one transaction, spooled like every write."""
        await self._write({"op": "agent_interval", "table": "agent_intervals", "values": {
            "agent": agent, "status": status, "previous": previous, "reason": reason,
            "at": at, "uniqueid": uniqueid}})

    async def _write(self, item: dict[str, Any]) -> None:
        self._pending.append(item)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(
                self._write_pending(), name="db-writer")
        if len(self._pending) >= PENDING_LIMIT:
            await self.flushed()

    async def flushed(self) -> None:
        """Wait until every write made so far is in the database or in the spool."""
        while (writer := self._writer) is not None and not writer.done():
            await asyncio.wait({writer})

    async def _write_pending(self) -> None:
        """The writer: the writes queued so far, in one transaction, until none is left."""
        await asyncio.sleep(0)  # the rest of this turn of the loop joins the batch
        while self._pending:
            async with self._lock:
                batch, self._pending = self._pending, []
                if not self._away:
                    try:
                        await asyncio.wait_for(self._execute_batch(batch),
                                               self._write_timeout)
                        self.batches += 1
                        self.batched_items += len(batch)
                        continue
                    except (SQLAlchemyError, OSError, TimeoutError) as exc:
                        log.error("db.unavailable", alarm=True,
                                  error=str(exc)[:200] or "timeout",
                                  spool=str(self._spool.path), items=len(batch))
                    except Exception:  # never lost: kept in the spool, looked at there
                        log.exception("db.write_failed", alarm=True, items=len(batch))
                self._spool.extend(batch)
                self._away = True
            self._start_recovery()

    async def _execute_batch(self, batch: list[dict[str, Any]]) -> None:
        """Every item of ``batch`` in order, in one transaction (a run of plain inserts
        into one table as one executemany)."""
        async with self.engine.begin() as conn:
            dialect = conn.dialect.name
            i = 0
            while i < len(batch):
                item = batch[i]
                if item["op"] == "insert":
                    j = i + 1
                    while (j < len(batch) and batch[j]["op"] == "insert"
                           and batch[j]["table"] == item["table"]
                           and batch[j]["values"].keys() == item["values"].keys()):
                        j += 1
                    if j > i + 1:
                        await conn.execute(
                            _statement(dialect, "insert", item["table"], ()),
                            [b["values"] for b in batch[i:j]])
                        i = j
                        continue
                await _execute_item(conn, dialect, item)
                i += 1

    async def _execute(self, item: dict[str, Any]) -> None:
        async with self.engine.begin() as conn:
            await _execute_item(conn, conn.dialect.name, item)

    def _start_recovery(self) -> None:
        if self._recovery is None or self._recovery.done():
            self._recovery = asyncio.get_running_loop().create_task(
                self._recover(), name="db-spool")

    async def _recover(self) -> None:
        delay, total = RETRY_FIRST, 0
        while True:
            await asyncio.sleep(delay)
            async with self._lock:
                try:
                    written = await self._drain_batch()
                except (SQLAlchemyError, OSError) as exc:
                    log.warning("db.still_unavailable", retry_in=delay,
                                error=str(exc)[:200])
                    delay = min(delay * 2, RETRY_MAX)
                    continue
                delay, total = 0.0, total + written
                if self._spool.exists():
                    continue
                self._away = False
            log.info("db.spool_drained", items=total)
            break
        if self._on_recovered is not None:
            try:
                await self._on_recovered()
            except Exception:
                log.exception("db.recovered_listener_failed")

    async def _drain_batch(self) -> int:
        """Write up to :data:`DRAIN_BATCH` spooled items, each in its own transaction,
        marking each as done once committed; the number written."""
        written = 0
        for item in self._spool.pending(DRAIN_BATCH):
            try:
                await asyncio.wait_for(self._execute(item), self._write_timeout)
            except IntegrityError as exc:  # never writable: kept apart, not retried
                self._spool.reject(item, str(exc)[:500])
            written += 1
            self._spool.done(1)
        self._spool.compact()
        return written

    def resume(self) -> None:
        """Write back a spool an earlier run left (at start)."""
        if self._away:
            self._start_recovery()

    async def flush(self, timeout: float = 30.0) -> bool:
        """Wait until the writes made so far and the spool are written back (True) or
        ``timeout`` passes (False)."""
        try:
            await asyncio.wait_for(self.flushed(), timeout)
        except TimeoutError:
            return False
        self.resume()
        task = self._recovery
        if task is None or task.done():
            return not self._away
        done, _ = await asyncio.wait({task}, timeout=timeout)
        return bool(done) and not self._away

    async def save_agent_state(self, agent_id: str, status: str, snapshot: dict[str, Any],
                               at: float) -> None:
        await self._write({"op": "upsert", "table": "agent_states", "values": {
            "agent_id": agent_id, "status": status, "updated_at": at,
            "snapshot": json.dumps(snapshot, ensure_ascii=False)}})

    async def agent_snapshots(self) -> dict[str, dict[str, Any]]:
        await self.flushed()
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
        await self.flushed()
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [dict(row) for row in rows]

    async def last_event_at(self) -> float | None:
        """When the newest event of the log happened (None: an empty log)."""
        await self.flushed()
        async with self.engine.connect() as conn:
            return (await conn.execute(select(func.max(call_events.c.occurred_at)))).scalar()

    async def recorded(self, uniqueids: list[str]) -> set[str]:
        """Which of these calls have a call record already."""
        if not uniqueids:
            return set()
        await self.flushed()
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(call_records.c.uniqueid).where(
                call_records.c.uniqueid.in_(uniqueids)))
            return {row[0] for row in rows}

    async def call_records(self, limit: int = 100) -> list[dict[str, Any]]:
        query = select(call_records).order_by(call_records.c.entered_at.desc()).limit(limit)
        await self.flushed()
        async with self.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings().all()]


class SpoolFile:
    """Writes waiting for the database: one JSON item per line, in order, and beside it
    the count of leading items already written (``<spool>.done``, with the spool file's
    inode: a compacted spool is a new file, and an older count does not apply to it), so
    that an item is written once even when the process stops between a commit and the
    rewrite of the file. Items the database can never take (an integrity error) go to
    ``<spool>.rejected`` with the error, for an operator to look at; they do not hold the
    others back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._done = path.with_name(path.name + ".done")
        self._rejected = path.with_name(path.name + ".rejected")

    def exists(self) -> bool:
        return self.path.exists()

    def append(self, item: dict[str, Any]) -> None:
        self.extend([item])

    def extend(self, items: list[dict[str, Any]]) -> None:
        """Append ``items`` in order, in one write."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items))

    def _inode(self) -> int:
        try:
            return self.path.stat().st_ino
        except FileNotFoundError:
            return 0

    def _done_count(self) -> int:
        try:
            inode, count = self._done.read_text("ascii").split()
        except (FileNotFoundError, ValueError):
            return 0
        return int(count) if int(inode) == self._inode() else 0

    def _items(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text("utf-8").splitlines()
                if line.strip()]

    def pending(self, limit: int) -> list[dict[str, Any]]:
        done = self._done_count()
        return self._items()[done:done + limit]

    def done(self, count: int) -> None:
        self._done.write_text(f"{self._inode()} {self._done_count() + count}", "ascii")

    def reject(self, item: dict[str, Any], error: str) -> None:
        with self._rejected.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"item": item, "error": error}, ensure_ascii=False) + "\n")
        log.error("db.write_rejected", alarm=True, op=item["op"], error=error[:200],
                  kept_in=str(self._rejected))

    def compact(self) -> None:
        """Drop the written items from the file (the spool is gone once all are)."""
        items, done = self._items(), self._done_count()
        remaining = items[done:]
        if remaining:
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n"
                                         for i in remaining), "utf-8")
            temporary.replace(self.path)
        else:
            self.path.unlink(missing_ok=True)
        self._done.unlink(missing_ok=True)


def _interval_statements():
    """The agent's open interval (its session start), closing it at a time, opening the
    next: built once, the agent and the time bound at each run."""
    t = agent_intervals
    agent = bindparam("of_agent", type_=t.c.agent.type)
    at = bindparam("closed_at", type_=Double)
    still_open = (t.c.agent == agent, t.c.ended_at.is_(None))
    return (select(t.c.login_at).where(*still_open).order_by(t.c.id.desc()).limit(1),
            update(t).where(*still_open).values(
                ended_at=case((t.c.started_at > at, t.c.started_at), else_=at)),
            insert(t))


_OPEN_INTERVAL, _CLOSE_INTERVAL, _NEW_INTERVAL = _interval_statements()


async def _next_agent_interval(conn, agent: str, status: str, previous: str,
                               reason: str | None, at: float, uniqueid: str | None) -> None:
    open_ = (await conn.execute(_OPEN_INTERVAL, {"of_agent": agent})).first()
    await conn.execute(_CLOSE_INTERVAL, {"of_agent": agent, "closed_at": at})
    if status == "logged_out":
        return
    login_at = open_.login_at if open_ is not None and previous != "logged_out" else at
    await conn.execute(_NEW_INTERVAL, {
        "agent": agent, "status": status, "reason": reason if status == "away" else None,
        "started_at": at, "ended_at": None, "login_at": login_at, "uniqueid": uniqueid})


async def _execute_item(conn, dialect: str, item: dict[str, Any]) -> None:
    if item["op"] == "agent_interval":
        await _next_agent_interval(conn, **item["values"])
    else:
        values = item["values"]
        await conn.execute(_statement(dialect, item["op"], item["table"], tuple(values)), values)


@functools.lru_cache(maxsize=256)
def _statement(dialect: str, op: str, table_name: str, columns: tuple[str, ...]):
    """The insert or upsert of ``columns`` into a table, built once per shape (the values
    are bound at each execution): building and compiling a statement per write cost more
    than the write."""
    table = metadata.tables[table_name]
    if op == "insert":
        return insert(table)
    upsert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = upsert(table)
    key = [c.name for c in table.primary_key.columns]
    return statement.on_conflict_do_update(
        index_elements=key, set_={k: statement.excluded[k] for k in columns if k not in key})
