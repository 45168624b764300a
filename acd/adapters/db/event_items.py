"""The events of the event-information lines in the database (the truth; Asterisk's
global variables only hold what the dialplan announces). Deleting an item marks it
deleted: who changed what and when stays on record."""

from __future__ import annotations

import time
from datetime import date

from sqlalchemy import (
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.db.schema import event_items
from acd.domain.event_info import EventItem


def _item(row) -> EventItem:
    return EventItem(id=row["id"], events=row["events"], day=row["day"],
                     position=row["position"], status=row["status"],
                     title_prompt=row["title_prompt"], title_text=row["title_text"],
                     title_audio=row["title_audio"], updated_at=row["updated_at"],
                     updated_by=row["updated_by"], deleted=row["deleted"])


class EventStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def items(self, events: str, day: date, include_deleted: bool = False
                    ) -> list[EventItem]:
        query = (select(event_items)
                 .where(event_items.c.events == events, event_items.c.day == day)
                 .order_by(event_items.c.position, event_items.c.id))
        if not include_deleted:
            query = query.where(event_items.c.deleted.is_(False))
        async with self.engine.connect() as conn:
            return [_item(r) for r in (await conn.execute(query)).mappings().all()]

    async def get(self, item_id: int) -> EventItem | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(event_items).where(
                event_items.c.id == item_id))).mappings().first()
        return _item(row) if row else None

    async def add(self, item: EventItem) -> EventItem:
        async with self.engine.begin() as conn:
            done = await conn.execute(insert(event_items).values(
                events=item.events, day=item.day, position=item.position,
                title_prompt=item.title_prompt, title_text=item.title_text,
                title_audio=item.title_audio, status=item.status, updated_at=time.time(),
                updated_by=item.updated_by, deleted=False))
            key = done.inserted_primary_key
            assert key is not None
            item_id = int(key[0])
        stored = await self.get(item_id)
        assert stored is not None
        return stored

    async def change(self, item_id: int, by: str, **values: object) -> EventItem | None:
        """Update the given columns (and who/when); None when there is no such item."""
        async with self.engine.begin() as conn:
            done = await conn.execute(update(event_items).where(
                event_items.c.id == item_id, event_items.c.deleted.is_(False)).values(
                updated_at=time.time(), updated_by=by, **values))
            if done.rowcount == 0:
                return None
        return await self.get(item_id)
