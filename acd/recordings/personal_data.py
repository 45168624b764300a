"""Retention of the personal data in the database: erased when its time has come, with a
record of what was erased.

Personal data of a call (the specs: "caller numbers, names, notes"; callback details):

=====================  ===============================================================
``call_records``       ``caller``
``dispositions``       ``note`` (the operator's free text)
``voicemails``         ``caller``; the message file itself when it was never sealed
``recordings``         ``caller`` (of the recording rows and tombstones)
``escalations``        ``caller``, ``callback_name``, ``callback_number``, ``question``
``call_events``        the same keys inside the events' JSON payloads
=====================  ===============================================================

Erasing overwrites those fields with empty values in one transaction per call and writes a
``personal_data_erasures`` row (when, who, why, how, which fields of which tables: counts,
never the values). What the KPIs need stays: the call's times, queue, agent, outcome,
disposition outcome and category. The audio (recordings and sealed voicemail) is erased by
the recording store; both run in the daily purge and in ``acd recordings purge``, and the
erasure certificate lists both.

A call's personal data is kept ``retention_days`` of its line (the flows' ``retention_days``,
default the setting ``recording_retention_days``, 90) after the call ended.

The database engines keep overwritten values in free space for a while (PostgreSQL's dead
tuples until VACUUM, SQLite's free pages): on SQLite the erasing connection turns on
``secure_delete`` (freed content is zeroed), on PostgreSQL the tables are vacuumed after an
erasure run.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import and_, insert, inspect, or_, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.db.schema import (
    call_events,
    call_records,
    dispositions,
    escalations,
    personal_data_erasures,
    recordings,
    voicemails,
)
from acd.recordings.erasure import ErasureError, overwrite_and_unlink

log = structlog.get_logger(__name__)

METHOD = "overwrite-db"
#: Keys of personal data inside event payloads.
PERSONAL_KEYS = ("caller", "note", "callback_name", "callback_number", "question")
#: Columns of personal data in the escalation (callback) list, when that table exists.
ESCALATION_COLUMNS = ("caller", "callback_name", "callback_number", "question")
#: How a person reads the erased items (Japanese, as on the certificate).
LABELS_JA = {"call_records.caller": "発信者番号", "dispositions.note": "対応メモ",
             "voicemails.caller": "留守録の発信者番号", "voicemails.file": "留守録音声",
             "recordings.caller": "録音の発信者番号",
             "escalations": "折り返し先（氏名・電話番号・用件）",
             "call_events": "イベントログ内の個人情報"}


@dataclass(frozen=True)
class ErasureRun:
    erased: list[str]
    failed: list[tuple[str, str]]

    def to_dict(self) -> dict[str, Any]:
        return {"erased": self.erased,
                "failed": [{"uniqueid": u, "error": e} for u, e in self.failed]}


def describe(fields: dict[str, int]) -> str:
    """The erased fields for people: 発信者番号、対応メモ ×2 ..."""
    parts = []
    for key, count in fields.items():
        if count:
            label = LABELS_JA.get(key, key)
            parts.append(label if count == 1 else f"{label} ×{count}")
    return "、".join(parts) or "（該当項目なし）"


class PersonalDataEraser:
    """Erases the personal data of calls whose retention ended, or of all calls before a
    day; ``days_for(line)`` gives a line's retention days."""

    def __init__(self, engine: AsyncEngine, days_for: Callable[[str], int], *,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.days_for = days_for
        self.clock = clock

    async def _pending(self, *conditions) -> list[dict[str, Any]]:
        done = select(personal_data_erasures.c.uniqueid)
        query = (select(call_records.c.uniqueid, call_records.c.line,
                        call_records.c.entered_at, call_records.c.ended_at)
                 .where(call_records.c.uniqueid.not_in(done), *conditions)
                 .order_by(call_records.c.ended_at))
        async with self.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings().all()]

    async def expired(self, now: float | None = None) -> list[dict[str, Any]]:
        """The calls whose personal data has outlived its line's retention at ``now``."""
        at = self.clock() if now is None else now
        async with self.engine.connect() as conn:
            lines = (await conn.execute(select(call_records.c.line).distinct())).scalars().all()
        found = []
        for line in lines:
            cutoff = at - self.days_for(line) * 86400.0
            found += await self._pending(call_records.c.line == line,
                                         call_records.c.ended_at <= cutoff)
        return sorted(found, key=lambda r: r["ended_at"])

    async def purge_expired(self, now: float | None, operator: str,
                            reason: str = "保存期間満了") -> ErasureRun:
        return await self.erase(await self.expired(now), operator, reason)

    async def purge_before(self, cutoff: float, operator: str, reason: str) -> ErasureRun:
        """Every call that started before ``cutoff`` (epoch seconds), whatever its line's
        retention (the end of a contract)."""
        return await self.erase(await self._pending(call_records.c.entered_at < cutoff),
                                operator, reason)

    async def erase(self, calls: list[dict[str, Any]], operator: str,
                    reason: str) -> ErasureRun:
        if not operator.strip():
            raise ValueError("the operator (who erases) is required")
        if not calls:
            return ErasureRun([], [])
        has_escalations = await self._has_table("escalations")
        erased, failed = [], []
        for call in calls:
            try:
                fields = await self._erase_call(call, operator, reason, has_escalations)
            except (SQLAlchemyError, OSError, ErasureError) as exc:  # the rest goes on
                error = f"{type(exc).__name__}: {exc}"[:500]
                log.error("personal_data.erase_failed", alarm=True, uniqueid=call["uniqueid"],
                          error=error)
                failed.append((call["uniqueid"], error))
            else:
                erased.append(call["uniqueid"])
                log.debug("personal_data.erased", uniqueid=call["uniqueid"], fields=fields)
        await self._vacuum()
        log.info("personal_data.purged", erased=len(erased), failed=len(failed),
                 operator=operator, reason=reason)
        return ErasureRun(erased, failed)

    async def _has_table(self, name: str) -> bool:
        async with self.engine.connect() as conn:
            return await conn.run_sync(lambda sync: inspect(sync).has_table(name))

    async def _erase_call(self, call: dict[str, Any], operator: str, reason: str,
                          has_escalations: bool) -> dict[str, int]:
        uid = call["uniqueid"]
        fields: dict[str, int] = {}
        async with self.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                await conn.execute(text("PRAGMA secure_delete = ON"))

            async def blank(target, column_names, *where) -> int:
                values = {name: "" for name in column_names}
                nonempty = [target.c[name] != "" for name in column_names]
                done = await conn.execute(update(target).where(*where, or_(*nonempty))
                                          .values(**values))
                return done.rowcount or 0

            fields["call_records.caller"] = await blank(
                call_records, ["caller"], call_records.c.uniqueid == uid)
            fields["dispositions.note"] = await blank(
                dispositions, ["note"], dispositions.c.uniqueid == uid)
            fields["voicemails.caller"] = await blank(
                voicemails, ["caller"], voicemails.c.uniqueid == uid)
            fields["recordings.caller"] = await blank(
                recordings, ["caller"], recordings.c.call_uniqueid == uid)
            if has_escalations:
                fields["escalations"] = await blank(
                    escalations, ESCALATION_COLUMNS, escalations.c.uniqueid == uid)
            fields["call_events"] = await self._scrub_events(conn, uid)
            fields["voicemails.file"] = await self._erase_plain_voicemail(conn, uid, operator,
                                                                           reason)
            fields = {k: v for k, v in fields.items() if v}
            await conn.execute(insert(personal_data_erasures).values(
                uniqueid=uid, line=call["line"], call_time=call["entered_at"],
                erased_at=self.clock(), erased_by=operator[:80], reason=reason,
                method=METHOD, fields=json.dumps(fields, ensure_ascii=False),
                items=sum(fields.values())))
        return fields

    async def _scrub_events(self, conn, uid: str) -> int:
        rows = (await conn.execute(select(call_events.c.id, call_events.c.payload).where(
            call_events.c.uniqueid == uid))).all()
        changed = 0
        for event_id, payload in rows:
            try:
                data = json.loads(payload)
            except ValueError:
                continue
            if not isinstance(data, dict):
                continue
            keys = [k for k in PERSONAL_KEYS if data.get(k) not in (None, "")]
            if not keys:
                continue
            data.update({k: "" for k in keys})
            await conn.execute(update(call_events).where(call_events.c.id == event_id)
                               .values(payload=json.dumps(data, ensure_ascii=False)))
            changed += 1
        return changed

    async def _erase_plain_voicemail(self, conn, uid: str, operator: str,
                                     reason: str) -> int:
        """A voicemail message never sealed (``recording_seal_voicemail`` off) is still a
        plain file: overwrite and unlink it here (a sealed one is the store's)."""
        path = (await conn.execute(select(voicemails.c.file).where(
            voicemails.c.uniqueid == uid))).scalar_one_or_none()
        if not path or not await asyncio.to_thread(Path(path).exists):
            return 0
        await asyncio.to_thread(overwrite_and_unlink, Path(path), reason=reason,
                                operator=operator,
                                clock=lambda: datetime.fromtimestamp(self.clock(), UTC))
        return 1

    async def _vacuum(self) -> None:
        """PostgreSQL keeps the overwritten rows as dead tuples until vacuumed."""
        if self.engine.dialect.name != "postgresql":
            return
        try:
            async with self.engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                for table in ("call_records", "dispositions", "voicemails", "recordings",
                              "call_events"):
                    await conn.execute(text(f"VACUUM {table}"))
        except SQLAlchemyError as exc:
            log.warning("personal_data.vacuum_failed", error=str(exc)[:200])

    async def erasures(self, since: float, until: float) -> list[dict[str, Any]]:
        """The erasure records of ``[since, until)``, oldest first."""
        e = personal_data_erasures.c
        query = (select(personal_data_erasures)
                 .where(and_(e.erased_at >= since, e.erased_at < until))
                 .order_by(e.erased_at, e.uniqueid))
        async with self.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings().all()]


__all__ = ["ESCALATION_COLUMNS", "METHOD", "PERSONAL_KEYS", "ErasureRun",
           "PersonalDataEraser", "describe"]
