"""Live updates over a WebSocket (``/ws``): the agent's state and screen-pop, the
supervisors' wallboard, pushed as they happen (no reload, no polling).

The hub listens to the event log (``EventLog.subscribe``: every event once it is in
the event log); the listener only enqueues, and one task of the gateway turns events into
messages:

- ``AgentRinging`` -> the screen-pop (``{"type": "pop"}``) to that agent's sockets, at
  once; it stays the agent's pending pop until their disposition for the call is
  recorded (``{"type": "disposed"}``), or the offer is withdrawn before an answer.
- ``AgentStateChanged`` -> ``{"type": "state"}`` to the agent; the wallboard is due.
- call events -> the wallboard is due; a second task sends it to supervisors at most
  every ``WALLBOARD_MIN_INTERVAL`` seconds, and every ``WALLBOARD_REFRESH`` seconds anyway.

A socket is authenticated by the session cookie (the handshake is a GET; its Origin must
be this host); it is closed when the session ends. An agent's socket gets only that
agent's messages: no other agent's calls ever reach it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import structlog
from aiohttp import WSMsgType, web

from agent_gateway.consoles.data import ConsoleData, state_json
from agent_gateway.http import ApiError

if TYPE_CHECKING:
    from acd.adapters.db.access_log import AccessLog
    from acd.adapters.db.sessions import Session, SessionStore

log = structlog.get_logger(__name__)

WALLBOARD_MIN_INTERVAL = 0.5
WALLBOARD_REFRESH = 10.0
#: How soon after a call event the wallboard is computed (its record is written just
#: after the event that ends the call).
WALLBOARD_SETTLE = 0.2
SESSION_CHECK_SECONDS = 30.0
CALL_EVENTS = frozenset({
    "LineEntered", "QueueJoined", "AgentRinging", "AgentRingNoAnswer", "AgentAnswered",
    "AgentCallEnded", "CallerAbandoned", "QueueLeft", "Overflowed", "VoicemailLeft",
    "ChannelHungUp", "ChannelsSnapshot", "CongestionMessage"})


class _Client:
    def __init__(self, ws: web.WebSocketResponse, user: str, role: str,
                 agent_id: str | None, remote: str) -> None:
        self.ws, self.user, self.role, self.agent_id, self.remote = \
            ws, user, role, agent_id, remote


class LiveHub:
    def __init__(self, data: ConsoleData, access: AccessLog) -> None:
        self.data = data
        self.access = access
        self._events: asyncio.Queue = asyncio.Queue()
        self._clients: set[_Client] = set()
        #: The pop an agent has to dispose of (or that rings now), by agent id.
        self.pops: dict[str, dict[str, Any]] = {}
        self._wallboard_due = asyncio.Event()

    # ------------------------------------------------------------ controller side

    def listener(self, kind: str, at: float, uniqueid: str | None,
                 payload: dict[str, Any]) -> None:
        """Told of every logged event by the controller; must not block."""
        self._events.put_nowait((kind, at, uniqueid, payload))

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._consume(), name="live-events")
            tasks.create_task(self._wallboard_loop(), name="live-wallboard")

    async def _consume(self) -> None:
        while True:
            kind, at, uniqueid, payload = await self._events.get()
            try:
                await self._handle(kind, at, uniqueid, payload)
            except Exception:  # one bad event must not stop the pushes
                log.exception("live.event_failed", kind=kind, uniqueid=uniqueid)

    async def _handle(self, kind: str, at: float, uniqueid: str | None,
                      payload: dict[str, Any]) -> None:
        agent = payload.get("agent")
        if kind == "AgentRinging" and agent and uniqueid:
            pop = await self.data.pop(uniqueid, agent, rung_at=at)
            if pop is not None:
                self.pops[agent] = pop
                await self._send_pop(agent, pop)
        elif kind == "AgentAnswered" and agent and uniqueid:
            pop = self.pops.get(agent)
            if pop and pop["uniqueid"] == uniqueid:
                pop["answered"] = True
            await self.send_agent(agent, {"type": "answered", "uniqueid": uniqueid})
        elif kind == "AgentStateChanged" and agent:
            state = self.data.controller.agents.by_id.get(agent)
            pop = self.pops.get(agent)
            if pop and not pop["answered"] and payload["status"] in (
                    "ready", "missed", "away", "logged_out"):
                self.pops.pop(agent, None)  # the offer went away before an answer
            if state is not None:
                await self.send_agent(agent, {"type": "state", "state": state_json(state),
                                              "pending": self.pops.get(agent)})
            self._wallboard_due.set()
        elif kind == "DispositionRecorded" and agent:
            pop = self.pops.get(agent)
            if pop and pop["uniqueid"] == uniqueid:
                del self.pops[agent]
            await self.send_agent(agent, {"type": "disposed", "uniqueid": uniqueid})
            self._wallboard_due.set()
        if kind in CALL_EVENTS:
            self._wallboard_due.set()

    async def _send_pop(self, agent: str, pop: dict[str, Any]) -> None:
        viewers = [c for c in self._clients if c.agent_id == agent]
        await self.send_agent(agent, {"type": "pop", "pop": pop})
        for client in viewers:
            await self.access.personal_data(
                client.user, remote=client.remote, subject="screen_pop",
                detail=f"{pop['uniqueid']} caller {pop['caller']} "
                       f"({len(pop['history'])} previous contacts)")

    async def _wallboard_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wallboard_due.wait(), WALLBOARD_REFRESH)
            await asyncio.sleep(WALLBOARD_SETTLE)
            self._wallboard_due.clear()
            if not any(c.role in ("supervisor", "admin") for c in self._clients):
                continue
            try:
                board = await self.data.wallboard()
            except Exception:
                log.exception("live.wallboard_failed")
                continue
            await self.send_supervisors({"type": "wallboard", "wallboard": board})
            await asyncio.sleep(WALLBOARD_MIN_INTERVAL)

    # ------------------------------------------------------------ sockets

    async def send_agent(self, agent: str, message: dict[str, Any]) -> None:
        await self._send([c for c in self._clients if c.agent_id == agent], message)

    async def send_supervisors(self, message: dict[str, Any]) -> None:
        await self._send([c for c in self._clients if c.role in ("supervisor", "admin")],
                         message)

    async def _send(self, clients: list[_Client], message: dict[str, Any]) -> None:
        message = {**message, "server_time": time.time()}
        for client in clients:
            try:
                await client.ws.send_json(message)
            except (ConnectionError, RuntimeError):
                self._clients.discard(client)

    async def pending(self, agent: str) -> dict[str, Any] | None:
        """The pop the agent has to dispose of; rebuilt from the agent's state when this
        gateway has not seen the call ring (it was restarted meanwhile)."""
        pop = self.pops.get(agent)
        state = self.data.controller.agents.by_id.get(agent)
        if pop is None and state is not None and state.call and state.status.value in (
                "ringing", "on_call", "wrapup"):
            pop = await self.data.pop(state.call, agent)
            if pop is not None:
                pop["answered"] = state.status.value != "ringing"
                self.pops[agent] = pop
        return pop

    async def hello(self, client: _Client) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "hello", "role": client.role}
        if client.agent_id:
            state = self.data.controller.agents.by_id.get(client.agent_id)
            message["state"] = state_json(state) if state else None
            message["pending"] = await self.pending(client.agent_id)
        if client.role in ("supervisor", "admin"):
            message["wallboard"] = await self.data.wallboard()
        return message

    async def serve(self, request: web.Request, session: Session | None,
                    sessions: SessionStore) -> web.WebSocketResponse:
        """The socket of a console ``session`` (None: the request has none: 401)."""
        if session is None:
            raise ApiError(401, "UNAUTHENTICATED", "the live updates need a console session")
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            raise ApiError(403, "BAD_ORIGIN", "the socket must come from this site's pages")
        ws = web.WebSocketResponse(heartbeat=20.0)
        await ws.prepare(request)
        user = session.user
        client = _Client(ws, user.id, user.role, user.agent_id, request.remote or "")
        self._clients.add(client)
        try:
            hello = await self.hello(client)
            await self._send([client], hello)
            if hello.get("pending"):
                await self.access.personal_data(
                    user.id, remote=client.remote, subject="screen_pop",
                    detail=f"{hello['pending']['uniqueid']} (page opened)")
            while True:
                try:
                    msg = await ws.receive(timeout=SESSION_CHECK_SECONDS)
                except TimeoutError:
                    if not await sessions.alive(session.token_hash):
                        await ws.close(code=4401, message=b"session ended")
                        break
                    continue
                if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                                WSMsgType.ERROR):
                    break
                # clients only listen; anything they send is ignored
        finally:
            self._clients.discard(client)
        return ws
