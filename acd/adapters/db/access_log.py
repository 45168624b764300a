"""The access log of the consoles: sign-in, failures, lock-outs, sign-out, password
changes, and every access to personal data (screen-pop caller data, previous contacts,
escalation and voicemail lists). Append-only; read by admins and auditors.

Given the stack's :class:`~acd.adapters.db.engine.Database`, entries are written through
it: while the database is away they wait in its spool, in order, and none is lost."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from sqlalchemy import (
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.db.schema import access_log

log = structlog.get_logger(__name__)


#: What the log records (``action``).
SIGN_IN, SIGN_IN_FAILED, LOCKED, SIGN_IN_LOCKED, SIGN_OUT = (
    "sign_in", "sign_in_failed", "locked", "sign_in_locked", "sign_out")
PASSWORD_CHANGED, PERSONAL_DATA, FORBIDDEN = "password_changed", "personal_data", "forbidden"
USER_ADDED, USER_DISABLED, USER_UNLOCKED, MONITOR = (
    "user_added", "user_disabled", "user_unlocked", "monitor")


#: Writes one entry (the stack's: :meth:`Database.save_access`, spooled).
EntryWriter = Callable[[dict[str, Any]], Awaitable[None]]


class AccessLog:
    def __init__(self, engine: AsyncEngine, clock: Callable[[], float] = time.time, *,
                 writer: EntryWriter | None = None) -> None:
        self.engine = engine
        self._clock = clock
        self._writer = writer

    async def write(self, action: str, user_id: str | None, *, remote: str | None = None,
                    subject: str | None = None, detail: str | None = None) -> None:
        values = {"at": self._clock(), "user_id": user_id, "action": action,
                  "subject": subject[:200] if subject else subject,
                  "remote": remote[:64] if remote else remote, "detail": detail}
        if self._writer is not None:
            await self._writer(values)
        else:
            async with self.engine.begin() as conn:
                await conn.execute(insert(access_log).values(**values))
        log.info("access", action=action, user=user_id, subject=subject)

    async def personal_data(self, user_id: str | None, *, remote: str | None,
                            subject: str, detail: str | None = None) -> None:
        """Someone was shown personal data (``subject``: what, ``detail``: whose)."""
        await self.write(PERSONAL_DATA, user_id, remote=remote, subject=subject,
                         detail=detail)

    async def recent(self, limit: int = 200, *, user_id: str | None = None,
                     action: str | None = None) -> list[dict[str, Any]]:
        query = select(access_log).order_by(access_log.c.id.desc()).limit(limit)
        if user_id is not None:
            query = query.where(access_log.c.user_id == user_id)
        if action is not None:
            query = query.where(access_log.c.action == action)
        async with self.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings().all()]
