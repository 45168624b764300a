"""The controller loop: item -> typed event -> event log -> domain.step -> effects.

One loop consumes one queue, which the AMI adapter, the agent gateway (requests) and a
one-second clock fill, so everything is handled in order:

1. an AMI item is translated into a typed event at the border (acd/adapters/ami/events.py);
2. the event, completed from the domain's state (:func:`acd.domain.step.complete`), is
   appended to the event log (acd/services/event_log.py);
3. :func:`acd.domain.step.step` gives the domain's new state and its commands;
4. the executor (acd/effects.py) carries them out: records, dispositions and agent
   states written, queue members added, removed or paused in Asterisk.

A person's request and a clock tick go through steps 3 and 4 only (the request is
answered with the agent's new state or :class:`RequestRejected`). After a (re)connect
the controller asks Asterisk which channels are alive and which queue members exist and
hands both snapshots to the domain, which closes the calls that ended meanwhile and
repairs the members; after a restart it first rebuilds the calls in progress from the
event log and the agents' states from their snapshots.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, replace
from typing import Any

import structlog

from acd.adapters.ami.client import (
    AmiClient,
    AmiError,
    Connected,
    Disconnected,
    RawEvent,
)
from acd.adapters.ami.events import AmiTranslationError, translate
from acd.adapters.asterisk import queue_log
from acd.adapters.asterisk.queue_log import QueueLog
from acd.adapters.db.engine import Database
from acd.domain import agents as agent_machine
from acd.domain import calls as calls_domain
from acd.domain import step as domain
from acd.domain.calls import Calls
from acd.domain.events import (
    AmiConnected,
    AmiDisconnected,
    ChannelsSnapshot,
    Event,
    MembersSnapshot,
)
from acd.domain.problems import Refused
from acd.effects import Effects
from acd.recordings.on_demand import OnDemandRecorder
from acd.recordings.store import RecordingStore
from acd.services.event_log import EventLog, event_from, payload_of

log = structlog.get_logger(__name__)

REBUILD_WINDOW_SECONDS = 12 * 3600
RESYNC_RETRY_SECONDS = 2.0
RESYNC_ATTEMPTS = 10
#: After a (re)connect the first resync waits for Asterisk's FullyBooted (sent to a new
#: AMI session at once when Asterisk is up, else when its modules are loaded); this long
#: at most.
BOOT_WAIT_SECONDS = 10.0
FRESH_BOOT_SECONDS = 2.0  # a FullyBooted heard this shortly before the connect is its own


class RequestRejected(Refused):
    """The agent machine refused an agent's request (the state does not allow it)."""


@dataclass
class _Pending:
    request: agent_machine.Request
    reply: asyncio.Future


@dataclass
class _RosterPending:
    change: domain.RosterChanged
    reply: asyncio.Future


@dataclass(frozen=True)
class _Tick:
    at: float


@dataclass(frozen=True)
class _Resync:
    attempt: int
    connection: int  # the connection it was scheduled for (a later one makes it stale)


class Controller:
    """``event_log``: the log every event goes to (one is made on ``db`` if none is
    given); ``recordings`` and ``on_demand``: where ended calls' recordings go to be
    sealed (see :class:`acd.effects.Effects`); ``queue_log``: Asterisk's queue log, read
    back after a reconnect for the calls that ended while nobody listened."""

    def __init__(self, ami: AmiClient, queue: asyncio.Queue, db: Database,
                 agents: agent_machine.Agents | None = None, *,
                 event_log: EventLog | None = None,
                 recordings: RecordingStore | None = None,
                 on_demand: OnDemandRecorder | None = None,
                 queue_log: QueueLog | None = None) -> None:
        self._ami = ami
        self._queue_log = queue_log
        self._queue = queue
        self._db = db
        self.state = domain.State(agents=agents or agent_machine.Agents())
        self._event_log = event_log or EventLog(db)
        self._effects = Effects(ami, db, self._event_log, recordings=recordings,
                                on_demand=on_demand)
        self.events_handled = 0
        #: When the last event heard from Asterisk happened: what came after it and was
        #: not heard is read back from the queue log at the next (re)connect.
        self._heard_until: float | None = None
        self._connections = 0  # AMI connections so far
        self._booted = True  # FullyBooted heard since the last connect (or not awaited)
        self._fully_booted_at = -1e9  # (monotonic) when the last FullyBooted was heard

    @property
    def calls(self) -> Calls:
        return self.state.calls

    @property
    def agents(self) -> agent_machine.Agents:
        return self.state.agents

    @property
    def event_log(self) -> EventLog:
        return self._event_log

    @property
    def recordings(self) -> RecordingStore | None:
        return self._effects.recordings

    @property
    def on_demand(self) -> OnDemandRecorder | None:
        return self._effects.on_demand

    @property
    def connected(self) -> bool:
        return self._ami.connected

    # ------------------------------------------------------------ running

    async def run(self) -> None:
        await self.rebuild()
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._clock(), name="clock")
            while True:
                item = await self._queue.get()
                try:
                    await self._consume(item)
                except Exception:  # one bad message must not stop the controller
                    log.exception("controller.item_failed", item=repr(item)[:300])

    async def _clock(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self._queue.put_nowait(_Tick(time.time()))

    async def rebuild(self) -> None:
        self._heard_until = await self._db.last_event_at()
        snapshots = await self._db.agent_snapshots()
        self.state = replace(self.state,
                             agents=agent_machine.restore(self.state.agents, snapshots))
        rows = await self._db.open_call_events(since=time.time() - REBUILD_WINDOW_SECONDS)
        for row in rows:
            event = event_from(row["kind"], row["payload"])
            if event is not None:
                state, commands = domain.replay(self.state, event)
                self.state = state
                await self._effects.carry_out(commands, state)
        if rows:
            log.info("controller.rebuilt", events=len(rows), open_calls=len(self.calls))

    async def submit(self, request: agent_machine.Request) -> agent_machine.AgentState:
        """Carry out a person's request in turn with everything else; the agent's new
        state, or RequestRejected with a stable error id."""
        reply = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(request, reply))
        return await reply

    async def update_roster(self, roster: list[agent_machine.AgentProfile]) -> None:
        reply = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_RosterPending(domain.RosterChanged(tuple(roster)), reply))
        await reply

    async def _consume(self, item: Any) -> None:
        match item:
            case _Tick(at=at):
                await self._step(agent_machine.Tick(at), at)
            case _RosterPending(change=change, reply=reply):
                await self._step(change, time.time())
                reply.set_result(None)
            case _Pending(request=request, reply=reply):
                await self._handle_request(request, reply)
            case Connected(at=at):
                log.info("ami.connected")
                await self.handle(AmiConnected(at))
                self._connections += 1
                # the first resync waits for FullyBooted, or the timeout; the event of this
                # session may already have been heard (it can overtake the login's answer)
                self._booted = time.monotonic() - self._fully_booted_at < FRESH_BOOT_SECONDS
                if self._booted:
                    await self._resync(attempt=1)
                else:
                    asyncio.get_running_loop().call_later(
                        BOOT_WAIT_SECONDS, self._queue.put_nowait,
                        _Resync(1, self._connections))
            case _Resync(attempt=attempt, connection=connection):
                if self.connected and connection == self._connections and (
                        attempt > 1 or not self._booted):
                    self._booted = True
                    await self._resync(attempt)
            case RawEvent(message=message) if message.get("Event") == "FullyBooted":
                self._fully_booted_at = time.monotonic()
                if not self._booted:
                    self._booted = True
                    await self._resync(attempt=1)
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
                    self._heard_until = event.at

    async def _handle_request(self, request: agent_machine.Request,
                              reply: asyncio.Future) -> None:
        with structlog.contextvars.bound_contextvars(agent=request.agent):
            commands = await self._step(request, time.time())
        rejected = next((c for c in commands if isinstance(c, agent_machine.Rejected)), None)
        if rejected:
            reply.set_exception(RequestRejected(rejected.error_id, rejected.message))
        else:
            reply.set_result(self.agents.by_id[request.agent])

    async def _resync(self, attempt: int) -> None:
        try:
            live = await self._ami.live_uniqueids()
            members = await self._ami.queue_members()
        except (TimeoutError, AmiError) as exc:
            # e.g. Asterisk still booting: try again shortly (the callback only enqueues)
            if attempt < RESYNC_ATTEMPTS:  # retried: worth a warning, not an error yet
                log.warning("controller.resync_retry", error=str(exc), attempt=attempt,
                            retry_in=RESYNC_RETRY_SECONDS)
                asyncio.get_running_loop().call_later(
                    RESYNC_RETRY_SECONDS, self._queue.put_nowait,
                    _Resync(attempt + 1, self._connections))
            else:
                log.error("controller.resync_failed", error=str(exc), attempts=attempt)
            return
        await self._catch_up(live)
        await self.handle(ChannelsSnapshot(time.time(), live))
        await self.handle(MembersSnapshot(time.time(), members))
        log.info("controller.resynchronised", live_channels=len(live), open_calls=len(self.calls),
                 queue_members=len(members), attempt=attempt)

    async def _catch_up(self, live: frozenset[str]) -> None:
        """What happened while nobody listened, from Asterisk's queue log, with
        Asterisk's times: for the calls held open, what the event log missed (those that
        are gone: their answer, end or abandon — answered calls stay answered, talk
        times are true, agents go to wrap-up; those still up: an answer heard by a
        controller that died before its write was committed); and the calls that entered
        since the last event heard and that the log does not know at all, rebuilt from
        their entry (then closed below if they are over)."""
        if self._queue_log is None:
            return
        gone = [uniqueid for uniqueid in self.calls.active if uniqueid not in live]
        if not self.calls.active and self._heard_until is None:
            return
        written = await asyncio.to_thread(self._queue_log.read)  # one read of the file
        replayed = 0
        for event in queue_log.events_of(written, list(self.calls.active)):
            call = self.calls.active.get(getattr(event, "uniqueid", "") or "")
            if call is not None and calls_domain.news(call, event):
                replayed += await self._handle_read_back(event)
        unseen: dict[str, list[Event]] = {}
        if self._heard_until is not None:
            entered = queue_log.calls_entered_since(written, math.floor(self._heard_until))
            candidates = [u for u in entered if u not in self.calls.active
                          and u not in self.calls.recently_closed]
            recorded = await self._db.recorded(candidates)
            unseen = {u: entered[u] for u in candidates if u not in recorded}
        for events in unseen.values():
            for event in events:
                replayed += await self._handle_read_back(event)
        if gone or unseen:
            log.info("controller.caught_up", open_calls_gone=len(gone),
                     calls_unseen=len(unseen), events=replayed)

    async def _handle_read_back(self, event: Event) -> int:
        events = domain.read_back(self.state, event)
        for one in events:
            await self.handle(one)
        return len(events)

    # ------------------------------------------------------------ events

    async def handle(self, event: Event) -> None:
        """One typed event: into the event log (as the domain understands it), then the
        domain's step as of the event's own time, then its commands carried out."""
        event = domain.complete(self.state, event)
        uniqueid = getattr(event, "uniqueid", None)
        with structlog.contextvars.bound_contextvars(uniqueid=uniqueid,
                                                     queue=getattr(event, "queue", None),
                                                     agent=getattr(event, "agent", None)):
            await self._event_log.append(type(event).__name__, event.at, uniqueid,
                                         payload_of(event))
            await self._step(event, event.at)
            self.events_handled += 1

    async def _step(self, message: domain.Message, now: float) -> list[domain.Command]:
        state, commands = domain.step(self.state, message, now)
        self.state = state
        for change in await self._effects.carry_out(commands, state):
            self.state = domain.unavailable_confirmed(self.state, change.agent, change.at)
        return commands
