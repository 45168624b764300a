"""The archive of sealed recordings: search, playback, signed playback URLs.

* :meth:`Archive.search` (date range, caller number part, line, queue, agent, minimum
  duration, the operator's disposition), newest first, in pages;
* :meth:`Archive.open_for_playback` decrypts byte ranges for the HTTP player; every
  opening is written to ``recording_access_log`` first (no log, no audio);
* :func:`playback_signature` signs a short-lived playback URL (for a browser's
  ``<audio src>``, which cannot send the API token): it binds the recording, the user and
  the expiry under a key derived from a secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Literal

import structlog
from sqlalchemy import exists, func, select

from acd.adapters.db.schema import dispositions, recordings
from acd.domain.clock import jst_iso
from acd.recordings.keyring import KeyDestroyedError, Keyring, KeyringError
from acd.recordings.models import (
    MAX_PAGE,
    Playback,
    RecordingGone,
    RecordingNotFound,
    RecordingUnavailable,
    SearchPage,
)
from acd.recordings.rows import AccessLog, RecordingRows
from acd.recordings.sealed import SealedFileError, SealedReader

log = structlog.get_logger(__name__)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Archive:
    """Finding and playing the sealed recordings; what people see is access-logged."""

    def __init__(self, rows: RecordingRows, access: AccessLog, keyring: Keyring) -> None:
        self._rows = rows
        self._access = access
        self.keyring = keyring

    async def search(self, *, since: float | None = None, until: float | None = None,
                     caller: str | None = None, line: str | None = None,
                     queue: str | None = None, agent: str | None = None,
                     min_seconds: float | None = None, outcome: str | None = None,
                     category: str | None = None, kind: str | None = None,
                     call_uniqueid: str | None = None,
                     status: str | None = "sealed", limit: int = 50, offset: int = 0,
                     who: str | None = None, remote: str | None = None) -> SearchPage:
        """Recordings matching every filter given, newest first.

        ``since``/``until`` bound the start of the recording (half-open), ``caller`` is
        any part of the caller's number, ``outcome``/``category`` match a disposition the
        operator recorded for the call, ``status`` ``None`` means every status. With
        ``who``, the search is written to the access log (it shows personal data).
        """
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be 1..{MAX_PAGE}")
        if offset < 0:
            raise ValueError("offset must be >= 0")
        r = recordings.c
        conditions = []
        if since is not None:
            conditions.append(r.started_at >= since)
        if until is not None:
            conditions.append(r.started_at < until)
        if caller:
            conditions.append(r.caller.like(f"%{_like_escape(caller)}%", escape="\\"))
        for column, value in ((r.line, line), (r.queue, queue), (r.agent, agent),
                              (r.kind, kind), (r.status, status),
                              (r.call_uniqueid, call_uniqueid)):
            if value:
                conditions.append(column == value)
        if min_seconds is not None:
            conditions.append(r.duration_seconds >= min_seconds)
        if outcome or category:
            d = dispositions.c
            match = [d.uniqueid == r.call_uniqueid]
            if outcome:
                match.append(d.outcome == outcome)
            if category:
                match.append(d.category == category)
            conditions.append(exists(select(d.id).where(*match)))

        def latest(column):
            return (select(column).where(dispositions.c.uniqueid == r.call_uniqueid)
                    .order_by(dispositions.c.recorded_at.desc(), dispositions.c.id.desc())
                    .limit(1).scalar_subquery())
        disp_outcome = latest(dispositions.c.outcome).label("disposition_outcome")
        disp_category = latest(dispositions.c.category).label("disposition_category")
        query = (select(recordings, disp_outcome, disp_category).where(*conditions)
                 .order_by(r.started_at.desc(), r.uniqueid.desc()).limit(limit).offset(offset))
        count = select(func.count()).select_from(recordings).where(*conditions)
        async with self._rows.engine.connect() as conn:
            total = (await conn.execute(count)).scalar_one()
            rows = [dict(row) for row in (await conn.execute(query)).mappings().all()]
        if who is not None:
            filters = {k: v for k, v in (("since", since), ("until", until), ("caller", caller),
                                         ("line", line), ("queue", queue), ("agent", agent),
                                         ("min_seconds", min_seconds), ("outcome", outcome),
                                         ("category", category), ("kind", kind),
                                         ("call_uniqueid", call_uniqueid),
                                         ("status", status)) if v is not None}
            await self._access.record(who, "search", None, remote, json.dumps(
                {"filters": filters, "total": total, "shown": len(rows), "offset": offset},
                ensure_ascii=False))
        return SearchPage(total, limit, offset, rows)

    async def open_for_playback(self, uniqueid: str, who: str, remote: str | None, *,
                                action: Literal["play", "download"] = "play",
                                detail: str = "") -> Playback:
        """Open a sealed recording for reading, after writing who opened it and from where.

        Raises :class:`RecordingNotFound`, :class:`RecordingGone` (erased, key destroyed)
        or :class:`RecordingUnavailable` (not sealed, file missing or damaged).
        """
        row = await self._rows.get(uniqueid)
        if row is None:
            raise RecordingNotFound("RECORDING_UNKNOWN", f"no recording {uniqueid}")
        if row["status"] == "erased":
            raise RecordingGone("RECORDING_ERASED",
                                f"recording {uniqueid} was erased at {jst_iso(row['erased_at'])}")
        if row["status"] != "sealed" or not row["sealed_path"]:
            raise RecordingUnavailable("RECORDING_NOT_SEALED",
                                       f"recording {uniqueid} is not available: {row['error']}")
        try:
            reader = await asyncio.to_thread(SealedReader, row["sealed_path"], self.keyring)
        except KeyDestroyedError as exc:
            raise RecordingGone("RECORDING_KEY_DESTROYED", str(exc)) from None
        except (KeyringError, SealedFileError, OSError) as exc:
            log.error("recording.unreadable", alarm=True, uniqueid=uniqueid,
                      path=row["sealed_path"], error=f"{type(exc).__name__}: {exc}")
            raise RecordingUnavailable("RECORDING_UNREADABLE",
                                       f"recording {uniqueid} cannot be read: "
                                       f"{type(exc).__name__}") from None
        try:
            await self._access.record(who, action, uniqueid, remote, detail)
        except BaseException:
            reader.close()
            raise
        return Playback(row, reader)


# ------------------------------------------------------------------ signed playback URLs

def playback_signature(secret: str, uniqueid: str, who: str, expires: int) -> str:
    """The signature of a playback URL of ``uniqueid`` for ``who`` until ``expires``
    (epoch seconds): HMAC-SHA256 under a key derived from ``secret`` (the API token)."""
    key = hmac.new(secret.encode(), b"madoguchi recording playback url v1",
                   hashlib.sha256).digest()
    return hmac.new(key, f"{uniqueid}\n{who}\n{expires}".encode(), hashlib.sha256).hexdigest()


def playback_signature_valid(secret: str, uniqueid: str, who: str, expires: int,
                             signature: str) -> bool:
    """Whether ``signature`` is :func:`playback_signature`'s (compared in constant time);
    the expiry is the caller's to check."""
    return hmac.compare_digest(playback_signature(secret, uniqueid, who, expires), signature)


__all__ = ["Archive", "playback_signature", "playback_signature_valid"]
