"""The emergency switches in the database: the truth and the audit trail (Asterisk's
AstDB only holds what the dialplan plays). A switch is never deleted: taking it off
writes who and when."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.db.schema import emergency_switches as t
from acd.domain.emergency import Emergency


def _switch(row) -> Emergency:
    return Emergency(id=row["id"], scope=row["scope"], mode=row["mode"], audio=row["audio"],
                     language=row["language"], prompt=row["prompt"], text=row["text"],
                     until=row["until"], on_by=row["on_by"], on_at=row["on_at"],
                     off_by=row["off_by"], off_at=row["off_at"])


class EmergencyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def on_record(self) -> list[Emergency]:
        """The switches not taken off (some may have passed their end time)."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(t).where(t.c.off_at.is_(None))
                                       .order_by(t.c.on_at, t.c.id))).mappings().all()
        return [_switch(r) for r in rows]

    async def history(self, limit: int = 100) -> list[Emergency]:
        """The latest switches first."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(t).order_by(t.c.on_at.desc(), t.c.id.desc())
                                       .limit(limit))).mappings().all()
        return [_switch(r) for r in rows]

    async def add(self, switch: Emergency) -> Emergency:
        """Store a new switch, taking off (by the same person) the scope's switch it
        replaces, in one transaction."""
        async with self.engine.begin() as conn:
            await conn.execute(update(t).where(t.c.scope == switch.scope, t.c.off_at.is_(None))
                               .values(off_by=switch.on_by, off_at=switch.on_at))
            done = await conn.execute(insert(t).values(
                scope=switch.scope, mode=switch.mode, audio=switch.audio,
                language=switch.language, prompt=switch.prompt, text=switch.text,
                until=switch.until, on_by=switch.on_by, on_at=switch.on_at))
            key = done.inserted_primary_key
            assert key is not None
            row = (await conn.execute(select(t).where(t.c.id == key[0]))).mappings().one()
        return _switch(row)

    async def take_off(self, switch_id: int, by: str, at: float) -> Emergency | None:
        """None when the switch is not on (any more)."""
        async with self.engine.begin() as conn:
            done = await conn.execute(update(t).where(t.c.id == switch_id, t.c.off_at.is_(None))
                                      .values(off_by=by, off_at=at))
            if done.rowcount == 0:
                return None
            row = (await conn.execute(select(t).where(t.c.id == switch_id))).mappings().one()
        return _switch(row)
