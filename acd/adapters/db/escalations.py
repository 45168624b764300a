"""The escalation (callback, 折り返し) list: a call the operator could not complete and
the city must answer. Written with an エスカレーション disposition; supervisors assign and
mark them handled; city staff (viewers) read them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.db.schema import escalations


class EscalationStore:
    def __init__(self, engine: AsyncEngine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._clock = clock

    async def add(self, *, uniqueid: str, agent: str, line: str | None, caller: str | None,
                  callback_name: str, callback_number: str, question: str,
                  department: str) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(insert(escalations).values(
                uniqueid=uniqueid, agent=agent, line=line, caller=caller,
                callback_name=callback_name, callback_number=callback_number,
                question=question, department=department, created_at=self._clock()))
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    async def list(self, *, unhandled: bool = False, limit: int = 500) -> list[dict[str, Any]]:
        query = select(escalations).order_by(escalations.c.created_at.desc()).limit(limit)
        if unhandled:
            query = query.where(escalations.c.handled_at.is_(None))
        async with self.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings().all()]

    async def mark_handled(self, item: int, by: str) -> bool:
        return await self._set(item, handled_at=self._clock(), handled_by=by)

    async def assign(self, item: int, to: str | None) -> bool:
        return await self._set(item, assigned_to=to)

    async def _set(self, item: int, **values) -> bool:
        async with self.engine.begin() as conn:
            done = await conn.execute(update(escalations).where(escalations.c.id == item)
                                      .values(**values))
        return done.rowcount > 0
