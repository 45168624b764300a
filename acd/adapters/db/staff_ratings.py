"""職員満足度 in the database: each rating the city's staff give the centre for a month
(kept, never overwritten: a second rating of the month is one more)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.db.schema import staff_ratings as t


@dataclass(frozen=True)
class StaffRating:
    id: int
    month: str  # YYYY-MM
    score: int  # 0-100
    comment: str
    rated_by: str
    rated_at: float


class StaffRatings:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(self, month: str, score: int, comment: str, by: str) -> StaffRating:
        async with self.engine.begin() as conn:
            done = await conn.execute(insert(t).values(month=month, score=score,
                                                       comment=comment, rated_by=by,
                                                       rated_at=time.time()))
            key = done.inserted_primary_key
            assert key is not None
            row = (await conn.execute(select(t).where(t.c.id == key[0]))).mappings().one()
        return StaffRating(**row)

    async def of_months(self, months: list[str]) -> list[StaffRating]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(t).where(t.c.month.in_(months))
                                       .order_by(t.c.rated_at, t.c.id))).mappings().all()
        return [StaffRating(**row) for row in rows]
