"""The controller: AMI items and people's requests -> typed events -> event log -> domain
-> commands.

One loop consumes one queue, which the AMI adapter, the agent gateway (requests) and a
one-second clock fill, so everything is handled in order. Every event is appended to the
log before the domain sees it; the commands the domain returns are then carried out:
records and dispositions written, queue members added, removed or paused in Asterisk.
After a (re)connect the controller asks Asterisk which channels are alive and which queue
members exist, closes the calls that ended meanwhile and repairs the members; after a
restart it first rebuilds the calls in progress and the agents' states from the database.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
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
from acd.adapters.db.engine import Database
from acd.adapters.files import EMPTY_WAV_BYTES, discard_empty_recording, wav_seconds
from acd.domain import agents as agent_states
from acd.domain import calls as call_tracker
from acd.domain.events import (
    EVENT_TYPES,
    AgentAnswered,
    AgentCallEnded,
    AgentRinging,
    AgentRingNoAnswer,
    AmiConnected,
    AmiDisconnected,
    CallerAbandoned,
    ChannelsSnapshot,
    Event,
    MembersSnapshot,
    QueueLeft,
)
from acd.recordings.on_demand import OnDemandRecorder
from acd.recordings.store import RecordingStore

log = structlog.get_logger(__name__)

REBUILD_WINDOW_SECONDS = 12 * 3600
AGENT_EVENTS = (AgentRinging, AgentRingNoAnswer, AgentAnswered, AgentCallEnded,
                CallerAbandoned, QueueLeft)


class RequestRejected(Exception):
    def __init__(self, error_id: str, message: str) -> None:
        self.error_id = error_id
        super().__init__(message)


@dataclass
class _Pending:
    request: agent_states.Request
    reply: asyncio.Future


@dataclass(frozen=True)
class _Tick:
    at: float


@dataclass(frozen=True)
class _Resync:
    attempt: int


RESYNC_RETRY_SECONDS = 2.0
RESYNC_ATTEMPTS = 10


class Controller:
    def __init__(self, ami: AmiClient, queue: asyncio.Queue, db: Database,
                 agents: agent_states.Agents | None = None) -> None:
        self._ami = ami
        self._queue = queue
        self._db = db
        self.calls = call_tracker.Calls()
        self.agents = agents or agent_states.Agents()
        self.recordings: RecordingStore | None = None  # set by the stack
        self.on_demand: OnDemandRecorder | None = None  # set by the stack
        self.events_handled = 0
        #: Called with (kind, at, uniqueid, payload) after each event is logged; must not
        #: block (e.g. put it on a queue). The consoles' live updates listen here.
        self.listeners: list[Callable[[str, float, str | None, dict[str, Any]], None]] = []

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
        self.agents = agent_states.restore(self.agents, await self._db.agent_snapshots())
        rows = await self._db.open_call_events(since=time.time() - REBUILD_WINDOW_SECONDS)
        for row in rows:
            if row["kind"] in EVENT_TYPES:
                event = EVENT_TYPES[row["kind"]](**_decode(row["payload"]))
                self.calls, commands = call_tracker.step(self.calls, event)
                await self._carry_out_call_commands(commands, event)
        if rows:
            log.info("controller.rebuilt", events=len(rows), open_calls=len(self.calls))

    async def submit(self, request: agent_states.Request) -> agent_states.AgentState:
        """Carry out a person's request in turn with everything else; the agent's new
        state, or RequestRejected with a stable error id."""
        reply = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(request, reply))
        return await reply

    async def update_roster(self, roster: list[agent_states.AgentProfile]) -> None:
        reply = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(_RosterChange(roster), reply))
        await reply

    async def _consume(self, item: Any) -> None:
        match item:
            case _Tick(at=at):
                await self._step_agents(agent_states.Tick(at), at)
            case _Pending(request=_RosterChange(roster=roster), reply=reply):
                self.agents = self.agents.with_roster(roster)
                reply.set_result(None)
            case _Pending(request=request, reply=reply):
                await self._handle_request(request, reply)
            case Connected(at=at):
                log.info("ami.connected")
                await self.handle(AmiConnected(at))
                await self._resync(attempt=1)
            case _Resync(attempt=attempt):
                if self.connected:
                    await self._resync(attempt)
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

    async def _handle_request(self, request: agent_states.Request, reply: asyncio.Future) -> None:
        with structlog.contextvars.bound_contextvars(agent=request.agent):
            rejected = await self._step_agents(request, time.time())
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
            log.error("controller.resync_failed", error=str(exc), attempt=attempt)
            if attempt < RESYNC_ATTEMPTS:
                asyncio.get_running_loop().call_later(
                    RESYNC_RETRY_SECONDS, self._queue.put_nowait, _Resync(attempt + 1))
            return
        await self.handle(ChannelsSnapshot(time.time(), live))
        await self.handle(MembersSnapshot(time.time(), members))
        log.info("controller.resynchronised", live_channels=len(live), open_calls=len(self.calls),
                 queue_members=len(members))

    # ------------------------------------------------------------ events

    async def log_event(self, kind: str, at: float, uniqueid: str | None,
                        payload: dict[str, Any]) -> None:
        """Append what is not the domain's own event (a call control, a forced state, an
        on-demand recording started by an agent) to the event log; tell the listeners."""
        await self._log_event(kind, at, uniqueid, payload)

    async def _log_event(self, kind: str, at: float, uniqueid: str | None,
                         payload: dict[str, Any]) -> None:
        """Append to the event log, then tell the listeners (a failing one is logged)."""
        await self._db.append_event(kind, at, uniqueid, payload)
        for listener in self.listeners:
            try:
                listener(kind, at, uniqueid, payload)
            except Exception:
                log.exception("controller.listener_failed", kind=kind)

    async def handle(self, event: Event) -> None:
        if isinstance(event, AgentCallEnded) and event.uniqueid is None:
            # Asterisk sent no channel snapshot at all: the call is the agent's current one
            agent = self.agents.by_id.get(event.agent)
            event = replace(event, uniqueid=agent.call if agent else None)
        uniqueid = getattr(event, "uniqueid", None)
        with structlog.contextvars.bound_contextvars(uniqueid=uniqueid,
                                                     queue=getattr(event, "queue", None),
                                                     agent=getattr(event, "agent", None)):
            await self._log_event(type(event).__name__, event.at, uniqueid, _encode(event))
            self.calls, commands = call_tracker.step(self.calls, event)
            await self._carry_out_call_commands(commands, event)
            if isinstance(event, AGENT_EVENTS):
                await self._step_agents(event, event.at)
            elif isinstance(event, MembersSnapshot):
                await self._carry_out_agent_commands(
                    agent_states.reconcile(self.agents, event.members, event.at))
            self.events_handled += 1

    async def _carry_out_call_commands(self, commands: list[call_tracker.Command],
                                       event: Event) -> None:
        for command in commands:
            match command:
                case call_tracker.SaveCallRecord(record=record):
                    if record.voicemail_file:
                        record = await self._save_voicemail(record)
                    if record.recording_file and record.answered_at is None:
                        record = _without_empty_recording(record)
                    await self._db.save_record(record)
                    log.info("call.recorded", uniqueid=record.uniqueid, outcome=record.outcome,
                             agent=record.agent, wait=record.wait_seconds,
                             talk=record.talk_seconds, reason=record.close_reason)
                    if self.recordings is not None:  # sealed in the background
                        self.recordings.submit(record)
                    if self.on_demand is not None:  # its on-demand segments too
                        await self.on_demand.call_ended(record)
                case call_tracker.DiscardEmptyRecording(path=path, uniqueid=uid):
                    discard_empty_recording(Path(path), uid)
                case call_tracker.DomainProblem(message=message, uniqueid=uid, agent=agent):
                    log.error("domain.problem", problem=message, uniqueid=uid, agent=agent,
                              trigger=type(event).__name__)

    async def _save_voicemail(self, record: call_tracker.CallRecord) -> call_tracker.CallRecord:
        """Store the message; a caller who hung up without speaking left none: the call is
        then an overflow without a message, and the empty file goes."""
        path = Path(record.voicemail_file)
        seconds = wav_seconds(path)
        if seconds is None:
            discard_empty_recording(path, record.uniqueid)
            log.info("voicemail.none_left", uniqueid=record.uniqueid)
            return replace(record, outcome="overflow", voicemail_file=None)
        await self._db.save_voicemail({
            "uniqueid": record.uniqueid, "line": record.line, "queue": record.queue,
            "caller": record.caller, "file": record.voicemail_file, "seconds": seconds,
            "left_at": record.ended_at, "handled_at": None, "handled_by": None})
        return record

    # ------------------------------------------------------------ agents

    async def _step_agents(self, message: agent_states.Message, now: float
                           ) -> agent_states.Rejected | None:
        self.agents, commands = agent_states.step(self.agents, message, now)
        rejected = next((c for c in commands if isinstance(c, agent_states.Rejected)), None)
        if rejected and not isinstance(message, agent_states.Request):
            log.error("domain.problem", problem=rejected.message, error_id=rejected.error_id,
                      trigger=type(message).__name__, agent=getattr(message, "agent", None),
                      uniqueid=getattr(message, "uniqueid", None))
        await self._carry_out_agent_commands(commands)
        return rejected

    async def _carry_out_agent_commands(self, commands: list[agent_states.Command]) -> None:
        asterisk_changed = False
        for command in commands:
            match command:
                case agent_states.StateChanged():
                    if asterisk_changed:  # logged as of when Asterisk applied it
                        command = replace(command, at=max(command.at, time.time()))
                    state = self.agents.by_id[command.agent]
                    payload = {"agent": command.agent, "status": command.status.value,
                               "previous": command.previous.value, "reason": command.reason,
                               "ready_since": state.ready_since}
                    await self._log_event("AgentStateChanged", command.at,
                                          command.uniqueid, payload)
                    await self._db.save_agent_state(command.agent, state.status.value,
                                                    agent_states.snapshot(state), command.at)
                    await self._db.save_agent_interval(  # the by-agent KPIs' source
                        command.agent, command.status.value, command.previous.value,
                        command.reason, command.at, command.uniqueid)
                    log.info("agent.state", agent=command.agent, status=command.status.value,
                             previous=command.previous.value, reason=command.reason)
                case agent_states.DispositionRecorded():
                    values = asdict(command)
                    await self._log_event("DispositionRecorded", command.at,
                                          command.uniqueid, values)
                    values.pop("after_wrapup")
                    values["recorded_at"] = values.pop("at")
                    await self._db.save_disposition(values)
                case agent_states.OfferViolation():
                    await self._log_event("OfferViolation", command.at, command.uniqueid,
                                          {"agent": command.agent,
                                           "status": command.status.value})
                    log.error("agent.offer_violation", agent=command.agent,
                              status=command.status.value, uniqueid=command.uniqueid)
                case agent_states.AddMember() | agent_states.RemoveMember() | \
                        agent_states.SetPenalty() | agent_states.PauseMember():
                    await self._apply_member(command)
                    asterisk_changed = True
                case agent_states.Rejected():
                    pass  # answered to the requester or logged by _step_agents

    async def _apply_member(self, command) -> None:
        interface = f"PJSIP/{command.agent}"
        match command:
            case agent_states.AddMember():
                action = {"Action": "QueueAdd", "Queue": command.queue, "Interface": interface,
                          "MemberName": command.name, "StateInterface": interface,
                          "Penalty": str(command.penalty),
                          "Paused": "true" if command.paused else "false",
                          "Reason": command.reason, "Wrapuptime": str(command.wrapup_seconds)}
            case agent_states.RemoveMember():
                action = {"Action": "QueueRemove", "Queue": command.queue, "Interface": interface}
            case agent_states.SetPenalty():
                action = {"Action": "QueuePenalty", "Queue": command.queue,
                          "Interface": interface, "Penalty": str(command.penalty)}
            case _:
                action = {"Action": "QueuePause", "Interface": interface,
                          "Paused": "true" if command.paused else "false",
                          "Reason": command.reason}
        try:
            await self._ami.action(action)
        except (TimeoutError, AmiError) as exc:
            if command.__class__ is agent_states.RemoveMember and "Not there" in str(exc):
                return
            # Asterisk is away: the members are repaired at the next connection
            log.warning("ami.member_action_failed", action=action["Action"], error=str(exc))


class _RosterChange:
    def __init__(self, roster: list[agent_states.AgentProfile]) -> None:
        self.roster = roster
        self.agent = None


def _without_empty_recording(record: call_tracker.CallRecord) -> call_tracker.CallRecord:
    """A flow's transfer keeps the caller's recording; when the far end never answered
    nothing was recorded: the empty file goes and the record names no recording."""
    path = Path(record.recording_file)
    try:
        empty = path.stat().st_size <= EMPTY_WAV_BYTES
    except FileNotFoundError:
        empty = True
    if not empty:
        return record
    discard_empty_recording(path, record.uniqueid)
    return replace(record, recording_file=None)


def _encode(event: Event) -> dict[str, Any]:
    data = asdict(event)
    return {k: sorted(v) if isinstance(v, frozenset) else v for k, v in data.items()}


def _decode(payload: str) -> dict[str, Any]:
    data = json.loads(payload)
    return {k: frozenset(tuple(i) if isinstance(i, list) else i for i in v)
            if isinstance(v, list) else v for k, v in data.items()}

