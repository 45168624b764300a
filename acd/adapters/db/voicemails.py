"""Voicemail messages left by callers who could not wait (録音メッセージ): listed for the
supervisors and city staff, assigned to someone, marked handled. One store for the API,
the consoles and the CSV export (the list query exists once)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.db.schema import voicemails


class VoicemailStore:
    def __init__(self, engine: AsyncEngine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._clock = clock

    async def list(self, *, unhandled: bool = False, limit: int = 200) -> list[dict[str, Any]]:
        """The newest messages first (``unhandled``: only those nobody handled yet)."""
        query = select(voicemails).order_by(voicemails.c.left_at.desc()).limit(limit)
        if unhandled:
            query = query.where(voicemails.c.handled_at.is_(None))
        async with self.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings().all()]

    async def _set(self, uniqueid: str, **values: Any) -> bool:
        async with self.engine.begin() as conn:
            done = await conn.execute(update(voicemails).where(
                voicemails.c.uniqueid == uniqueid).values(**values))
        return bool(done.rowcount)

    async def mark_handled(self, uniqueid: str, by: str) -> bool:
        """False when there is no such message."""
        return await self._set(uniqueid, handled_at=self._clock(), handled_by=by)

    async def assign(self, uniqueid: str, to: str | None) -> bool:
        """False when there is no such message."""
        return await self._set(uniqueid, assigned_to=to)
