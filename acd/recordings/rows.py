"""The recording feature's tables: the ``recordings`` rows (read; written in a transaction
retried when the database hiccups) and the access log ``recording_access_log`` (who
searched, played, downloaded, erased or certified what, and from where)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.db.schema import recording_access_log, recordings
from acd.recordings.models import ACTIONS, MAX_PAGE

log = structlog.get_logger(__name__)


class RecordingRows:
    """The ``recordings`` table; a write is tried ``write_retries`` times (with a short
    back-off) before it raises, with an alarm."""

    def __init__(self, engine: AsyncEngine, *, write_retries: int = 3) -> None:
        self.engine = engine
        self._write_retries = write_retries

    async def get(self, uniqueid: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(recordings).where(
                recordings.c.uniqueid == uniqueid))).mappings().first()
        return dict(row) if row else None

    async def where(self, *conditions: Any,
                    order_by: tuple[Any, ...] = (recordings.c.started_at,),
                    ) -> list[dict[str, Any]]:
        """The rows matching every condition, in ``order_by`` (default: oldest start
        first)."""
        query = select(recordings).where(*conditions).order_by(*order_by)
        async with self.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings().all()]

    async def upsert(self, row: dict[str, Any]) -> None:
        async def run(conn):
            done = await conn.execute(update(recordings).where(
                recordings.c.uniqueid == row["uniqueid"]).values(**row))
            if done.rowcount == 0:
                await conn.execute(insert(recordings).values(**row))
        await self._retrying(run)

    async def update(self, uniqueid: str, **values: Any) -> None:
        await self.write(update(recordings).where(
            recordings.c.uniqueid == uniqueid).values(**values))

    async def write(self, statement) -> None:
        async def run(conn):
            await conn.execute(statement)
        await self._retrying(run)

    async def _retrying(self, work: Callable[[Any], Awaitable[None]]) -> None:
        for attempt in range(self._write_retries):
            try:
                async with self.engine.begin() as conn:
                    await work(conn)
                return
            except (SQLAlchemyError, OSError) as exc:
                if attempt == self._write_retries - 1:
                    log.error("recording.db_write_failed", alarm=True, error=str(exc)[:300])
                    raise
                log.warning("recording.db_write_retry", attempt=attempt + 1,
                            error=str(exc)[:200])
                await asyncio.sleep(0.2 * 2 ** attempt)


class AccessLog:
    """``recording_access_log``: one row per search, playback, download, erasure and
    certificate, granted or refused."""

    def __init__(self, rows: RecordingRows, clock: Callable[[], float]) -> None:
        self._rows = rows
        self._clock = clock

    async def record(self, who: str, action: str, uniqueid: str | None,
                     remote: str | None, detail: str = "",
                     result: Literal["granted", "refused"] = "granted") -> None:
        """Write one access-log row; ``refused``: the request was turned down (no audio
        left), logged all the same."""
        if action not in ACTIONS:
            raise ValueError(f"unknown access action {action!r}")
        if result not in ("granted", "refused"):
            raise ValueError(f"unknown access result {result!r}")
        await self._rows.write(insert(recording_access_log).values(
            at=self._clock(), who=(who or "unknown")[:80], action=action,
            recording_uniqueid=uniqueid, remote=(remote or None) and str(remote)[:64],
            detail=detail, result=result))

    async def entries(self, *, since: float | None = None, until: float | None = None,
                      who: str | None = None, action: str | None = None,
                      uniqueid: str | None = None, result: str | None = None,
                      limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Entries of the access log, newest first."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be 1..{MAX_PAGE}")
        a = recording_access_log.c
        conditions = []
        if since is not None:
            conditions.append(a.at >= since)
        if until is not None:
            conditions.append(a.at < until)
        for column, value in ((a.who, who), (a.action, action),
                              (a.recording_uniqueid, uniqueid), (a.result, result)):
            if value:
                conditions.append(column == value)
        query = (select(recording_access_log).where(*conditions)
                 .order_by(a.at.desc(), a.id.desc()).limit(limit).offset(offset))
        async with self._rows.engine.connect() as conn:
            return [dict(row) for row in (await conn.execute(query)).mappings().all()]
