"""Run the real `acd up` (Asterisk + controller + gateway) as a subprocess for tests."""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
import sys
from pathlib import Path

import aiohttp

from tests.conftest import TEST_PORTS, stack_env
from tests.support.sipp import (
    CallerResult,
    SippAgent,
    free_udp_port,
    register_agents,
    run_callers,
)


def ports() -> dict[str, int]:
    return TEST_PORTS


def environment(state_dir: Path, database_url: str, flows: Path) -> dict[str, str]:
    return stack_env(state_dir, database_url, MADOGUCHI_FLOWS_DIR=str(flows))


async def call(did: str, state_dir: Path, name: str) -> CallerResult:
    """One caller who stays until Asterisk hangs up."""
    return await run_callers(did, ports()["sip_port"], 1, 1.0, state_dir / "sipp" / name,
                             max_seconds=90, bye_timeout=60)


class StackFailed(AssertionError):
    pass


class RunningStack:
    def __init__(self, env: dict[str, str], state_dir: Path, gateway_port: int,
                 host: str = "127.0.0.1") -> None:
        self.env = env
        self.state_dir = state_dir
        self.https = env.get("MADOGUCHI_HTTPS") == "true"
        self.gateway = f"{'https' if self.https else 'http'}://{host}:{gateway_port}"
        self.log_path = state_dir / "acd-up.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.returncode: int | None = None

    async def __aenter__(self) -> RunningStack:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "acd.cli.main", "up", env=self.env,
                stdout=log, stderr=asyncio.subprocess.STDOUT)
        try:
            await self.wait_healthy(timeout=90)
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()

    async def health(self) -> dict | None:
        """``/healthz`` when it says healthy (200), else None."""
        return await self._health(healthy_only=True)

    async def health_any(self) -> dict | None:
        """``/healthz`` whatever its status (503 while Asterisk is away)."""
        return await self._health(healthy_only=False)

    def trust(self) -> ssl.SSLContext | None:
        """Over https: a client context that trusts only the stack's local CA."""
        ca = self.state_dir / "tls" / "ca.pem"
        return ssl.create_default_context(cafile=str(ca)) if self.https else None

    async def _health(self, healthy_only: bool) -> dict | None:
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{self.gateway}/healthz", ssl=self.trust(),
                                    timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    if healthy_only and resp.status != 200:
                        return None
                    return await resp.json()
        except (TimeoutError, aiohttp.ClientError, FileNotFoundError):  # no CA yet
            return None

    async def wait_healthy(self, timeout: float) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self.proc.returncode is not None:
                raise StackFailed(f"acd up exited {self.proc.returncode}:\n{self.log_tail()}")
            health = await self.health()
            if health:
                return health
            await asyncio.sleep(0.3)
        raise StackFailed(f"acd up not healthy after {timeout} s:\n{self.log_tail()}")

    async def kill(self) -> None:
        """SIGKILL `acd up` (as a crash would): Asterisk, in its own session, lives on."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    async def stop(self, timeout: float = 30) -> int:
        if self.proc is None:
            return -1
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
                raise StackFailed(f"acd up did not stop in {timeout} s:\n"
                                  f"{self.log_tail()}") from None
        self.returncode = self.proc.returncode
        return self.returncode

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def log_events(self) -> list[dict]:
        events = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                events.append(json.loads(line))
        return events

    def secrets(self) -> dict[str, str]:
        return json.loads((self.state_dir / "secrets.json").read_text())

    async def api(self, method: str, path: str, body: object = None,
                  expect: int | None = 200) -> object:
        """Call the gateway's API with the generated token; check the status."""
        headers = {"Authorization": f"Bearer {self.secrets()['api']}"}
        async with aiohttp.ClientSession() as http:
            async with http.request(method, f"{self.gateway}{path}", json=body,
                                    headers=headers, ssl=self.trust()) as resp:
                data = await resp.json()
                if expect is not None and resp.status != expect:
                    raise StackFailed(f"{method} {path}: {resp.status} {data}")
                return data

    async def add_agents(self, ids: list[str], queues: tuple[str, ...] = ("main",),
                         login: bool = True) -> dict[str, str]:
        """Add agents to the roster (and log them in); their SIP passwords by id."""
        for agent in ids:
            await self.api("POST", "/api/agents",
                           {"id": agent, "name": f"オペレーター{agent}",
                            "queues": [{"queue": q} for q in queues]}, expect=201)
            if login:
                await self.api("POST", f"/api/agents/{agent}/login")
        secrets = self.secrets()
        return {agent: secrets[f"sip:{agent}"] for agent in ids}


async def start_agents(stack: RunningStack, ids: list[str], queue: str, workdir: Path,
                       talk: tuple[float, float]) -> list[SippAgent]:
    """Registered, logged-in SIPp agents talking a random time in ``talk`` per call."""
    passwords = await stack.add_agents(ids, queues=(queue,))
    ports = {agent: free_udp_port() for agent in ids}
    await register_agents(list(passwords.items()), TEST_PORTS["sip_port"], ports, workdir)
    agents = [SippAgent(a, ports[a], workdir, talk_seconds=talk[0], talk_max_seconds=talk[1])
              for a in ids]
    for agent in agents:
        await agent.start()
    return agents
