"""A gateway without Asterisk for the consoles' security tests: the real create_app, a
real database (migrated), a real Controller whose AMI never connects (its member actions
fail and are logged, as when Asterisk is away), fed typed events directly."""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path
from typing import Self

import aiohttp
from aiohttp import web

from acd.adapters.ami.client import AmiClient
from acd.adapters.db.engine import Database, make_engine
from acd.adapters.db.migrate import upgrade
from acd.adapters.db.roster import Roster
from acd.adapters.db.users import UserStore
from acd.auth.policy import AuthPolicy
from acd.domain.agents import AgentProfile, Agents, Membership, QueuePolicy
from acd.domain.events import (
    AgentAnswered,
    AgentCallEnded,
    AgentRinging,
    LineEntered,
    QueueJoined,
)
from acd.ivr.loader import load_site
from acd.runtime import Controller
from acd.stack import gateway_services
from agent_gateway.app import create_app

FLOWS = Path(__file__).resolve().parent.parent / "fixtures" / "console_flows"
TOKEN = "test-api-token"
PASSWORD = "kousoku-tsuushin-2026"  # strong enough: 21 characters, not common
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_CONFIG = re.compile(r'"csrf": "([^"]+)"')


class Gateway:
    def __init__(self, url: str, state_dir: Path, policy: AuthPolicy | None = None) -> None:
        self.url = url
        self.state_dir = state_dir
        self.policy = policy or AuthPolicy()
        self.site = load_site(FLOWS)
        self.reports_dir = state_dir / "reports"  # where the scheduled reports are written

    async def __aenter__(self) -> Self:
        await upgrade(self.url)
        self.engine = make_engine(self.url)
        queue: asyncio.Queue = asyncio.Queue()
        ami = AmiClient("127.0.0.1", 9, "none", "none", queue)
        agents = Agents(policies={"console": QueuePolicy("console", 120, 60)}).with_roster([
            AgentProfile(a, f"オペレーター{a}", (Membership("console"),))
            for a in ("1001", "1002")])
        self.db = Database(self.engine, self.state_dir / "spool")
        self.controller = Controller(ami, queue, self.db, agents)
        self.roster = Roster(self.engine)

        async def nothing() -> None:
            return None

        self.services = gateway_services(self.engine, self.db, self.controller, self.roster,
                                         TOKEN, nothing, lambda: self.site, self.policy,
                                         self.reports_dir)
        self.app = create_app(self.services)
        self.runner = web.AppRunner(self.app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        self._controller_task = asyncio.create_task(self.controller.run())
        self.users: UserStore = self.services.users
        return self

    async def __aexit__(self, *exc) -> None:
        self._controller_task.cancel()
        with contextlib.suppress(BaseException):
            await self._controller_task
        await self.runner.cleanup()
        await self.db.flush(timeout=10)  # the writes still queued, before the engine goes
        await self.engine.dispose()

    async def add_user(self, login: str, role: str, agent_id: str | None = None,
                       extension: str | None = None) -> None:
        await self.users.add(login, f"{login}さん", role, PASSWORD, agent_id=agent_id,
                             extension=extension)

    def browser(self) -> Browser:
        return Browser(self.base)

    async def call_to(self, agent: str, uniqueid: str, caller: str, at: float) -> None:
        """A call on the console line, answered by ``agent`` and ended (wrap-up)."""
        c = self.controller
        await c.handle(LineEntered(at, uniqueid, "0570000700", "console", caller, None))
        await c.handle(QueueJoined(at + 0.1, uniqueid, "console", 1))
        await c.handle(AgentRinging(at + 1, uniqueid, "console", agent))
        await c.handle(AgentAnswered(at + 2, uniqueid, "console", agent, 1, 1))

    async def end_call(self, agent: str, uniqueid: str, at: float) -> None:
        await self.controller.handle(AgentCallEnded(at, uniqueid, "console", agent, 5, "agent"))


class Browser:
    """A client with its own cookie jar, as one person's browser."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def close(self) -> None:
        await self.http.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def sign_in(self, login: str, password: str = PASSWORD) -> aiohttp.ClientResponse:
        async with self.http.get(f"{self.base}/login") as resp:
            token = CSRF_FIELD.search(await resp.text()).group(1)
        resp = await self.http.post(f"{self.base}/login", data={
            "login": login, "password": password, "csrf_token": token})
        text = await resp.text()
        found = CSRF_CONFIG.search(text)
        self.csrf = found.group(1) if found else ""
        resp.body_text = text
        return resp

    async def request(self, method: str, path: str, *, csrf: bool = True, **kwargs
                      ) -> tuple[int, object]:
        headers = kwargs.pop("headers", {})
        if csrf:
            headers["X-CSRF-Token"] = self.csrf
        async with self.http.request(method, f"{self.base}{path}", headers=headers,
                                     allow_redirects=False, **kwargs) as resp:
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.text()
