"""Operators' and supervisors' call controls, carried out on Asterisk over AMI.

What each control does in Asterisk (Asterisk 22, checked on the running stack):

* **Blind transfer** -- AMI ``BlindTransfer`` on the agent's channel: the caller leaves the
  queue's bridge for ``mdg-transfer,<number>`` (extensions compiled from the allow-list),
  which dials the number through the carrier trunk (or a roster endpoint directly). The
  agent's leg ends, app_queue reports ``AgentComplete`` (reason ``transfer``) and the agent
  goes to wrap-up as after any call. The caller's channel -- and so its uniqueid and its
  MixMonitor -- goes on: the recording continues into the transferred conversation.
* **Attended transfer** -- AMI ``Atxfer`` on the agent's channel: the caller hears music
  on hold while Asterisk dials ``<number>@mdg-transfer`` (the allow-list's context) and
  the agent talks with the target in a consultation bridge. Asterisk completes an
  attended transfer when the transferring party hangs up; an operator on a softphone
  driven by the console has no key for that, so ``complete_transfer`` (``POST
  .../transfer/complete``) does it: once the target has answered (the agent's channel
  is bridged with it, away from the caller), the controller hangs up the agent's
  channel and Asterisk joins the caller and the target. app_queue then reports the
  agent's call ended (``AgentComplete``, reason ``transfer``), the agent goes to
  wrap-up, and the caller's channel and MixMonitor go on, as after a blind transfer.
* **Three-way call** (an interpreter) -- AMI ``Originate`` of ``Local/<number>@mdg-transfer``
  whose other half runs ``BridgeAdd(<caller's channel>)``: the third party joins the very
  bridge of the caller and the agent (it becomes a mixing bridge, three voices; the
  caller's MixMonitor records the mix). Dropping it hangs up the third party's channel;
  the caller and the agent stay bridged.
* **Hold** -- the agent's and the caller's audio are muted both ways (AMI ``MuteAudio``)
  and ``Local/s@mdg-hold-music`` whispers music on hold into the caller's channel with
  ``ChanSpy(<caller>,qwE)``; the queue's bridge is left alone, so app_queue and the agent's
  state do not see a hold as the end of the call. Off: unmute, hang up the music.
* **Listen / whisper / barge** -- AMI ``Originate`` of the supervisor's endpoint into
  ``ChanSpy(<agent's channel>,q[w|B]E)``: listen hears both sides, whisper speaks to the
  agent only, barge to both. The supervisor ends it by hanging up (or it ends with the
  call).

Every request, carried out or refused, is appended to the event log (``CallControl``,
``CallControlRefused``) with who asked, the call and the target.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from acd.adapters.ami import actions
from acd.adapters.ami.client import AmiClient, AmiError
from acd.adapters.asterisk.trunks import OUTGOING_TRUNK_VARIABLE
from acd.domain.actor import Actor
from acd.domain.policies import TransferPolicy, TransferRefused
from acd.domain.problems import Refused

log = structlog.get_logger(__name__)

TransferMode = Literal["blind", "attended"]
MonitorMode = Literal["listen", "whisper", "barge"]
#: ChanSpy options by monitor mode: q quiet (no beep, no name), E end with the spied
#: channel, w whisper to the agent, B barge (speak to both).
CHANSPY_OPTIONS: dict[str, str] = {"listen": "qE", "whisper": "qwE", "barge": "qBE"}
TRANSFER_CONTEXT = "mdg-transfer"
HOLD_MUSIC = "Local/s@mdg-hold-music/n"
ORIGINATE_SECONDS = 30


class CallControlError(Refused):
    """A control that cannot be carried out."""


@dataclass(frozen=True)
class CallChannels:
    """The live channels of one call, as Asterisk has them now."""

    uniqueid: str
    caller: str
    bridge: str | None
    agent: str | None  # the agent's channel in the caller's bridge
    others: tuple[str, ...]  # other channels in that bridge (a third party)
    spies: tuple[tuple[str, str], ...] = ()  # (channel, ChanSpy data) listening in or on hold

    def as_json(self) -> dict[str, Any]:
        return {"uniqueid": self.uniqueid, "caller": self.caller, "bridge": self.bridge,
                "agent": self.agent, "others": list(self.others),
                "spies": [{"channel": c, "spying": d} for c, d in self.spies]}


def parse_channels(uniqueid: str, agent: str | None, rows: list[dict[str, str]]
                   ) -> CallChannels | None:
    """Find the call's channels among CoreShowChannel rows (None: the caller is gone)."""
    caller = next((r for r in rows if r.get("Uniqueid") == uniqueid), None)
    if caller is None:
        return None
    bridge = caller.get("BridgeId") or None
    peers = [r["Channel"] for r in rows
             if bridge and r.get("BridgeId") == bridge and r.get("Uniqueid") != uniqueid]
    prefix = f"PJSIP/{agent}-" if agent else None
    agent_channel = next((c for c in peers if prefix and c.startswith(prefix)), None)
    spied = {caller["Channel"], agent_channel}
    spies = tuple((r["Channel"], r.get("ApplicationData", "")) for r in rows
                  if r.get("Application") == "ChanSpy"
                  and r.get("ApplicationData", "").split(",")[0] in spied)
    return CallChannels(uniqueid, caller["Channel"], bridge, agent_channel,
                        tuple(c for c in peers if c != agent_channel), spies)


class CallControls:
    """Carries out the controls; ``policy`` gives the allow-list in force now and
    ``log_event(kind, at, uniqueid, payload)`` appends to the event log."""

    def __init__(self, ami: AmiClient, calls: Callable[[], Any],
                 policy: Callable[[], TransferPolicy],
                 log_event: Callable[[str, float, str | None, dict[str, Any]], Any],
                 endpoints: Callable[[], set[str]],
                 presented: Callable[[str], str] = lambda line: line,
                 trunk: Callable[[str], str] = lambda line: "") -> None:
        self._ami = ami
        self._calls = calls  # () -> the controller's Calls (uniqueid -> CallState)
        self._policy = policy
        self._log_event = log_event
        self._endpoints = endpoints  # () -> roster ids (PJSIP endpoints)
        self._presented = presented  # line -> the number its outgoing calls present
        self._trunk = trunk  # line -> the trunk its outgoing calls leave by ("": first)
        self._held: dict[str, str] = {}  # caller uniqueid -> the hold music channel
        self._attended: dict[str, str] = {}  # caller uniqueid -> agent channel consulting

    # ------------------------------------------------------------ look-ups

    def _call(self, uniqueid: str, who: Actor):
        call = self._calls().active.get(uniqueid)
        if call is None:
            raise CallControlError("CALL_UNKNOWN", f"no call {uniqueid} in progress")
        if who.role == "agent" and call.agent != who.agent_id:
            raise CallControlError("NOT_YOUR_CALL", "an operator may control only "
                                   "their own call", {"uniqueid": uniqueid})
        if call.answered_at is None or call.talk_ended_at is not None:
            raise CallControlError("CALL_NOT_CONNECTED", "the call is not connected to "
                                   "an operator", {"uniqueid": uniqueid})
        return call

    async def channels(self, uniqueid: str, agent: str | None) -> CallChannels:
        rows = await self._action(actions.core_show_channels(), as_list=True)
        found = parse_channels(uniqueid, agent, [r for r in rows
                                                 if r.get("Event") == "CoreShowChannel"])
        if found is None:
            raise CallControlError("CALL_UNKNOWN", f"the call {uniqueid} has ended")
        return found

    async def show(self, uniqueid: str, who: Actor) -> dict[str, Any]:
        """The call's channels now: caller, agent, third parties, listeners."""
        call = self._call(uniqueid, who)
        return (await self.channels(uniqueid, call.agent)).as_json()

    async def _connected(self, uniqueid: str, who: Actor) -> tuple[Any, CallChannels, str]:
        """The call, its channels and the operator's channel in it."""
        call = self._call(uniqueid, who)
        found = await self.channels(uniqueid, call.agent)
        if found.agent is None:
            raise CallControlError("CALL_NOT_CONNECTED", "the operator's channel is not "
                                   "in the call", {"uniqueid": uniqueid})
        return call, found, found.agent

    def _number(self, uniqueid: str, target: str, who: Actor, action: str) -> str:
        try:
            return self._policy().resolve(target)
        except TransferRefused as exc:
            raise CallControlError("TRANSFER_NOT_ALLOWED",
                                   f"{target!r} is not an allowed transfer target: {exc.why}",
                                   {"target": target, "action": action}) from None

    async def _action(self, action: dict[str, str], as_list: bool = False):
        try:
            return await self._ami.action(action, as_list=as_list)
        except (TimeoutError, AmiError) as exc:
            raise CallControlError("ASTERISK_REFUSED", f"Asterisk did not carry out "
                                   f"{actions.name(action)}: {exc}") from None

    async def _hang_up(self, channel: str) -> None:
        """Hang up ``channel``; one already gone (e.g. the other half of a Local pair that
        went with its partner) is what was wanted."""
        try:
            await self._action(actions.hangup(channel))
        except CallControlError as exc:
            if "No such channel" not in exc.message:
                raise

    async def _logged(self, kind: str, uniqueid: str, who: Actor, payload: dict[str, Any]
                      ) -> None:
        entry = {"by": who.user, "role": who.role, **payload}
        await self._log_event(kind, time.time(), uniqueid, entry)
        log.info("call_control." + kind, uniqueid=uniqueid, **entry)

    async def _run(self, uniqueid: str, who: Actor, action: str, payload: dict[str, Any],
                   work) -> dict[str, Any]:
        """Carry out ``work`` and log it; a refusal or a failure is logged too."""
        try:
            result = await work()
        except CallControlError as exc:
            await self._logged("CallControlRefused", uniqueid, who, {
                "action": action, **payload, "error_id": exc.error_id, "message": exc.message})
            raise
        await self._logged("CallControl", uniqueid, who, {"action": action, **payload,
                                                          **result})
        return {"uniqueid": uniqueid, "action": action, **payload, **result}

    # ------------------------------------------------------------ controls

    async def transfer(self, uniqueid: str, target: str, mode: TransferMode, who: Actor
                       ) -> dict[str, Any]:
        async def work() -> dict[str, Any]:
            number = self._number(uniqueid, target, who, "transfer")
            _call, _found, agent = await self._connected(uniqueid, who)
            if mode == "blind":
                await self._action(actions.blind_transfer(agent, TRANSFER_CONTEXT, number))
            else:
                await self._action(actions.atxfer(agent, TRANSFER_CONTEXT, number))
                self._attended[uniqueid] = agent
            return {"number": number, "agent_channel": agent}
        return await self._run(uniqueid, who, "transfer", {"target": target, "mode": mode},
                               work)

    async def complete_transfer(self, uniqueid: str, who: Actor) -> dict[str, Any]:
        """Complete an attended transfer whose target has answered: hang up the agent's
        channel (Asterisk then connects the caller and the target)."""
        async def work() -> dict[str, Any]:
            self._call(uniqueid, who)
            agent_channel = self._attended.get(uniqueid)
            if agent_channel is None:
                raise CallControlError("NO_ATTENDED_TRANSFER", "no attended transfer "
                                       "is in progress on this call")
            rows = [r for r in await self._action(actions.core_show_channels(), as_list=True)
                    if r.get("Event") == "CoreShowChannel"]
            caller = next((r for r in rows if r.get("Uniqueid") == uniqueid), None)
            agent = next((r for r in rows if r.get("Channel") == agent_channel), None)
            if caller is None or agent is None:
                self._attended.pop(uniqueid, None)
                raise CallControlError("TRANSFER_ENDED", "the caller or the operator "
                                       "has already hung up")
            bridge = agent.get("BridgeId") or None
            if bridge is None or bridge == (caller.get("BridgeId") or None):
                raise CallControlError("TRANSFER_NOT_ANSWERED",
                                       "the transfer target has not answered yet")
            target = [r["Channel"] for r in rows
                      if r.get("BridgeId") == bridge and r["Channel"] != agent_channel]
            await self._hang_up(agent_channel)
            self._attended.pop(uniqueid, None)
            return {"agent_channel": agent_channel, "target_channels": target}
        return await self._run(uniqueid, who, "transfer_complete", {}, work)

    async def add_party(self, uniqueid: str, target: str, who: Actor) -> dict[str, Any]:
        async def work() -> dict[str, Any]:
            number = self._number(uniqueid, target, who, "conference")
            call, found, _agent = await self._connected(uniqueid, who)
            await self._action(actions.originate(
                f"Local/{number}@{TRANSFER_CONTEXT}", "BridgeAdd", found.caller,
                timeout_seconds=ORIGINATE_SECONDS,
                variables={"_MDG_PURPOSE": "conference", "_MDG_CALL": uniqueid,
                           "_MDG_PRESENTED": self._presented(call.line),
                           f"_{OUTGOING_TRUNK_VARIABLE}": self._trunk(call.line)}))
            return {"number": number}
        return await self._run(uniqueid, who, "conference", {"target": target}, work)

    async def drop_party(self, uniqueid: str, who: Actor) -> dict[str, Any]:
        async def work() -> dict[str, Any]:
            _call, found, _agent = await self._connected(uniqueid, who)
            if not found.others:
                raise CallControlError("NO_THIRD_PARTY", "nobody else is in the call")
            for channel in found.others:
                await self._hang_up(channel)
            return {"dropped": list(found.others)}
        return await self._run(uniqueid, who, "conference_drop", {}, work)

    async def hold(self, uniqueid: str, on: bool, who: Actor) -> dict[str, Any]:
        async def work() -> dict[str, Any]:
            _call, found, agent = await self._connected(uniqueid, who)
            held = uniqueid in self._held
            if on == held:
                raise CallControlError("HOLD_UNCHANGED",
                                       "the call is already " + ("on hold" if on else "off hold"))
            for channel in (agent, found.caller):
                await self._action(actions.mute_audio(channel, "in", on))
            if on:
                await self._action(actions.originate(
                    HOLD_MUSIC, "ChanSpy", f"{found.caller},qwE",
                    variables={"_MDG_PURPOSE": "hold", "_MDG_CALL": uniqueid}))
                self._held[uniqueid] = found.caller
            else:
                self._held.pop(uniqueid, None)
                music = await self._hold_music(found.caller)
                for channel in music:
                    await self._hang_up(channel)
            return {"on": on}
        return await self._run(uniqueid, who, "hold", {"on": on}, work)

    async def _hold_music(self, caller: str) -> list[str]:
        rows = await self._action(actions.core_show_channels(), as_list=True)
        spies = [r for r in rows if r.get("Event") == "CoreShowChannel"
                 and r.get("Application") == "ChanSpy"
                 and r.get("Channel", "").startswith("Local/s@mdg-hold-music-")
                 and r.get("ApplicationData", "").startswith(caller + ",")]
        # both halves: the music (;2) and the whisper (;1)
        return [r["Channel"].removesuffix(";1") + half for r in spies for half in (";2", ";1")]

    async def monitor(self, uniqueid: str, mode: MonitorMode, extension: str, who: Actor
                      ) -> dict[str, Any]:
        async def work() -> dict[str, Any]:
            call, _found, agent = await self._connected(uniqueid, who)
            if extension not in self._endpoints():
                raise CallControlError("EXTENSION_UNKNOWN", f"{extension!r} is not a "
                                       "phone of the roster", {"extension": extension})
            if extension == call.agent:
                raise CallControlError("EXTENSION_IS_AGENT",
                                       "the supervisor's phone cannot be the operator's")
            await self._action(actions.originate(
                actions.agent_interface(extension), "ChanSpy",
                f"{agent},{CHANSPY_OPTIONS[mode]}",
                caller_id=f"\"{mode}\" <{extension}>", timeout_seconds=ORIGINATE_SECONDS,
                variables={"_MDG_PURPOSE": "monitor", "_MDG_CALL": uniqueid}))
            return {"agent": call.agent, "agent_channel": agent}
        return await self._run(uniqueid, who, "monitor",
                               {"mode": mode, "extension": extension}, work)

    def forget(self, uniqueid: str) -> None:
        self._held.pop(uniqueid, None)
        self._attended.pop(uniqueid, None)
