"""The controller: AMI items -> typed events -> event log -> domain step -> commands.

One loop consumes the queue the AMI adapter fills, so events are handled in the order
Asterisk sent them. Every event is appended to the log before the domain sees it; the
call records the domain derives are then written. After a (re)connect the controller
asks Asterisk which channels are alive and closes the calls that ended meanwhile; after a
restart it first rebuilds the calls in progress from the log.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import structlog

from acd.adapters.ami import AmiClient, AmiError, AmiItem, Connected, Disconnected, RawEvent
from acd.adapters.ami_events import AmiTranslationError, translate
from acd.adapters.db import Database
from acd.domain import calls as call_tracker
from acd.domain.events import (
    EVENT_TYPES,
    AmiConnected,
    AmiDisconnected,
    ChannelsSnapshot,
    Event,
)

log = structlog.get_logger(__name__)

REBUILD_WINDOW_SECONDS = 12 * 3600


class Controller:
    def __init__(self, ami: AmiClient, queue: asyncio.Queue[AmiItem], db: Database) -> None:
        self._ami = ami
        self._queue = queue
        self._db = db
        self.calls = call_tracker.Calls()
        self.events_handled = 0

    @property
    def connected(self) -> bool:
        return self._ami.connected

    async def run(self) -> None:
        await self.rebuild()
        while True:
            item = await self._queue.get()
            try:
                await self._consume(item)
            except Exception:  # one bad message must not stop the controller
                log.exception("controller.item_failed", item=repr(item)[:300])

    async def rebuild(self) -> None:
        rows = await self._db.open_call_events(since=time.time() - REBUILD_WINDOW_SECONDS)
        for row in rows:
            event = EVENT_TYPES[row["kind"]](**_decode(row["payload"]))
            await self._step(event)
        if rows:
            log.info("controller.rebuilt", events=len(rows), open_calls=len(self.calls))

    async def _consume(self, item: AmiItem) -> None:
        match item:
            case Connected(at=at):
                log.info("ami.connected")
                await self.handle(AmiConnected(at))
                await self._resync()
            case Disconnected(at=at, reason=reason):
                log.warning("ami.disconnected", reason=reason)
                await self.handle(AmiDisconnected(at, reason))
            case RawEvent(message=message):
                try:
                    event = translate(message)
                except AmiTranslationError as exc:
                    log.error("ami.bad_event", error=str(exc))
                    return
                if event is not None:
                    await self.handle(event)

    async def _resync(self) -> None:
        try:
            live = await self._ami.live_uniqueids()
        except (AmiError, asyncio.TimeoutError) as exc:
            log.error("controller.resync_failed", error=str(exc))
            return
        await self.handle(ChannelsSnapshot(time.time(), live))
        log.info("controller.resynchronised", live_channels=len(live), open_calls=len(self.calls))

    async def handle(self, event: Event) -> None:
        uniqueid = getattr(event, "uniqueid", None)
        with structlog.contextvars.bound_contextvars(uniqueid=uniqueid,
                                                     queue=getattr(event, "queue", None),
                                                     agent=getattr(event, "agent", None)):
            payload = _encode(event)
            await self._db.append_event(type(event).__name__, event.at, uniqueid, payload)
            await self._step(event)
            self.events_handled += 1

    async def _step(self, event: Event) -> None:
        self.calls, commands = call_tracker.step(self.calls, event)
        for command in commands:
            match command:
                case call_tracker.SaveCallRecord(record=record):
                    await self._db.save_record(record)
                    log.info("call.recorded", uniqueid=record.uniqueid, outcome=record.outcome,
                             agent=record.agent, wait=record.wait_seconds,
                             talk=record.talk_seconds, reason=record.close_reason)
                case call_tracker.DiscardEmptyRecording(path=path, uniqueid=uid):
                    discard_empty_recording(Path(path), uid)
                case call_tracker.DomainProblem(message=message, uniqueid=uid, agent=agent):
                    log.error("domain.problem", problem=message, uniqueid=uid, agent=agent,
                              event=type(event).__name__)


#: A WAV file with nothing but its header.
EMPTY_WAV_BYTES = 44


def discard_empty_recording(path: Path, uniqueid: str) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size <= EMPTY_WAV_BYTES:
        path.unlink()
        log.info("recording.discarded_empty", uniqueid=uniqueid, path=str(path))
    else:
        log.warning("recording.unexpected_audio", uniqueid=uniqueid, path=str(path),
                    bytes=size, detail="kept: a call never answered left audio")


def _encode(event: Event) -> dict[str, Any]:
    data = asdict(event)
    return {k: sorted(v) if isinstance(v, frozenset) else v for k, v in data.items()}


def _decode(payload: str) -> dict[str, Any]:
    data = json.loads(payload)
    return {k: frozenset(v) if isinstance(v, list) else v for k, v in data.items()}
