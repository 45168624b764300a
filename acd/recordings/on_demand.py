"""On-demand recording: the agent (or a supervisor) starts and stops it during a call.

A line whose policy is ``recording: on_demand`` plays no notice and records nothing by
itself (the Sapporo payment line records only when a caller threatens the operator).
:class:`OnDemandRecorder` serves ``POST /api/calls/{uniqueid}/recording``:

* ``start`` runs Asterisk's ``MixMonitor`` (AMI action) on the caller's channel, writing
  ``<recordings>/<YYYY/MM/DD JST>/<uniqueid>-r<n>.wav``: one *segment* per start, so a
  call recorded twice has ``-r1`` and ``-r2``;
* ``stop`` runs ``StopMixMonitor`` on it; a segment still running when the caller hangs
  up ends with the call (``stopped_by`` ``hangup``).

Each start, stop and failure is appended to the call event log (``RecordingStarted``,
``RecordingStopped``, ``RecordingFailed``) with who asked (user, role), so the log says who
recorded what. When the call ends its segments are sealed like any recording (rows
``<uniqueid>-r<n>`` with their segment number, start/stop times and who started and
stopped them). A MixMonitor that cannot be started is an alarm (``recording.failed``) and
a ``RecordingFailed`` event, and the request fails (``RECORDING_START_FAILED``): never a
silent gap.

Who may: the agent on the call (the actor's ``agent_id`` is the call's agent), a
supervisor or an admin, or a holder of the API token (``service``). The rules are in
:func:`check_allowed`; the HTTP layer only maps its principals to an
:class:`~acd.domain.actor.Actor` and the error ids to statuses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import structlog

from acd.adapters.ami import actions
from acd.adapters.ami.client import AmiError
from acd.domain.actor import Actor
from acd.domain.calls import CallRecord, CallState
from acd.domain.clock import JST
from acd.domain.problems import Refused
from acd.recordings.models import SEGMENT_SUFFIX, LogEvent, Segment

log = structlog.get_logger(__name__)

Action = Literal["start", "stop"]


class RecordingControlError(Refused):
    """A start/stop of on-demand recording that cannot be done."""


class _Ami(Protocol):
    async def action(self, action: dict[str, str], as_list: bool = False) -> Any: ...


class _Calls(Protocol):
    @property
    def active(self) -> Any: ...


class _Store(Protocol):
    def submit_segments(self, record: CallRecord, segments: list[Segment]) -> Any: ...


def check_allowed(call: CallState, policy: str | None, actor: Actor) -> None:
    """Raise :class:`RecordingControlError` unless ``actor`` may start/stop recording
    ``call`` on a line of ``policy``."""
    if policy != "on_demand":
        raise RecordingControlError(
            "RECORDING_NOT_ON_DEMAND",
            f"line {call.line} is recorded {policy or 'by no known policy'}: recording is "
            "started and stopped by request only on lines with 'recording: on_demand'",
            {"line": call.line, "policy": policy})
    if actor.role in ("supervisor", "admin", "service"):
        pass
    elif actor.role == "agent":
        if actor.agent_id is None or actor.agent_id != call.agent:
            raise RecordingControlError("NOT_YOUR_CALL",
                                        "an agent may record only the call they are on",
                                        {"agent": actor.agent_id})
    else:
        raise RecordingControlError("FORBIDDEN", "this needs the role agent (on the "
                                    "call), supervisor or admin", {"role": actor.role})
    if call.answered_at is None:
        raise RecordingControlError("CALL_NOT_CONNECTED",
                                    "the caller has not reached an operator yet")


def segment_path(recordings_dir: Path, uniqueid: str, number: int, at: float) -> Path:
    day = datetime.fromtimestamp(at, JST).strftime("%Y/%m/%d")
    return recordings_dir / day / f"{uniqueid}{SEGMENT_SUFFIX}{number}.wav"


@dataclass
class _CallSegments:
    segments: list[Segment] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def running(self) -> Segment | None:
        return next((s for s in self.segments if s.stopped_at is None), None)


class OnDemandRecorder:
    """Starts and stops MixMonitor on calls of on-demand lines; seals the segments when
    the call ends (:meth:`call_ended`, called by the controller with the call record).

    ``calls`` gives the controller's open calls (``.active``: uniqueid -> CallState),
    ``policy_of`` a line's recording policy (from the loaded flows), ``log_event``
    appends to the call event log.
    """

    def __init__(self, ami: _Ami, calls: Callable[[], _Calls], store: _Store | None,
                 recordings_dir: Path, policy_of: Callable[[str], str | None],
                 log_event: LogEvent, clock: Callable[[], float] = time.time) -> None:
        self._ami = ami
        self._calls = calls
        self._store = store
        self._dir = recordings_dir
        self._policy_of = policy_of
        self._log_event = log_event
        self._clock = clock
        self._by_call: dict[str, _CallSegments] = {}

    def segments(self, uniqueid: str) -> list[Segment]:
        found = self._by_call.get(uniqueid)
        return list(found.segments) if found else []

    def _open_call(self, uniqueid: str) -> CallState:
        call = self._calls().active.get(uniqueid)
        if call is None:
            raise RecordingControlError("CALL_UNKNOWN", f"no call {uniqueid} in progress")
        return call

    async def control(self, uniqueid: str, action: Action, actor: Actor) -> dict[str, Any]:
        """Start or stop; the call's segments as the API shows them."""
        call = self._open_call(uniqueid)
        check_allowed(call, self._policy_of(call.line), actor)
        state = self._by_call.setdefault(uniqueid, _CallSegments())
        async with state.lock:
            self._open_call(uniqueid)  # it may have ended while we waited
            if action == "start":
                await self._start(call, state, actor)
            else:
                await self._stop(call, state, actor)
        return {"uniqueid": uniqueid, "line": call.line,
                "recording": state.running is not None,
                "segments": [s.public(uniqueid) for s in state.segments]}

    async def _channel(self, uniqueid: str) -> str:
        listed = await self._ami.action(actions.core_show_channels(), as_list=True)
        for message in listed:
            if message.get("Event") == "CoreShowChannel" and message.get("Uniqueid") == uniqueid:
                return message["Channel"]
        raise RecordingControlError("CALL_ENDED", f"call {uniqueid} has no channel any "
                                    "more (the caller hung up)")

    async def _start(self, call: CallState, state: _CallSegments, actor: Actor) -> None:
        if state.running is not None:
            raise RecordingControlError("RECORDING_ALREADY_STARTED",
                                        "this call is being recorded already",
                                        state.running.public(call.uniqueid))
        number = len(state.segments) + 1
        now = self._clock()
        path = segment_path(self._dir, call.uniqueid, number, now)
        try:
            channel = await self._channel(call.uniqueid)
            response = await self._ami.action(actions.mix_monitor(channel, str(path), "b"))
        except (AmiError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.error("recording.failed", alarm=True, uniqueid=call.uniqueid, segment=number,
                      path=str(path), error=error, by=actor.user)
            await self._log_event("RecordingFailed", self._clock(), call.uniqueid, {
                "line": call.line, "segment": number, "file": str(path), "stage": "start",
                "error": error[:500], "by": actor.user, "role": actor.role})
            raise RecordingControlError("RECORDING_START_FAILED",
                                        f"Asterisk did not start recording: {exc}") from None
        mixmonitor_id = response.get("MixMonitorID") if hasattr(response, "get") else None
        segment = Segment(number, str(path), now, actor.user, mixmonitor_id or None)
        state.segments.append(segment)
        await self._log_event("RecordingStarted", now, call.uniqueid, {
            "line": call.line, "segment": number, "file": str(path), "by": actor.user,
            "role": actor.role, "agent": call.agent})
        log.info("recording.started", uniqueid=call.uniqueid, segment=number, by=actor.user,
                 role=actor.role)

    async def _stop(self, call: CallState, state: _CallSegments, actor: Actor) -> None:
        running = state.running
        if running is None:
            raise RecordingControlError("RECORDING_NOT_STARTED",
                                        "this call is not being recorded")
        action = actions.stop_mix_monitor(await self._channel(call.uniqueid),
                                          running.mixmonitor_id)
        try:
            await self._ami.action(action)
        except (AmiError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.error("recording.stop_failed", alarm=True, uniqueid=call.uniqueid,
                      segment=running.number, error=error, by=actor.user)
            await self._log_event("RecordingFailed", self._clock(), call.uniqueid, {
                "line": call.line, "segment": running.number, "file": running.path,
                "stage": "stop", "error": error[:500], "by": actor.user,
                "role": actor.role})
            raise RecordingControlError("RECORDING_STOP_FAILED",
                                        f"Asterisk did not stop recording: {exc}") from None
        await self._close(call.uniqueid, state, running, self._clock(), actor.user,
                          actor.role)

    async def _close(self, uniqueid: str, state: _CallSegments, segment: Segment, at: float,
                     by: str, role: str) -> None:
        closed = replace(segment, stopped_at=at, stopped_by=by)
        state.segments[state.segments.index(segment)] = closed
        await self._log_event("RecordingStopped", at, uniqueid, {
            "segment": segment.number, "file": segment.path, "by": by, "role": role,
            "seconds": round(at - segment.started_at, 3)})
        log.info("recording.stopped", uniqueid=uniqueid, segment=segment.number, by=by)

    async def call_ended(self, record: CallRecord) -> None:
        """The call is over: close a running segment (the hangup stopped MixMonitor) and
        hand the segments to the store to be sealed in the background."""
        state = self._by_call.pop(record.uniqueid, None)
        if state is None or not state.segments:
            return
        async with state.lock:
            running = state.running
            if running is not None:
                await self._close(record.uniqueid, state, running,
                                  max(record.ended_at, running.started_at), "hangup", "system")
        if self._store is not None:
            self._store.submit_segments(record, list(state.segments))
