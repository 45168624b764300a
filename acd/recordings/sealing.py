"""Sealing a call's files at rest, and recovering what a crash or an outage left unsealed.

After every call, :meth:`Sealer.submit` seals the call's recording (and its voicemail
message, if any) in a worker thread, verifies it, erases the plain WAV and writes a
``recordings`` row; :meth:`Sealer.submit_segments` does the same for the on-demand
segments of a call. Anything that goes wrong is an alarm (``recording.failed``, level
error, ``alarm=true``), a row with status ``failed`` naming the cause, and a call of the
``on_failure`` callback (the stack writes ``RecordingFailed`` to the call event log); the
plain file is then left where it was for :meth:`Sealer.recover` to retry.

:meth:`Sealer.recover` starts from the database (calls that ended with a recording and no
sealed row), then :meth:`Sealer.sweep` from the disk: every plain WAV still there,
closed and quiet, is sealed — with its call's record when there is one, and otherwise
as an *orphan* (line, queue and caller unknown, an alarm to look at it; filled in when
the call's record arrives later). No WAV stays plain.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import structlog
from sqlalchemy import and_, or_, select

from acd.adapters.closes import CloseWatcher, Verdict
from acd.adapters.db.schema import call_events, call_records, recordings
from acd.adapters.files import (
    EMPTY_WAV_BYTES,
    discard_empty_recording,
    duration_of_plain,
    files_open_elsewhere,
    open_elsewhere,
    wav_duration,
)
from acd.domain.calls import CallRecord
from acd.recordings.erasure import ErasureError, overwrite_and_unlink
from acd.recordings.keyring import Keyring, KeyringError
from acd.recordings.models import (
    SEGMENT_SUFFIX,
    VOICEMAIL_SUFFIX,
    LogEvent,
    RecordingError,
    RecordingUnavailable,
    Segment,
)
from acd.recordings.plain_files import PlainFile, plain_files
from acd.recordings.rows import RecordingRows
from acd.recordings.sealed import (
    SealedFileError,
    SealedReader,
    SealError,
    seal_recording,
    sealed_path_for,
)

log = structlog.get_logger(__name__)

#: Told of every recording that could not be sealed (its row).
FailureCallback = Callable[[dict[str, Any]], Awaitable[None]]


def failures_to_event_log(log_event: LogEvent,
                          clock: Callable[[], float] = time.time) -> FailureCallback:
    """A failure callback that writes every recording that could not be sealed to the call
    event log as ``RecordingFailed`` (stage ``seal``)."""

    async def failed(row: dict[str, Any]) -> None:
        await log_event("RecordingFailed", clock(), row["call_uniqueid"], {
            "line": row["line"], "recording": row["uniqueid"], "kind": row["kind"],
            "segment": row.get("segment"), "stage": "seal",
            "error": (row.get("error") or "")[:500]})
    return failed


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


def _targets(record: CallRecord) -> list[_Target]:
    targets = []
    if record.recording_file:
        start = record.answered_at if record.answered_at is not None else record.entered_at
        targets.append(_Target(record.uniqueid, "call", Path(record.recording_file), start))
    if record.voicemail_file:
        targets.append(_Target(record.uniqueid + VOICEMAIL_SUFFIX, "voicemail",
                               Path(record.voicemail_file), record.entered_at))
    return targets


def _segment_target(record: CallRecord, segment: Segment, *,
                    ended_at: float | None = None,
                    stopped_by: str | None = None) -> _Target:
    return _Target(record.uniqueid + segment.uniqueid_suffix, "call", Path(segment.path),
                   segment.started_at, ended_at if ended_at is not None else segment.stopped_at,
                   (("segment", segment.number), ("started_by", segment.started_by),
                    ("stopped_by", stopped_by or segment.stopped_by)))


def _row_base(record: CallRecord, target: _Target, days: int) -> dict[str, Any]:
    """A recording row's columns that come from its call and the file (not the seal)."""
    return {
        "uniqueid": target.uniqueid, "call_uniqueid": record.uniqueid,
        "kind": target.kind, "line": record.line, "queue": record.queue,
        "agent": record.agent, "caller": record.caller, "started_at": target.started_at,
        "ended_at": target.ended_at if target.ended_at is not None else record.ended_at,
        "source_path": str(target.path),
        "retention_until": record.ended_at + days * 86400.0, **dict(target.extra),
    }


def _on_disk(plain: Path) -> bool:
    """Whether the plain file, or its sealed file, is there."""
    return plain.exists() or sealed_path_for(plain).exists()


_RECORD_FIELDS = {f.name for f in fields(CallRecord)}

#: The line (and queue, caller) of a recording found on disk with no call record.
UNKNOWN = ""
#: The columns an orphan's row gets from its call's record when that arrives.
_CALL_COLUMNS = ("line", "queue", "agent", "caller", "started_at", "ended_at",
                 "retention_until")


def _record(row: Any) -> CallRecord:
    return CallRecord(**{k: v for k, v in row.items() if k in _RECORD_FIELDS})


class Sealer:
    """Seals the recordings of finished calls; ``days_for(line)`` gives their retention.

    Sealing runs in worker threads, at most ``seal_concurrency`` at once. ``on_failure``
    is told of every recording that could not be sealed (a failing callback is logged).
    ``closes`` tells when Asterisk has closed a file (run it with :meth:`watch`); without
    it, or while it does not run, ``/proc`` is looked at instead.
    """

    def __init__(self, rows: RecordingRows, keyring: Keyring, *,
                 days_for: Callable[[str], int],
                 clock: Callable[[], float] = time.time,
                 seal_voicemail: bool = True,
                 seal_concurrency: int = 2,
                 settle_seconds: float = 0.5,
                 settle_timeout: float = 30.0,
                 unknown_writer_quiet_seconds: float = 3.0,
                 recordings_dir: Path | None = None,
                 voicemail_dir: Path | None = None,
                 orphan_quiet_seconds: float = 120.0,
                 on_failure: FailureCallback | None = None,
                 closes: CloseWatcher | None = None) -> None:
        self._rows = rows
        #: Tells when Asterisk has closed a recording (inotify); run by :meth:`watch`.
        self.closes = closes
        self.recordings_dir = recordings_dir
        self.voicemail_dir = voicemail_dir
        self.orphan_quiet_seconds = orphan_quiet_seconds
        self.keyring = keyring
        self.days_for = days_for
        self.clock = clock
        self.seal_voicemail = seal_voicemail
        self.settle_seconds = settle_seconds
        self.settle_timeout = settle_timeout
        self.unknown_writer_quiet_seconds = unknown_writer_quiet_seconds
        self._on_failure = on_failure
        self._seal_slots = asyncio.Semaphore(seal_concurrency)
        self._tasks: set[asyncio.Task] = set()
        self._busy: set[str] = set()

    # -------------------------------------------------------------- in the background

    async def watch(self) -> None:
        """Follow the recordings directories until cancelled, so that a recording is
        sealed as soon as Asterisk has closed it (nothing to do without ``closes``). A
        watcher that fails is an alarm, and the files are then checked in ``/proc``."""
        if self.closes is None:
            return
        try:
            await self.closes.run()
        except Exception as exc:
            log.exception("recording.watch_failed", alarm=True,
                          error=f"{type(exc).__name__}: {exc}"[:300],
                          detail="the end of recordings is checked in /proc instead")

    def submit(self, record: CallRecord) -> asyncio.Task | None:
        """Seal the call's recordings in the background (the controller does not wait).

        Returns the task (``None`` when the call has nothing to seal); :meth:`drain`
        waits for every task submitted.
        """
        if not record.recording_file and not (self.seal_voicemail and record.voicemail_file):
            return None
        return self.track(self._seal_safely(record), f"seal-{record.uniqueid}")

    def submit_segments(self, record: CallRecord, segments: list[Segment]) -> asyncio.Task | None:
        """Seal the on-demand segments of a finished call in the background."""
        targets = [_segment_target(record, s) for s in segments]
        if not targets:
            return None

        async def seal() -> None:
            try:
                await self._seal_targets(record, targets, None)
            except Exception as exc:
                log.exception("recording.failed", alarm=True, uniqueid=record.uniqueid,
                              error=f"{type(exc).__name__}: {exc}")
        return self.track(seal(), f"seal-segments-{record.uniqueid}")

    def track(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``work`` as a task that :meth:`drain` waits for."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self) -> None:
        """Wait until every task tracked has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _seal_safely(self, record: CallRecord) -> None:
        try:
            await self.seal_after_call(record)
        except Exception as exc:  # seal_after_call reports its own failures; a last net
            log.exception("recording.failed", alarm=True, uniqueid=record.uniqueid,
                          error=f"{type(exc).__name__}: {exc}")

    # -------------------------------------------------------------- sealing

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
                rows.append(await self._seal_target(target, _row_base(record, target, days)))
            finally:
                self._busy.discard(target.uniqueid)
        return rows

    async def _seal_target(self, target: _Target, base: dict[str, Any]) -> dict[str, Any]:
        existing = await self._rows.get(target.uniqueid)
        if existing is not None and existing["status"] != "failed":
            if existing["line"] == UNKNOWN and base["line"] != UNKNOWN:
                return await self._complete_orphan(existing, base)
            return existing
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
            await self._rows.upsert(row)
            await self._tell_failure(row)
            return row
        row = {**base, **values, "status": "sealed", "error": None,
               "sealed_at": self.clock()}
        await self._rows.upsert(row)
        log.info("recording.sealed", uniqueid=target.uniqueid, kind=target.kind,
                 key_id=row["key_id"], bytes=row["plain_size"],
                 seconds=row["duration_seconds"],
                 took_ms=round((time.monotonic() - started) * 1000, 1))
        return row

    async def _complete_orphan(self, existing: dict[str, Any],
                               base: dict[str, Any]) -> dict[str, Any]:
        """A recording sealed from the disk without its call: the call's record has come,
        so its row gets the call's line, queue, agent, caller and times."""
        values = {k: base[k] for k in _CALL_COLUMNS}
        await self._rows.update(existing["uniqueid"], **values)
        log.info("recording.orphan_completed", uniqueid=existing["uniqueid"],
                 line=values["line"])
        return {**existing, **values}

    async def _tell_failure(self, row: dict[str, Any]) -> None:
        if self._on_failure is None:
            return
        try:
            await self._on_failure(row)
        except Exception:
            log.exception("recording.failure_listener_failed", uniqueid=row["uniqueid"])

    async def _settled(self, path: Path) -> None:
        """Wait until Asterisk has closed the file.

        MixMonitor goes on writing after the caller's channel has hung up (it drains its
        audio, then patches the WAV header when it closes the file), by more than a second
        on a busy machine. The watcher of the recordings directories (``closes``, inotify)
        knows when that close comes for every file it saw created: then nothing else is
        asked. Where it cannot know (not running, a file it did not see created, the
        kernel's queue overflowed) or saw no close within ``settle_timeout``, the file is
        checked as below (:meth:`_settled_by_looking`).
        """
        watcher = self.closes
        if watcher is not None and watcher.running:
            if not watcher.covers(path):
                path = await asyncio.to_thread(path.resolve)
            verdict = await watcher.wait_closed(path, self.settle_timeout)
            if verdict is Verdict.CLOSED:
                return
            log.info("recording.close_unseen", path=str(path), verdict=verdict.value)
        await self._settled_by_looking(path)

    async def _settled_by_looking(self, path: Path) -> None:
        """Wait until no process has the file open, looked up once in ``/proc/*/fd``
        (works when the controller may see Asterisk's descriptors: same user, or root,
        as with ``acd up``), and in any case until its size and time have not changed for
        ``settle_seconds`` (``unknown_writer_quiet_seconds`` when the descriptors cannot
        be seen). While ``/proc`` says a writer holds it, it is asked again at each
        ``settle_seconds``. Gives up after ``settle_timeout`` with a warning (sealing then
        refuses a file that changes while it is being sealed).
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.settle_timeout
        last, quiet_from = None, started
        writer: bool | None = True
        while True:
            try:
                st = await asyncio.to_thread(path.stat)
                now = (st.st_size, st.st_mtime_ns)
            except FileNotFoundError:
                return  # _seal_file decides (it may have been sealed before a crash)
            if writer is True:  # first, and again only while a writer was seen
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

    # -------------------------------------------------------------- recovery

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
        async with self._rows.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        handled = 0
        for row in rows:
            record = _record(row)
            targets = [t for t in _targets(record) if _on_disk(t.path)]
            if not targets:
                continue  # nothing on disk: the failure was reported when it happened
            for result in await self.seal_after_call(record):
                handled += result["status"] == "sealed"
        handled += await self._recover_segments(cutoff, done)
        handled += await self.sweep()
        if handled:
            log.info("recording.recovered", recordings=handled)
        return handled

    async def sweep(self) -> int:
        """Seal every plain WAV left on disk that no process has open and that has not
        changed for ``orphan_quiet_seconds``; the number sealed.

        A file whose call has a record is sealed with it; one without is sealed as an
        orphan (line, queue and caller unknown) and logged as an alarm
        (``recording.orphan_sealed``) — sealed is safer than plain, and its row is
        completed when the call's record arrives. An empty file (a header only) goes.
        """
        if self.recordings_dir is None:
            return 0
        files = await asyncio.to_thread(plain_files, self.recordings_dir, self.voicemail_dir)
        if not files:
            return 0
        open_now = await asyncio.to_thread(files_open_elsewhere)
        quiet_before = self.clock() - self.orphan_quiet_seconds
        handled = 0
        for found in files:
            if (found.uniqueid in self._busy or found.modified_at > quiet_before
                    or (found.kind == "voicemail" and not self.seal_voicemail)
                    or (open_now is not None and open_now.holds(found.inode))):
                continue
            if found.size <= EMPTY_WAV_BYTES:
                discard_empty_recording(found.path, found.call_uniqueid)
                continue
            self._busy.add(found.uniqueid)
            try:
                row = await self._seal_found(found)
            finally:
                self._busy.discard(found.uniqueid)
            handled += row is not None and row["status"] == "sealed"
        return handled

    async def _seal_found(self, found: PlainFile) -> dict[str, Any] | None:
        existing = await self._rows.get(found.uniqueid)
        if existing is not None and existing["status"] != "failed":
            log.error("recording.plain_left", alarm=True, uniqueid=found.uniqueid,
                      path=str(found.path), status=existing["status"],
                      detail="a plain file beside a recording already done: kept for "
                             "someone to look at")
            return None
        duration = await asyncio.to_thread(duration_of_plain, found.path) or 0.0
        target = _Target(found.uniqueid, found.kind, found.path,
                         found.modified_at - duration, found.modified_at,
                         (("segment", found.segment),) if found.segment is not None else ())
        async with self._rows.engine.connect() as conn:
            row = (await conn.execute(select(call_records).where(
                call_records.c.uniqueid == found.call_uniqueid))).mappings().first()
        if row is not None:
            record = _record(row)
            return await self._seal_target(target, _row_base(record, target,
                                                             self.days_for(record.line)))
        base = {"uniqueid": found.uniqueid, "call_uniqueid": found.call_uniqueid,
                "kind": found.kind, "line": UNKNOWN, "queue": UNKNOWN, "agent": None,
                "caller": UNKNOWN, "started_at": target.started_at,
                "ended_at": found.modified_at, "source_path": str(found.path),
                "retention_until": found.modified_at + self.days_for(UNKNOWN) * 86400.0,
                **dict(target.extra)}
        sealed = await self._seal_target(target, base)
        if sealed["status"] == "sealed":
            log.warning("recording.orphan_sealed", alarm=True, uniqueid=found.uniqueid,
                        path=str(found.path),
                        detail="no call record names this file: sealed with line, queue "
                               "and caller unknown")
        return sealed

    async def _recover_segments(self, cutoff: float, done) -> int:
        """On-demand segments of ended calls left unsealed (the controller stopped before
        the call's end was handled): found from the event log's ``RecordingStarted`` and
        ``RecordingStopped``, sealed with what those say."""
        e = call_events.c
        ended = select(call_records.c.uniqueid).where(call_records.c.ended_at <= cutoff)
        query = (select(e.uniqueid, e.kind, e.occurred_at, e.payload)
                 .where(e.kind.in_(("RecordingStarted", "RecordingStopped")),
                        e.uniqueid.in_(ended)).order_by(e.id))
        async with self._rows.engine.connect() as conn:
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
        for uid, by_number in segments.items():
            wanted = [Segment(**s) for s in by_number.values()
                      if s.get("path") and f"{uid}{SEGMENT_SUFFIX}{s['number']}" not in finished
                      and _on_disk(Path(s["path"]))]
            if not wanted:
                continue
            async with self._rows.engine.connect() as conn:
                row = (await conn.execute(select(call_records).where(
                    call_records.c.uniqueid == uid))).mappings().first()
            record = _record(row)
            targets = [_segment_target(record, s, ended_at=s.stopped_at
                                       if s.stopped_at is not None else record.ended_at,
                                       stopped_by=s.stopped_by or "hangup")
                       for s in wanted]
            for result in await self._seal_targets(record, targets, None):
                handled += result["status"] == "sealed"
        return handled
