"""Erasing recordings: the retention purge, erasure before the time, key destruction.

:meth:`Purger.purge_expired` / :meth:`Purger.purge_before` overwrite and unlink the sealed
files; the row stays as a tombstone (status ``erased``: when, how, why, by whom) for the
erasure certificate (:mod:`acd.recordings.certificate_issue`). :meth:`Purger.destroy_key`
crypto-shreds a retired key and erases what it sealed. Every erasure is access-logged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import func, select

from acd.adapters.db.schema import recordings
from acd.domain.clock import JST, jst_day_start, utc
from acd.recordings.erasure import (
    CRYPTO_SHRED,
    OVERWRITE_UNLINK,
    ErasureError,
    overwrite_and_unlink,
)
from acd.recordings.keyring import Keyring, crypto_shred
from acd.recordings.models import PurgeResult, RecordingError, RecordingUnavailable
from acd.recordings.rows import AccessLog, RecordingRows

log = structlog.get_logger(__name__)


def _expired_at(at: float):
    return recordings.c.retention_until <= at


def _started_before(cutoff: float):
    return recordings.c.started_at < cutoff


def day_cutoff(before: date | datetime | float) -> float:
    """Epoch seconds of ``before``: a date is its start in JST, a naive date-time is JST."""
    if isinstance(before, datetime):
        return (before if before.tzinfo else before.replace(tzinfo=JST)).timestamp()
    if isinstance(before, date):
        return jst_day_start(before)
    return float(before)


class Purger:
    """Erases recordings to tombstones; destroys retired keys."""

    def __init__(self, rows: RecordingRows, access: AccessLog, keyring: Keyring, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._rows = rows
        self._access = access
        self.keyring = keyring
        self.clock = clock

    def _now(self, now: float | datetime | None) -> float:
        if now is None:
            return self.clock()
        return now.timestamp() if isinstance(now, datetime) else float(now)

    async def purge_expired(self, now: float | datetime | None, operator: str,
                            reason: str = "保存期間満了") -> PurgeResult:
        """Erase every recording whose retention ended at ``now`` (default: the clock)."""
        return await self._purge(_expired_at(self._now(now)), operator, reason)

    async def purge_before(self, before: date | datetime | float, operator: str,
                           reason: str) -> PurgeResult:
        """Erase every recording that started before ``before`` (a date: its start in
        JST), whatever its retention."""
        cutoff = day_cutoff(before)
        if not reason.strip():
            raise ValueError("a reason is required to erase recordings before their time")
        return await self._purge(_started_before(cutoff), operator, reason)

    async def count(self, *, expired_at: float | datetime | None = None,
                    started_before: date | datetime | float | None = None) -> int:
        """How many recordings :meth:`purge_expired` (at ``expired_at``, default the
        clock) or :meth:`purge_before` (``started_before``) would erase now."""
        condition = (_started_before(day_cutoff(started_before))
                     if started_before is not None else _expired_at(self._now(expired_at)))
        query = select(func.count()).select_from(recordings).where(
            condition, recordings.c.status != "erased")
        async with self._rows.engine.connect() as conn:
            return (await conn.execute(query)).scalar_one()

    async def _purge(self, condition, operator: str, reason: str) -> PurgeResult:
        if not operator.strip():
            raise ValueError("the operator (who erases) is required")
        rows = await self._rows.where(condition, recordings.c.status != "erased")
        erased, failed = [], []
        for row in rows:
            try:
                await self._erase_row(row, operator, reason)
            except (ErasureError, OSError, RecordingError) as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.error("recording.erase_failed", alarm=True, uniqueid=row["uniqueid"],
                          error=error)
                failed.append((row["uniqueid"], error))
            else:
                erased.append(row["uniqueid"])
        log.info("recording.purged", erased=len(erased), failed=len(failed),
                 operator=operator, reason=reason)
        return PurgeResult(erased, failed)

    async def _erase_row(self, row: dict[str, Any], operator: str, reason: str,
                         method_prefix: str = "") -> None:
        """Overwrite and unlink the recording's file (sealed, or the plain one of a failed
        sealing), then turn its row into a tombstone."""
        if row["status"] == "sealed":
            path, plain = Path(row["sealed_path"]), False
        else:
            path, plain = Path(row["source_path"] or ""), True
        values: dict[str, Any]
        if path.name and path.exists():
            tomb = await asyncio.to_thread(overwrite_and_unlink, path, reason=reason,
                                           operator=operator,
                                           clock=lambda: utc(self.clock()))
            detail = tomb.detail
            expected = row["sha256"] if plain else row["sealed_sha256"]
            if expected and tomb.sha256 != expected:
                detail += (f"; the erased file hashed to {tomb.sha256}, not {expected} as "
                           "when it was recorded (damaged or altered)")
            method = f"{method_prefix},{OVERWRITE_UNLINK}" if method_prefix \
                else OVERWRITE_UNLINK
            values = {"erasure_detail": detail[:2000], "erased_at": tomb.erased_at.timestamp()}
            if plain:
                values.update(sha256=tomb.sha256, plain_size=tomb.size)
        elif method_prefix:
            method = method_prefix
            values = {"erasure_detail": "the sealed file was no longer on disk",
                      "erased_at": self.clock()}
        elif plain:
            # sealing failed because there was no file: nothing to overwrite, and nothing
            # to certify (no SHA-256); the row is closed so that it stops coming back
            method = "absent"
            values = {"erasure_detail": f"no file was on disk to erase ({path or 'no path'})",
                      "erased_at": self.clock()}
        else:
            raise RecordingUnavailable("RECORDING_FILE_MISSING",
                                       f"{path or 'no file'}: the file to erase is missing; "
                                       "nothing was certified")
        values.update(status="erased", erasure_method=method, erasure_reason=reason,
                      erased_by=operator[:80])
        await self._rows.update(row["uniqueid"], **values)
        await self._access.record(operator, "erase", row["uniqueid"], None,
                                  f"{method}: {reason}")
        log.info("recording.erased", uniqueid=row["uniqueid"], method=method,
                 operator=operator)

    async def destroy_key(self, key_id: str, operator: str, reason: str, *,
                          force: bool = False) -> PurgeResult:
        """Crypto-shred a retired key, then erase the files it sealed.

        Refuses (``KEY_IN_RETENTION``) while a recording sealed with it is still within
        its retention period, unless ``force``.
        """
        if not operator.strip():
            raise ValueError("the operator (who erases) is required")
        now = self.clock()
        rows = await self._rows.where(recordings.c.key_id == key_id,
                                      recordings.c.status == "sealed")
        keep = [r["uniqueid"] for r in rows if r["retention_until"] > now]
        if keep and not force:
            raise RecordingError("KEY_IN_RETENTION",
                                 f"key {key_id} sealed {len(keep)} recording(s) still within "
                                 f"their retention period (e.g. {keep[0]}); purge them first "
                                 "or force")
        tomb = await asyncio.to_thread(crypto_shred, self.keyring, key_id, reason=reason,
                                       operator=operator)
        log.warning("recording.key_destroyed", key_id=key_id, operator=operator,
                    recordings=len(rows), fingerprint=tomb.sha256)
        erased, failed = [], []
        for row in rows:
            try:
                await self._erase_row(row, operator, reason, method_prefix=CRYPTO_SHRED)
            except (ErasureError, OSError, RecordingError) as exc:
                failed.append((row["uniqueid"], f"{type(exc).__name__}: {exc}"))
            else:
                erased.append(row["uniqueid"])
        return PurgeResult(erased, failed)

    async def key_usage(self) -> dict[str, dict[str, int]]:
        """``{key_id: {status: count}}`` of the recordings sealed with each key."""
        query = (select(recordings.c.key_id, recordings.c.status, func.count())
                 .where(recordings.c.key_id.is_not(None))
                 .group_by(recordings.c.key_id, recordings.c.status))
        async with self._rows.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        usage: dict[str, dict[str, int]] = {}
        for key_id, status, count in rows:
            usage.setdefault(key_id, {})[status] = count
        return usage
