"""The recording store: sealed recordings in the database, searched, played, erased.

The file side is :mod:`acd.recordings` (keyring, sealed format, erasure, certificate);
this module puts it to work for the product:

* after every call, :meth:`RecordingStore.submit` seals the call's recording (and its
  voicemail message, if any) in a worker thread, verifies it, erases the plain WAV and
  writes a ``recordings`` row. Anything that goes wrong is an alarm (``recording.failed``,
  level error, ``alarm=true``) and a row with status ``failed`` naming the cause; the
  plain file is then left where it was for :meth:`RecordingStore.recover` to retry;
* :meth:`~RecordingStore.search` (date range, caller number part, line, queue, agent,
  minimum duration, the operator's disposition), newest first, in pages;
* :meth:`~RecordingStore.open_for_playback` decrypts byte ranges for the HTTP player;
  every opening is written to ``recording_access_log`` first (no log, no audio);
* :meth:`~RecordingStore.purge_expired` / :meth:`~RecordingStore.purge_before` overwrite
  and unlink the sealed files; the row stays as a tombstone (status ``erased``: when, how,
  why, by whom) and :meth:`~RecordingStore.certificate` lists the tombstones of a period
  as the erasure certificate (抹消証明書);
* :meth:`~RecordingStore.destroy_key` crypto-shreds a retired key and erases what it
  sealed.

Times are UNIX epoch seconds, as everywhere in the database. Dates given by people (the
CLI's ``--from 2026-04-01``, the API's ``from=``) are days in Japan Standard Time, the
time zone of the city hall: see :func:`parse_when`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import structlog
from sqlalchemy import (
    and_,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.db.schema import (
    call_events,
    call_records,
    dispositions,
    recording_access_log,
    recordings,
)
from acd.adapters.files import (
    content_type_for,
    duration_of_plain,
    open_elsewhere,
    wav_duration,
)
from acd.domain.calls import CallRecord
from acd.domain.clock import JST, jst_day_start, jst_iso, parse_when, utc
from acd.recordings.certificate import (
    CertificateHeader,
    CertificateItem,
    render_csv,
    render_html,
)
from acd.recordings.certificate_personal import (
    PersonalDataItem,
    csv_section,
    html_section,
)
from acd.recordings.erasure import (
    CRYPTO_SHRED,
    OVERWRITE_UNLINK,
    ErasureError,
    overwrite_and_unlink,
)
from acd.recordings.keyring import KeyDestroyedError, Keyring, KeyringError
from acd.recordings.personal_data import PersonalDataEraser, describe
from acd.recordings.sealed import (
    SealedFileError,
    SealedReader,
    SealError,
    seal_recording,
    sealed_path_for,
)

log = structlog.get_logger(__name__)

DEFAULT_RETENTION_DAYS = 90
VOICEMAIL_SUFFIX = "-vm"
MAX_PAGE = 500
ACTIONS = ("play", "download", "search", "erase", "certificate")




# ------------------------------------------------------------------ errors and results

class RecordingError(Exception):
    """A request about a recording that cannot be met; ``error_id`` is stable."""

    status = 409

    def __init__(self, error_id: str, message: str) -> None:
        self.error_id = error_id
        super().__init__(message)


class RecordingNotFound(RecordingError):
    status = 404


class RecordingGone(RecordingError):
    """Erased, or its key destroyed: it will never play again."""

    status = 410


class RecordingUnavailable(RecordingError):
    """Not sealed (sealing failed) or the sealed file cannot be read (missing, damaged)."""

    status = 409


@dataclass(frozen=True)
class SearchPage:
    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]]


@dataclass
class Playback:
    """An opened sealed recording; close it (or use ``with``) when done."""

    recording: dict[str, Any]
    reader: SealedReader

    @property
    def size(self) -> int:
        return self.reader.plain_size

    @property
    def content_type(self) -> str:
        return content_type_for(self.recording.get("source_path") or "")

    @property
    def etag(self) -> str:
        return f'"{(self.recording.get("sha256") or self.reader.key_id)[:32]}"'

    def close(self) -> None:
        self.reader.close()

    def __enter__(self) -> Playback:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class PurgeResult:
    erased: list[str]
    failed: list[tuple[str, str]]  # (uniqueid, why)

    def to_dict(self) -> dict[str, Any]:
        return {"erased": self.erased, "failed": [{"uniqueid": u, "error": e}
                                                  for u, e in self.failed]}


# ------------------------------------------------------------------ the store

@dataclass(frozen=True)
class _Target:
    """One file to seal for a call: its recording, its voicemail message, or a segment
    of on-demand recording (``extra``: segment, started_by, stopped_by)."""

    uniqueid: str
    kind: Literal["call", "voicemail"]
    path: Path
    started_at: float
    ended_at: float | None = None
    extra: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class _Segment:
    """An on-demand segment as the event log tells it (see :mod:`acd.recordings.on_demand`)."""

    SUFFIX = "-r"
    number: int
    path: str | None = None
    started_at: float = 0.0
    started_by: str | None = None
    stopped_at: float | None = None
    stopped_by: str | None = None

    @property
    def uniqueid_suffix(self) -> str:
        return f"{self.SUFFIX}{self.number}"


def _targets(record: CallRecord) -> list[_Target]:
    targets = []
    if record.recording_file:
        start = record.answered_at if record.answered_at is not None else record.entered_at
        targets.append(_Target(record.uniqueid, "call", Path(record.recording_file), start))
    if record.voicemail_file:
        targets.append(_Target(record.uniqueid + VOICEMAIL_SUFFIX, "voicemail",
                               Path(record.voicemail_file), record.entered_at))
    return targets


class RecordingStore:
    """The recordings of the site: rows in the database, sealed files on disk.

    ``engine`` is the stack's (or the CLI's) async engine, ``keyring`` the recording keys
    (``<state_dir>/keys``). ``clock`` gives epoch seconds. Sealing runs in worker threads,
    at most ``seal_concurrency`` at once.
    """

    def __init__(self, engine: AsyncEngine, keyring: Keyring, *,
                 retention_days: int = DEFAULT_RETENTION_DAYS,
                 clock: Callable[[], float] = time.time,
                 seal_voicemail: bool = True,
                 seal_concurrency: int = 2,
                 settle_seconds: float = 0.5,
                 settle_timeout: float = 30.0,
                 unknown_writer_quiet_seconds: float = 3.0,
                 write_retries: int = 3,
                 retention_for: Callable[[str], int | None] | None = None,
                 agents_play_own: bool = False) -> None:
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        self.engine = engine
        self.keyring = keyring
        self.retention_days = retention_days
        self.clock = clock
        self.seal_voicemail = seal_voicemail
        self.settle_seconds = settle_seconds
        self.settle_timeout = settle_timeout
        self.unknown_writer_quiet_seconds = unknown_writer_quiet_seconds
        self._write_retries = write_retries
        self._seal_slots = asyncio.Semaphore(seal_concurrency)
        self._tasks: set[asyncio.Task] = set()
        self._busy: set[str] = set()
        #: The retention days of a line (its ``retention_days`` in the flows), ``None``:
        #: the store's default.
        self.retention_for = retention_for
        #: Agents may search and play the recordings of their own calls (the HTTP API's
        #: rule; supervisors and admins may play every recording).
        self.agents_play_own = agents_play_own
        #: The personal data of the calls in the database, kept as long as the recordings
        #: of their line; purged with them (daily purge, ``acd recordings purge``).
        self.personal = PersonalDataEraser(engine, self.days_for, clock=lambda: self.clock())
        #: Told of every recording that could not be sealed (its row), e.g. to write a
        #: ``RecordingFailed`` event to the call event log; a failing listener is logged.
        self.failure_listeners: list[Callable[[dict[str, Any]], Awaitable[None]]] = []

    # -------------------------------------------------------------- sealing

    def submit(self, record: CallRecord) -> asyncio.Task | None:
        """Seal the call's recordings in the background (the controller does not wait).

        Returns the task (``None`` when the call has nothing to seal); :meth:`drain`
        waits for every task submitted.
        """
        if not record.recording_file and not (self.seal_voicemail and record.voicemail_file):
            return None
        return self._track(self._seal_safely(record), f"seal-{record.uniqueid}")

    def submit_segments(self, record: CallRecord, segments: list[Any]) -> asyncio.Task | None:
        """Seal the on-demand segments (:class:`acd.recordings.on_demand.Segment`) of a finished call
        in the background."""
        targets = [_Target(record.uniqueid + s.uniqueid_suffix, "call", Path(s.path),
                           s.started_at, s.stopped_at,
                           (("segment", s.number), ("started_by", s.started_by),
                            ("stopped_by", s.stopped_by)))
                   for s in segments]
        if not targets:
            return None

        async def seal() -> None:
            try:
                await self._seal_targets(record, targets, None)
            except Exception as exc:
                log.exception("recording.failed", alarm=True, uniqueid=record.uniqueid,
                              error=f"{type(exc).__name__}: {exc}")
        return self._track(seal(), f"seal-segments-{record.uniqueid}")

    def days_for(self, line: str) -> int:
        """The retention days of ``line``'s recordings."""
        days = self.retention_for(line) if self.retention_for is not None else None
        return self.retention_days if days is None else days

    def _track(self, work: Awaitable[Any], name: str) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self) -> None:
        """Wait until every sealing (and a daily purge) under way has finished: call it
        when stopping, before the engine is disposed."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _seal_safely(self, record: CallRecord) -> None:
        try:
            await self.seal_after_call(record)
        except Exception as exc:  # seal_after_call reports its own failures; a last net
            log.exception("recording.failed", alarm=True, uniqueid=record.uniqueid,
                          error=f"{type(exc).__name__}: {exc}")

    async def seal_after_call(self, record: CallRecord,
                              retention_days: int | None = None) -> list[dict[str, Any]]:
        """Seal the recording (and voicemail message) of a finished call; their rows.

        Idempotent: a recording already sealed or erased is left alone, a failed one is
        tried again. Never raises for a file problem: the row says ``failed`` and an
        alarm is logged. Raises only when the database stays unreachable (the sealed
        file is then on disk and :meth:`recover` writes its row later).
        """
        return await self._seal_targets(record, _targets(record), retention_days)

    async def _seal_targets(self, record: CallRecord, targets: list[_Target],
                            retention_days: int | None) -> list[dict[str, Any]]:
        days = self.days_for(record.line) if retention_days is None else retention_days
        rows = []
        for target in targets:
            if target.kind == "voicemail" and not self.seal_voicemail:
                continue
            if target.uniqueid in self._busy:
                continue
            self._busy.add(target.uniqueid)
            try:
                rows.append(await self._seal_target(record, target, days))
            finally:
                self._busy.discard(target.uniqueid)
        return rows

    async def _seal_target(self, record: CallRecord, target: _Target,
                           days: int) -> dict[str, Any]:
        existing = await self.get(target.uniqueid)
        if existing is not None and existing["status"] != "failed":
            return existing
        base = {
            "uniqueid": target.uniqueid, "call_uniqueid": record.uniqueid,
            "kind": target.kind, "line": record.line, "queue": record.queue,
            "agent": record.agent, "caller": record.caller, "started_at": target.started_at,
            "ended_at": target.ended_at if target.ended_at is not None else record.ended_at,
            "source_path": str(target.path),
            "retention_until": record.ended_at + days * 86400.0, **dict(target.extra),
        }
        started = time.monotonic()
        try:
            await self._settled(target.path)
            async with self._seal_slots:
                values = await asyncio.to_thread(self._seal_file, target.path)
        except (SealedFileError, KeyringError, ErasureError, OSError, RecordingError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.error("recording.failed", alarm=True, uniqueid=target.uniqueid,
                      kind=target.kind, path=str(target.path), error=error)
            row = {**base, "status": "failed", "error": error}
            await self._upsert(row)
            await self._tell_failure(row)
            return row
        row = {**base, **values, "status": "sealed", "error": None,
               "sealed_at": self.clock()}
        await self._upsert(row)
        log.info("recording.sealed", uniqueid=target.uniqueid, kind=target.kind,
                 key_id=row["key_id"], bytes=row["plain_size"],
                 seconds=row["duration_seconds"],
                 took_ms=round((time.monotonic() - started) * 1000, 1))
        return row

    async def _tell_failure(self, row: dict[str, Any]) -> None:
        for listener in self.failure_listeners:
            try:
                await listener(row)
            except Exception:
                log.exception("recording.failure_listener_failed", uniqueid=row["uniqueid"])

    async def _settled(self, path: Path) -> None:
        """Wait until Asterisk has closed the file.

        MixMonitor goes on writing after the caller's channel has hung up (it drains its
        audio, then patches the WAV header when it closes the file), by more than a second
        on a busy machine. So: wait until no process has the file open (read from
        ``/proc/*/fd``; works when the controller may see Asterisk's descriptors: same
        user, or root, as with ``acd up``), and in any case until its size and time have
        not changed for ``settle_seconds`` (``unknown_writer_quiet_seconds`` when the
        descriptors cannot be seen). Gives up after ``settle_timeout`` with a warning
        (sealing then refuses a file that changes while it is being sealed).
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.settle_timeout
        last, quiet_from = None, started
        while True:
            try:
                st = path.stat()
                now = (st.st_size, st.st_mtime_ns)
            except FileNotFoundError:
                return  # _seal_file decides (it may have been sealed before a crash)
            writer = await asyncio.to_thread(open_elsewhere, path)
            if writer is True or now != last:
                last, quiet_from = now, loop.time()
            elif loop.time() - quiet_from >= (self.settle_seconds if writer is False
                                              else self.unknown_writer_quiet_seconds):
                if loop.time() - started > 2 * self.settle_seconds + 0.5:
                    log.info("recording.waited_for_writer", path=str(path),
                             waited=round(loop.time() - started, 2))
                return
            if loop.time() >= deadline:
                log.warning("recording.still_open" if writer else "recording.still_changing",
                            path=str(path), waited=self.settle_timeout)
                return
            await asyncio.sleep(self.settle_seconds)

    def _seal_file(self, plain: Path) -> dict[str, Any]:
        """Seal, verify, erase the plain file (worker thread); the row's file columns."""
        sealed = sealed_path_for(plain)
        if sealed.exists():
            return self._adopt_sealed(plain, sealed)
        if not plain.exists():
            raise RecordingUnavailable("RECORDING_MISSING",
                                       f"{plain}: the recording file does not exist")
        duration = duration_of_plain(plain)
        for attempt in (1, 2):
            try:
                result = seal_recording(plain, self.keyring)
                break
            except SealError as exc:
                if "while being sealed" not in str(exc) or attempt == 2:
                    raise
                sealed.unlink(missing_ok=True)
                time.sleep(self.settle_seconds * 2)  # still being written: once more
        info = result.seal
        return {"sealed_path": str(result.sealed_path), "sealed_size": info.sealed_size,
                "sealed_sha256": info.sealed_sha256, "sha256": info.plain_sha256,
                "plain_size": info.plain_size, "key_id": info.key_id,
                "duration_seconds": duration}

    def _adopt_sealed(self, plain: Path, sealed: Path) -> dict[str, Any]:
        """A sealed file is already there (a crash after sealing, before the row was
        written): check it, erase the plain file if it is the same content, adopt it."""
        with SealedReader(sealed, self.keyring) as reader:
            head = reader.read_range(0, min(4096, reader.plain_size))
            info = reader.verify()
        if plain.exists():
            digest = hashlib.sha256()
            with open(plain, "rb") as fh:
                while block := fh.read(1 << 20):
                    digest.update(block)
            if digest.hexdigest() != info.plain_sha256:
                raise SealError(f"{sealed} already exists and does not hold {plain}; "
                                "both kept for someone to look at")
            overwrite_and_unlink(plain, reason="sealed at rest after the call",
                                 operator="system", expected_sha256=info.plain_sha256)
        sealed_digest = hashlib.sha256()
        with open(sealed, "rb") as fh:
            while block := fh.read(1 << 20):
                sealed_digest.update(block)
        log.warning("recording.adopted", path=str(sealed))
        return {"sealed_path": str(sealed), "sealed_size": sealed.stat().st_size,
                "sealed_sha256": sealed_digest.hexdigest(), "sha256": info.plain_sha256,
                "plain_size": info.plain_size, "key_id": info.key_id,
                "duration_seconds": wav_duration(head, info.plain_size)}

    async def recover(self, older_than: float = 60.0) -> int:
        """Seal what a crash or an outage left behind; the number of recordings handled.

        Looks at calls that ended more than ``older_than`` seconds ago and have a
        recording (or voicemail) but no sealed row: a plain file still there, a sealed
        file without its row, or an earlier failure whose file is still there.
        """
        cutoff = self.clock() - older_than
        done = select(recordings.c.uniqueid).where(recordings.c.status != "failed")
        query = (select(call_records)
                 .where(call_records.c.ended_at <= cutoff,
                        or_(and_(call_records.c.recording_file.is_not(None),
                                 call_records.c.uniqueid.not_in(done)),
                            and_(call_records.c.voicemail_file.is_not(None),
                                 (call_records.c.uniqueid + VOICEMAIL_SUFFIX).not_in(done))))
                 .order_by(call_records.c.ended_at))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        names = {f.name for f in fields(CallRecord)}
        handled = 0
        for row in rows:
            record = CallRecord(**{k: v for k, v in row.items() if k in names})
            targets = [t for t in _targets(record)
                       if t.path.exists() or sealed_path_for(t.path).exists()]
            if not targets:
                continue  # nothing on disk: the failure was reported when it happened
            for result in await self.seal_after_call(record):
                handled += result["status"] == "sealed"
        handled += await self._recover_segments(cutoff, done)
        if handled:
            log.info("recording.recovered", recordings=handled)
        return handled

    async def _recover_segments(self, cutoff: float, done) -> int:
        """On-demand segments of ended calls left unsealed (the controller stopped before
        the call's end was handled): found from the event log's ``RecordingStarted`` and
        ``RecordingStopped``, sealed with what those say."""
        e = call_events.c
        ended = select(call_records.c.uniqueid).where(call_records.c.ended_at <= cutoff)
        query = (select(e.uniqueid, e.kind, e.occurred_at, e.payload)
                 .where(e.kind.in_(("RecordingStarted", "RecordingStopped")),
                        e.uniqueid.in_(ended)).order_by(e.id))
        async with self.engine.connect() as conn:
            events = (await conn.execute(query)).all()
            finished = {r.uniqueid for r in (await conn.execute(done)).all()}
        segments: dict[str, dict[int, dict[str, Any]]] = {}
        for uid, kind, at, payload in events:
            data = json.loads(payload)
            number = data.get("segment")
            if not isinstance(number, int):
                continue
            seg = segments.setdefault(uid, {}).setdefault(number, {"number": number})
            if kind == "RecordingStarted":
                seg.update(path=data.get("file"), started_at=at, started_by=data.get("by"))
            else:
                seg.update(stopped_at=at, stopped_by=data.get("by"))
        handled = 0
        names = {f.name for f in fields(CallRecord)}
        for uid, by_number in segments.items():
            wanted = [_Segment(**s) for s in by_number.values()
                      if s.get("path") and f"{uid}{_Segment.SUFFIX}{s['number']}" not in finished
                      and (Path(s["path"]).exists() or sealed_path_for(Path(s["path"])).exists())]
            if not wanted:
                continue
            async with self.engine.connect() as conn:
                row = (await conn.execute(select(call_records).where(
                    call_records.c.uniqueid == uid))).mappings().first()
            record = CallRecord(**{k: v for k, v in row.items() if k in names})
            targets = [_Target(uid + s.uniqueid_suffix, "call", Path(s.path), s.started_at,
                               s.stopped_at if s.stopped_at is not None else record.ended_at,
                               (("segment", s.number), ("started_by", s.started_by),
                                ("stopped_by", s.stopped_by or "hangup")))
                       for s in wanted]
            for result in await self._seal_targets(record, targets, None):
                handled += result["status"] == "sealed"
        return handled

    # -------------------------------------------------------------- reading

    async def get(self, uniqueid: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(recordings).where(
                recordings.c.uniqueid == uniqueid))).mappings().first()
        return dict(row) if row else None

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
        async with self.engine.connect() as conn:
            total = (await conn.execute(count)).scalar_one()
            rows = [dict(row) for row in (await conn.execute(query)).mappings().all()]
        if who is not None:
            filters = {k: v for k, v in (("since", since), ("until", until), ("caller", caller),
                                         ("line", line), ("queue", queue), ("agent", agent),
                                         ("min_seconds", min_seconds), ("outcome", outcome),
                                         ("category", category), ("kind", kind),
                                         ("call_uniqueid", call_uniqueid),
                                         ("status", status)) if v is not None}
            await self.log_access(who, "search", None, remote, json.dumps(
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
        row = await self.get(uniqueid)
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
            await self.log_access(who, action, uniqueid, remote, detail)
        except BaseException:
            reader.close()
            raise
        return Playback(row, reader)

    async def log_access(self, who: str, action: str, uniqueid: str | None,
                         remote: str | None, detail: str = "",
                         result: Literal["granted", "refused"] = "granted") -> None:
        """Write one access-log row; ``refused``: the request was turned down (no audio
        left), logged all the same."""
        if action not in ACTIONS:
            raise ValueError(f"unknown access action {action!r}")
        if result not in ("granted", "refused"):
            raise ValueError(f"unknown access result {result!r}")
        await self._write(insert(recording_access_log).values(
            at=self.clock(), who=(who or "unknown")[:80], action=action,
            recording_uniqueid=uniqueid, remote=(remote or None) and str(remote)[:64],
            detail=detail, result=result))

    async def access_log(self, *, since: float | None = None, until: float | None = None,
                         who: str | None = None, action: str | None = None,
                         uniqueid: str | None = None, result: str | None = None,
                         limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Entries of the access log, newest first."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be 1..{MAX_PAGE}")
        a = recording_access_log.c
        conditions = []
        if since is not None:
            conditions.append(a.at >= since)
        if until is not None:
            conditions.append(a.at < until)
        for column, value in ((a.who, who), (a.action, action),
                              (a.recording_uniqueid, uniqueid), (a.result, result)):
            if value:
                conditions.append(column == value)
        query = (select(recording_access_log).where(*conditions)
                 .order_by(a.at.desc(), a.id.desc()).limit(limit).offset(offset))
        async with self.engine.connect() as conn:
            return [dict(row) for row in (await conn.execute(query)).mappings().all()]

    # -------------------------------------------------------------- erasing

    async def purge_expired(self, now: float | datetime | None, operator: str,
                            reason: str = "保存期間満了") -> PurgeResult:
        """Erase every recording whose retention ended at ``now`` (default: the clock)."""
        at = self.clock() if now is None else (
            now.timestamp() if isinstance(now, datetime) else float(now))
        return await self._purge(recordings.c.retention_until <= at, operator, reason)

    async def purge_before(self, before: date | datetime | float, operator: str,
                           reason: str) -> PurgeResult:
        """Erase every recording that started before ``before`` (a date: its start in
        JST), whatever its retention."""
        if isinstance(before, datetime):
            cutoff = (before if before.tzinfo else before.replace(tzinfo=JST)).timestamp()
        elif isinstance(before, date):
            cutoff = jst_day_start(before)
        else:
            cutoff = float(before)
        if not reason.strip():
            raise ValueError("a reason is required to erase recordings before their time")
        return await self._purge(recordings.c.started_at < cutoff, operator, reason)

    async def _purge(self, condition, operator: str, reason: str) -> PurgeResult:
        if not operator.strip():
            raise ValueError("the operator (who erases) is required")
        query = (select(recordings).where(condition, recordings.c.status != "erased")
                 .order_by(recordings.c.started_at))
        async with self.engine.connect() as conn:
            rows = [dict(r) for r in (await conn.execute(query)).mappings().all()]
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
        await self._write(update(recordings).where(
            recordings.c.uniqueid == row["uniqueid"]).values(**values))
        await self.log_access(operator, "erase", row["uniqueid"], None,
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
        query = select(recordings).where(recordings.c.key_id == key_id,
                                         recordings.c.status == "sealed")
        async with self.engine.connect() as conn:
            rows = [dict(r) for r in (await conn.execute(query)).mappings().all()]
        keep = [r["uniqueid"] for r in rows if r["retention_until"] > now]
        if keep and not force:
            raise RecordingError("KEY_IN_RETENTION",
                                 f"key {key_id} sealed {len(keep)} recording(s) still within "
                                 f"their retention period (e.g. {keep[0]}); purge them first "
                                 "or force")
        from acd.recordings.erasure import crypto_shred

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
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        usage: dict[str, dict[str, int]] = {}
        for key_id, status, count in rows:
            usage.setdefault(key_id, {})[status] = count
        return usage

    async def certificate(self, start: date, end: date, lang: str = "ja",
                          format: Literal["html", "csv", "pdf"] = "html", *,
                          organisation: str = "", issuer: str = "", reason: str = "",
                          certificate_no: str = "", who: str = "system",
                          remote: str | None = None) -> bytes:
        """The erasure certificate of the recordings erased from ``start`` to ``end``
        (days in JST, both included): HTML (UTF-8), CSV (UTF-8 with BOM) or PDF (A4), as
        bytes."""
        if end < start:
            raise ValueError("the period ends before it starts")
        if format not in ("html", "csv", "pdf"):
            raise ValueError("format must be html, csv or pdf")
        lo, hi = jst_day_start(start), jst_day_start(end + timedelta(days=1))
        query = (select(recordings)
                 .where(recordings.c.status == "erased", recordings.c.erased_at >= lo,
                        recordings.c.erased_at < hi, recordings.c.sha256.is_not(None))
                 .order_by(recordings.c.erased_at, recordings.c.uniqueid))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        personal = [PersonalDataItem(
            call_id=e["uniqueid"], line=e["line"], call_time=utc(e["call_time"]),
            what=describe(json.loads(e["fields"])), method=e["method"],
            erased_at=utc(e["erased_at"]), operator=e["erased_by"])
            for e in await self.personal.erasures(lo, hi)]
        items = [CertificateItem(recording_id=r["uniqueid"], line=r["line"],
                                 call_time=utc(r["started_at"]), sha256=r["sha256"],
                                 method=r["erasure_method"] or OVERWRITE_UNLINK,
                                 erased_at=utc(r["erased_at"]),
                                 operator=r["erased_by"] or "", size=r["plain_size"])
                 for r in rows]
        header = CertificateHeader(organisation=organisation, period_start=start,
                                   period_end=end, issued_at=utc(self.clock()),
                                   issuer=issuer, certificate_no=certificate_no,
                                   reason=reason)
        if format == "pdf":
            from acd.recordings.certificate_pdf import (
                render_pdf,  # reportlab: only here
            )

            body = await asyncio.to_thread(render_pdf, items, header, lang, personal)
        elif format == "html":
            page = render_html(items, header, lang)
            if personal:
                at = page.rfind("</body>")
                page = page[:at] + html_section(personal, lang) + page[at:]
            body = page.encode("utf-8")
        else:
            body = render_csv(items, header, lang)
            if personal:
                body += csv_section(personal, lang)
        await self.log_access(who, "certificate", None, remote, json.dumps(
            {"from": start.isoformat(), "to": end.isoformat(), "items": len(items),
             "personal_data_items": len(personal), "format": format, "lang": lang}))
        return body

    # -------------------------------------------------------------- writes

    async def _upsert(self, row: dict[str, Any]) -> None:
        async def run(conn):
            done = await conn.execute(update(recordings).where(
                recordings.c.uniqueid == row["uniqueid"]).values(**row))
            if done.rowcount == 0:
                await conn.execute(insert(recordings).values(**row))
        await self._retrying(run)

    async def _write(self, statement) -> None:
        async def run(conn):
            await conn.execute(statement)
        await self._retrying(run)

    async def _retrying(self, work: Callable[[Any], Awaitable[None]]) -> None:
        for attempt in range(self._write_retries):
            try:
                async with self.engine.begin() as conn:
                    await work(conn)
                return
            except (SQLAlchemyError, OSError) as exc:
                if attempt == self._write_retries - 1:
                    log.error("recording.db_write_failed", alarm=True, error=str(exc)[:300])
                    raise
                log.warning("recording.db_write_retry", attempt=attempt + 1,
                            error=str(exc)[:200])
                await asyncio.sleep(0.2 * 2 ** attempt)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def public_row(row: dict[str, Any]) -> dict[str, Any]:
    """A recording row for people and the API: no file paths, times also in JST."""
    hidden = {"source_path", "sealed_path", "sealed_sha256", "error"}
    out = {k: v for k, v in row.items() if k not in hidden}
    for key in ("started_at", "ended_at", "erased_at", "retention_until", "sealed_at"):
        if key in row:
            out[f"{key}_jst"] = jst_iso(row[key])
    if row.get("status") == "failed":
        out["error"] = row.get("error")
    return out


# ------------------------------------------------------------------ the daily purge

def seconds_until_next(now: float, hour: int = 3, minute: int = 0) -> float:
    """Seconds from ``now`` to the next ``hour:minute`` JST (strictly in the future)."""
    local = datetime.fromtimestamp(now, JST)
    target = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    return target.timestamp() - now


async def run_daily_purge(store: RecordingStore, clock: Callable[[], float] = time.time, *,
                          hour: int = 3, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                          operator: str = "system (daily purge)") -> None:
    """Run forever: recover what an earlier run left unsealed, then every day at
    ``hour``:00 JST erase the recordings whose retention has ended, and the personal data
    of the calls whose retention has ended (:mod:`acd.recordings.personal_data`).

    Every failure is logged (``recording.purge_failed``, alarm) and the loop goes on.
    Cancelling it (the stack stopping) does not cut a purge short: the purge finishes in
    the background and :meth:`RecordingStore.drain` waits for it.
    """
    async def recover() -> None:
        try:
            await store.recover()
        except Exception:
            log.exception("recording.recover_failed", alarm=True)

    async def purge() -> None:
        try:
            result = await store.purge_expired(clock(), operator)
            if result.failed:
                log.error("recording.purge_failed", alarm=True, failed=len(result.failed),
                          first=result.failed[0][1])
        except Exception:
            log.exception("recording.purge_failed", alarm=True)
        try:  # the personal data in the database: same retention, same job
            personal = await store.personal.purge_expired(clock(), operator)
            if personal.failed:
                log.error("personal_data.purge_failed", alarm=True,
                          failed=len(personal.failed), first=personal.failed[0][1])
        except Exception:
            log.exception("personal_data.purge_failed", alarm=True)
        await recover()

    await asyncio.shield(store._track(recover(), "recordings-recover"))
    while True:
        await sleep(seconds_until_next(clock(), hour))
        await asyncio.shield(store._track(purge(), "recordings-purge"))


def settings_values(settings: Any) -> tuple[Path, int, bool]:
    """``(keys_dir, retention_days, seal_voicemail)`` from the settings; the defaults
    (``<state_dir>/keys``, 90, True) stand in for the fields ``recording_keys_dir``,
    ``recording_retention_days`` and ``recording_seal_voicemail`` where they are absent."""
    keys_dir = getattr(settings, "recording_keys_dir", None) or settings.state_dir / "keys"
    days = getattr(settings, "recording_retention_days", None) or DEFAULT_RETENTION_DAYS
    seal_voicemail = getattr(settings, "recording_seal_voicemail", True)
    return Path(keys_dir), int(days), bool(seal_voicemail)


def _line_retention(settings: Any) -> Callable[[str], int | None] | None:
    """The lines' ``retention_days`` from the flows (for the CLI; the running stack sets
    the store's ``retention_for`` from the flows it has loaded). ``None`` when the flows
    cannot be read: every line then has the default."""
    flows_dir = getattr(settings, "flows_dir", None)
    if flows_dir is None:
        return None
    from acd.ivr.loader import FlowError, load_site

    try:
        site = load_site(Path(flows_dir))
    except (FlowError, OSError) as exc:  # a broken flow must not stop an erasure
        log.warning("recording.flows_unreadable", error=str(exc)[:200],
                    detail="every line gets the default retention")
        return None
    days = {line.did: getattr(line, "retention_days", None) for line in site.lines}
    return days.get


def store_from_settings(settings: Any, engine: AsyncEngine, **kwargs: Any) -> RecordingStore:
    """The stack's (or the CLI's) recording store, from the settings."""
    keys_dir, days, seal_voicemail = settings_values(settings)
    kwargs.setdefault("seal_voicemail", seal_voicemail)
    kwargs.setdefault("retention_for", _line_retention(settings))
    kwargs.setdefault("agents_play_own", bool(getattr(settings, "recording_agents_play_own",
                                                      False)))
    return RecordingStore(engine, Keyring(keys_dir), retention_days=days, **kwargs)


__all__ = [
    "ACTIONS", "DEFAULT_RETENTION_DAYS", "Playback", "PurgeResult", "RecordingError",
    "RecordingGone", "RecordingNotFound", "RecordingStore", "RecordingUnavailable",
    "SearchPage", "content_type_for", "jst_day_start", "open_elsewhere", "parse_when",
    "public_row",
    "recording_access_log", "recordings", "run_daily_purge", "seconds_until_next",
    "settings_values", "store_from_settings", "wav_duration",
]
