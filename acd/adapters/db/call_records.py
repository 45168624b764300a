"""Reading the call records (written by the controller's executor): one call, a caller's
previous contacts, and today's counts per queue and per agent for the wallboard."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import structlog
from sqlalchemy import Integer, and_, bindparam, case, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import aliased

from acd.adapters.db.schema import call_records, dispositions

log = structlog.get_logger(__name__)



def _previous_contacts_query():
    """A caller's calls, newest first, each joined to its latest disposition; built once
    (it runs for every screen-pop), with the caller and the limit bound at each run."""
    r = call_records
    d = aliased(dispositions, name="d")
    later = aliased(dispositions, name="d_latest")
    latest = (select(func.max(later.c.id)).where(later.c.uniqueid == r.c.uniqueid)
              .scalar_subquery())
    return (select(r.c.uniqueid, r.c.entered_at, r.c.line, r.c.outcome, r.c.agent,
                   d.c.outcome.label("disposition"), d.c.category, d.c.note, d.c.complaint)
            .select_from(r.outerjoin(d, and_(d.c.uniqueid == r.c.uniqueid,
                                             d.c.id == latest)))
            .where(r.c.caller == bindparam("caller"))
            .order_by(r.c.entered_at.desc()).limit(bindparam("limit", type_=Integer)))


_PREVIOUS_CONTACTS = _previous_contacts_query()

class CallRecords:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def get(self, uniqueid: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(call_records).where(
                call_records.c.uniqueid == uniqueid))).mappings().first()
        return dict(row) if row is not None else None

    async def line_and_caller(self, uniqueid: str) -> tuple[str | None, str | None]:
        row = await self.get(uniqueid)
        return (row["line"], row["caller"]) if row else (None, None)

    async def previous_contacts(self, caller: str, limit: int) -> list[dict[str, Any]] | None:
        """The caller's calls, newest first, each with its latest disposition (outcome
        as ``disposition``, category, note, complaint); None while the database is away
        (a screen-pop goes out without them rather than not at all)."""
        try:
            return await self._previous_contacts(caller, limit)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("call_records.history_unavailable", error=str(exc)[:200])
            return None

    async def _previous_contacts(self, caller: str, limit: int) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(_PREVIOUS_CONTACTS, {"caller": caller, "limit": limit})
            return [dict(row) for row in rows.mappings().all()]

    async def counts_since(self, start: float, quick_answer_seconds: float,
                           not_offered: Collection[str], interval_start: float | None = None
                           ) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
        """Per queue, the calls entered since ``start``: offered (outcomes in
        ``not_offered`` are not), answered, quick (answered within the seconds, the
        congestion message not counted), abandoned, overflow (to voicemail too), and
        answered and quick of those entered since ``interval_start`` (default: start);
        per agent the calls answered."""
        r = call_records
        answered = r.c.outcome == "answered"
        quick = and_(answered, (r.c.wait_seconds - func.coalesce(r.c.congestion_seconds, 0))
                     <= quick_answer_seconds)

        def count(condition: Any) -> Any:
            return func.sum(case((condition, 1), else_=0))

        recent = r.c.entered_at >= (start if interval_start is None else interval_start)
        query = (select(r.c.queue, count(r.c.outcome.not_in(tuple(not_offered))),
                        count(answered), count(quick), count(r.c.outcome == "abandoned"),
                        count(r.c.outcome.in_(("overflow", "voicemail"))),
                        count(and_(answered, recent)), count(and_(quick, recent)))
                 .where(r.c.entered_at >= start, r.c.queue != "").group_by(r.c.queue))
        per_agent = (select(r.c.agent, func.count()).where(r.c.entered_at >= start, answered)
                     .group_by(r.c.agent))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            agent_rows = (await conn.execute(per_agent)).all()
        queues = {name: {"offered": int(offered or 0), "answered": int(answered_n or 0),
                         "quick": int(quick_n or 0), "abandoned": int(abandoned or 0),
                         "overflow": int(overflow or 0),
                         "interval_answered": int(interval_answered or 0),
                         "interval_quick": int(interval_quick or 0)}
                  for name, offered, answered_n, quick_n, abandoned, overflow,
                  interval_answered, interval_quick in rows}
        return queues, {agent: int(n) for agent, n in agent_rows if agent}
