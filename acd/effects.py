"""The executor: the one place that turns the domain's commands into adapter calls.

:meth:`Effects.carry_out` takes the commands :func:`acd.domain.step.step` returned, in
order, and the state that step left:

=========================  ==========================================================
command                    carried out as
=========================  ==========================================================
SaveCallRecord             the voicemail stored (or none left), an empty recording of a
                           transfer nobody answered removed, the call record written;
                           the call handed to the recording store (sealed in the
                           background) and to the on-demand recorder (its segments)
DiscardEmptyRecording      the empty WAV of a call nobody answered removed
DomainProblem              logged (``domain.problem``) with uniqueid, agent and trigger
StateChanged               ``AgentStateChanged`` in the event log; the agent's state and
                           its interval (the by-agent KPIs' source) written
DispositionRecorded        in the event log and the dispositions table
OfferViolation             in the event log, and an error logged
AddMember, RemoveMember,   the AMI action (QueueAdd, QueueRemove, QueuePenalty,
SetPenalty, PauseMember    QueuePause); a failure is logged: the members are repaired
                           at the next connection
Rejected                   nothing: the controller answers the requester with it
=========================  ==========================================================
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, replace
from pathlib import Path

import structlog

from acd.adapters.ami import actions
from acd.adapters.ami.client import AmiClient, AmiError
from acd.adapters.db.engine import Database
from acd.adapters.files import EMPTY_WAV_BYTES, discard_empty_recording, wav_seconds
from acd.domain import agents as agent_machine
from acd.domain.agents import (
    AddMember,
    DispositionRecorded,
    OfferViolation,
    PauseMember,
    Rejected,
    RemoveMember,
    SetPenalty,
    StateChanged,
)
from acd.domain.calls import CallRecord, DiscardEmptyRecording, DomainProblem, SaveCallRecord
from acd.domain.step import Command, State
from acd.recordings.on_demand import OnDemandRecorder
from acd.recordings.store import RecordingStore
from acd.services.event_log import EventLog

log = structlog.get_logger(__name__)

MemberCommand = AddMember | RemoveMember | SetPenalty | PauseMember


class Effects:
    """``recordings``: the store that seals every ended call's recording; ``on_demand``:
    the recorder whose segments of the call are sealed when it ends (both optional: a
    controller without them only writes records). ``clock`` stamps the state changes
    that wait for Asterisk (see :meth:`carry_out`)."""

    def __init__(self, ami: AmiClient, db: Database, event_log: EventLog, *,
                 recordings: RecordingStore | None = None,
                 on_demand: OnDemandRecorder | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._ami = ami
        self._db = db
        self._event_log = event_log
        self.recordings = recordings
        self.on_demand = on_demand
        self._clock = clock

    async def carry_out(self, commands: Iterable[Command], state: State) -> list[StateChanged]:
        """Carry out ``commands`` in order; ``state`` is the domain's state after the step
        that returned them (what an agent's saved state is taken from). The state changes
        stamped later than the domain said (see below) are returned, as logged."""
        asterisk_changed = False
        stamped: list[StateChanged] = []
        for command in commands:
            match command:
                case SaveCallRecord(record=record):
                    await self._save_record(record)
                case DiscardEmptyRecording(path=path, uniqueid=uniqueid):
                    discard_empty_recording(Path(path), uniqueid)
                case DomainProblem():
                    extra = {"error_id": command.error_id} if command.error_id else {}
                    log.error("domain.problem", problem=command.message,
                              uniqueid=command.uniqueid, agent=command.agent,
                              trigger=command.trigger, **extra)
                case StateChanged():
                    if asterisk_changed:
                        # Becoming unavailable is true once Asterisk has paused or removed
                        # the agent, i.e. when its answer to the member action came: only
                        # this I/O knows that time, so it is stamped here, not in the domain.
                        confirmed = replace(command, at=max(command.at, self._clock()))
                        if confirmed.at != command.at:
                            stamped.append(confirmed)
                        command = confirmed
                    await self._state_changed(command, state)
                case DispositionRecorded():
                    await self._disposition(command)
                case OfferViolation():
                    await self._event_log.append("OfferViolation", command.at, command.uniqueid,
                                                 {"agent": command.agent,
                                                  "status": command.status.value})
                    log.error("agent.offer_violation", agent=command.agent,
                              status=command.status.value, uniqueid=command.uniqueid)
                case AddMember() | RemoveMember() | SetPenalty() | PauseMember():
                    await self._member(command)
                    asterisk_changed = True
                case Rejected():
                    pass  # answered to the requester by the controller
        return stamped

    # ------------------------------------------------------------ calls

    async def _save_record(self, record: CallRecord) -> None:
        if record.voicemail_file:
            record = await self._save_voicemail(record)
        if record.recording_file and record.answered_at is None:
            record = _without_empty_recording(record)
        await self._db.save_record(record)
        log.info("call.recorded", uniqueid=record.uniqueid, outcome=record.outcome,
                 agent=record.agent, wait=record.wait_seconds, talk=record.talk_seconds,
                 reason=record.close_reason)
        if self.recordings is not None:  # sealed in the background
            self.recordings.submit(record)
        if self.on_demand is not None:  # its on-demand segments too
            await self.on_demand.call_ended(record)

    async def _save_voicemail(self, record: CallRecord) -> CallRecord:
        """Store the message; a caller who hung up without speaking left none: the call is
        then an overflow without a message, and the empty file goes."""
        path = Path(record.voicemail_file or "")
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

    async def _state_changed(self, command: StateChanged, state: State) -> None:
        agent = state.agents.by_id[command.agent]
        payload = {"agent": command.agent, "status": command.status.value,
                   "previous": command.previous.value, "reason": command.reason,
                   "ready_since": agent.ready_since}
        await self._event_log.append("AgentStateChanged", command.at, command.uniqueid, payload)
        await self._db.save_agent_state(command.agent, agent.status.value,
                                        agent_machine.snapshot(agent), command.at)
        await self._db.save_agent_interval(  # the by-agent KPIs' source
            command.agent, command.status.value, command.previous.value, command.reason,
            command.at, command.uniqueid)
        log.info("agent.state", agent=command.agent, status=command.status.value,
                 previous=command.previous.value, reason=command.reason)

    async def _disposition(self, command: DispositionRecorded) -> None:
        values = asdict(command)
        await self._event_log.append("DispositionRecorded", command.at, command.uniqueid,
                                     values)
        values.pop("after_wrapup")
        values["recorded_at"] = values.pop("at")
        await self._db.save_disposition(values)

    async def _member(self, command: MemberCommand) -> None:
        interface = actions.agent_interface(command.agent)
        match command:
            case AddMember():
                action = actions.queue_add(command.queue, interface,
                                           actions.member_name(command.agent, command.name),
                                           command.penalty, command.paused, command.reason,
                                           command.wrapup_seconds)
            case RemoveMember():
                action = actions.queue_remove(command.queue, interface)
            case SetPenalty():
                action = actions.queue_penalty(command.queue, interface, command.penalty)
            case PauseMember():
                action = actions.queue_pause(interface, command.paused, command.reason)
        try:
            await self._ami.action(action)
        except (TimeoutError, AmiError) as exc:
            if isinstance(command, RemoveMember) and "Not there" in str(exc):
                return
            # Asterisk is away: the members are repaired at the next connection
            log.warning("ami.member_action_failed", action=actions.name(action), error=str(exc))


def _without_empty_recording(record: CallRecord) -> CallRecord:
    """A flow's transfer keeps the caller's recording; when the far end never answered
    nothing was recorded: the empty file goes and the record names no recording."""
    path = Path(record.recording_file or "")
    try:
        empty = path.stat().st_size <= EMPTY_WAV_BYTES
    except FileNotFoundError:
        empty = True
    if not empty:
        return record
    discard_empty_recording(path, record.uniqueid)
    return replace(record, recording_file=None)
