"""The AMI adapter: one panoramisk connection, kept alive, feeding a queue.

panoramisk 1.4 has pitfalls this wraps:
- ``send_action`` has no timeout: every action here is bounded by ``asyncio.wait_for``.
- On reconnect it re-sends unanswered actions (an Originate could run twice): every
  action is declared forgettable, so nothing is re-sent behind our back.
- It never checks Ping replies, so a half-open connection goes unnoticed: a watchdog
  pings and drops the connection when no reply comes.
- It decodes each TCP chunk alone and drops bytes of a UTF-8 character split between
  chunks (Japanese names!): the protocol here decodes incrementally.
- Callbacks must never block the reader (Asterisk drops a client whose socket stalls):
  the event callback only puts the raw message on a queue.
"""

from __future__ import annotations

import asyncio
import codecs
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import BinaryIO

import structlog
from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol

from acd.adapters.ami import actions

log = structlog.get_logger(__name__)

#: Never re-send any action after a reconnect; the controller resynchronises instead.
_FORGETTABLE = ("ping", "login", "logoff", "command", "coreshowchannels", "queuestatus",
                "queueadd", "queueremove", "queuepause", "originate", "hangup", "redirect",
                "dbput", "dbget", "dbdel", "userevent", "getvar", "setvar", "mixmonitor",
                "stopmixmonitor", "pjsipshowcontacts", "reload")


class _Utf8Protocol(AMIProtocol):
    def connection_made(self, transport):
        super().connection_made(transport)
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def data_received(self, data: bytes) -> None:
        text = self._decoder.decode(data)
        if text:
            super().data_received(text.encode("utf-8"))


@dataclass(frozen=True)
class Connected:
    at: float


@dataclass(frozen=True)
class Disconnected:
    at: float
    reason: str


@dataclass(frozen=True)
class RawEvent:
    message: Mapping[str, str]


AmiItem = Connected | Disconnected | RawEvent


class AmiError(RuntimeError):
    pass


#: The watchdog pings every PING_INTERVAL s and gives up after PING_TIMEOUT s: a frozen
#: Asterisk or a half-open connection is noticed within about 5.5 s.
PING_INTERVAL, PING_TIMEOUT = 3.0, 2.5


class AmiClient:
    """Connects, logs in, and reconnects forever; puts what happens on ``queue``."""

    def __init__(self, host: str, port: int, username: str, secret: str,
                 queue: asyncio.Queue[AmiItem], action_timeout: float = 5.0,
                 ping_interval: float = PING_INTERVAL, capture: BinaryIO | None = None) -> None:
        self._queue = queue
        self._timeout = action_timeout
        self._ping_interval = ping_interval
        self._logged_in = asyncio.Event()
        self._lost = asyncio.Event()  # set while disconnected: pending actions fail at once
        self._lost.set()
        self._manager = Manager(
            host=host, port=port, username=username, secret=secret, events="on",
            loop=asyncio.get_running_loop(), protocol_factory=_Utf8Protocol,
            forgetable_actions=_FORGETTABLE, ping_delay=3600, ping_interval=3600,
            reconnect_timeout=1, on_login=self._on_login, on_disconnect=self._on_disconnect,
            log=_QuietLog(), save_stream=capture)
        self._manager.register_event("*", self._on_event)

    @property
    def connected(self) -> bool:
        return self._logged_in.is_set()

    def _on_login(self, _manager: Manager) -> None:
        self._lost.clear()
        self._logged_in.set()
        self._queue.put_nowait(Connected(time.time()))

    def _on_disconnect(self, _manager: Manager, exc: object) -> None:
        was = self._logged_in.is_set()
        self._logged_in.clear()
        self._lost.set()
        if was:
            self._queue.put_nowait(Disconnected(time.time(), str(exc)[:200]))

    def _on_event(self, _manager: Manager, message) -> None:
        self._queue.put_nowait(RawEvent(dict(message)))

    async def run(self) -> None:
        """Connect and keep the connection healthy until cancelled."""
        self._manager.connect()
        try:
            while True:
                await asyncio.sleep(self._ping_interval)
                if self._logged_in.is_set():
                    await self._check_alive()
        finally:
            self._manager.close()

    async def _check_alive(self) -> None:
        try:
            await self.action(actions.ping(), timeout=PING_TIMEOUT)
        except (TimeoutError, AmiError) as exc:
            log.warning("ami.ping_failed", error=str(exc))
            protocol = self._manager.protocol
            if protocol is not None:
                protocol.connection_lost(exc)  # triggers panoramisk's reconnect

    async def wait_connected(self, timeout: float) -> None:
        await asyncio.wait_for(self._logged_in.wait(), timeout)

    async def action(self, action: dict[str, str], as_list: bool = False,
                     timeout: float | None = None):
        """Send an action and wait (bounded) for its response; a list of messages when
        ``as_list`` (actions answered by an event list), else the one response. Always
        say which: panoramisk guesses from the message text, and guesses QueueAdd
        ("Added interface to queue") wrong, waiting for a list that never comes.
        ``timeout``: this action's bound (default: the client's action timeout)."""
        timeout = self._timeout if timeout is None else timeout
        if not self._logged_in.is_set():
            raise AmiError(f"AMI not connected ({actions.name(action)})")
        future = self._manager.send_action(dict(action), as_list=as_list)
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            await asyncio.wait({future, lost}, timeout=timeout,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
        if not future.done():
            future.cancel()
            why = "the connection was lost" if self._lost.is_set() else \
                f"no answer in {timeout} s"
            raise AmiError(f"AMI action {actions.name(action)}: {why}")
        response = future.result()
        first = response[0] if isinstance(response, list) else response
        if first.get("Response") == "Error":
            raise AmiError(f"AMI action {actions.name(action)} failed: {first.get('Message')}")
        return response

    async def queue_members(self) -> frozenset[tuple[str, str, bool]]:
        """(queue, agent id, paused) of every queue member Asterisk has now."""
        response = await self.action(actions.queue_status(), as_list=True)
        return frozenset((m["Queue"], m["StateInterface"].rsplit("/", 1)[-1], m["Paused"] == "1")
                         for m in response if m.get("Event") == "QueueMember")

    async def live_uniqueids(self) -> frozenset[str]:
        response = await self.action(actions.core_show_channels(), as_list=True)
        return frozenset(m["Uniqueid"] for m in response
                         if m.get("Event") == "CoreShowChannel" and "Uniqueid" in m)


class _QuietLog:
    """panoramisk logs every reconnect attempt as an error; route it to structlog debug."""

    def __getattr__(self, name: str):
        def emit(message, *args, **_kw):
            text = message % args if args else str(message)
            if name in ("warning", "error", "exception"):
                log.info("ami.panoramisk", detail=text[:200])
        return emit
