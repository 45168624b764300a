"""Backup and restore end to end: a recorded call on a real stack, `acd backup` and
`acd backup --keys`, `acd restore` into a new, empty state directory and database, and
`acd up` on it: the roster, the old call's recording (playable: it decrypts with the
restored keys to the very bytes served before) and the agent's SIP password are there,
and the restored centre serves and records a new call.

Ports: the test ports (``MDG_PORT_BASE`` moves them).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from acd.adapters.db.engine import make_engine
from acd.adapters.db.schema import recordings
from tests.conftest import TEST_PORTS, stack_env
from tests.support.sipp import SippAgent, free_udp_port, register_agents, run_callers
from tests.support.stack import RunningStack

pytestmark = pytest.mark.integration

DID = "0570000123"
AGENT = "1001"
TALK_SECONDS = 3.0


def acd(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "acd.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture
async def target(request, database_url: str) -> AsyncIterator[tuple[Path, str]]:
    """A new, empty state directory and database of the same kind as the source's."""
    path = Path(tempfile.mkdtemp(prefix="mdg-r-", dir="/tmp"))
    drop = None
    if database_url.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{path / 'madoguchi.db'}"
    else:
        from tests.support.postgres import fresh_database

        url, drop, _name = await fresh_database(request.getfixturevalue("postgres_admin_url"))
    try:
        yield path, url
    finally:
        if drop is not None:
            await drop()
        if getattr(request.node, "failed_call", False):
            print(f"\nrestored state of the failed test kept in {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


async def one_answered_call(stack: RunningStack, password: str, workdir: Path,
                            caller: str) -> None:
    """Register the agent's phone with ``password``, place one call, check it ended well."""
    port = free_udp_port()
    await register_agents([(AGENT, password)], TEST_PORTS["sip_port"], {AGENT: port}, workdir)
    agent = SippAgent(AGENT, port, workdir, talk_seconds=TALK_SECONDS)
    await agent.start()
    try:
        result = await run_callers(DID, TEST_PORTS["sip_port"], 1, rate=1.0, workdir=workdir,
                                   caller_start=caller, max_seconds=60)
    finally:
        await agent.stop()
    assert (result.successful, result.failed) == (1, 0), result.describe()


async def sealed(stack: RunningStack, count: int, timeout: float = 30) -> list[dict]:
    """The recordings once ``count`` of them are sealed."""
    page: dict = {}
    for _ in range(int(timeout / 0.5)):
        page = await stack.api("GET", "/api/recordings?status=all")
        if page["total"] >= count and all(i["status"] == "sealed" for i in page["items"]):
            return page["items"]
        await asyncio.sleep(0.5)
    raise AssertionError(f"recordings not sealed: {page}\n{stack.log_tail()}")


async def audio(stack: RunningStack, item: dict) -> bytes:
    headers = {"Authorization": f"Bearer {stack.secrets()['api']}",
               "X-Madoguchi-User": "復元 確認"}
    async with aiohttp.ClientSession(base_url=stack.gateway) as http:
        async with http.get(item["audio_url"], headers=headers) as response:
            assert response.status == 200, await response.text()
            return await response.read()


async def sealed_paths(url: str) -> list[Path]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return [Path(p) for p in (await conn.execute(select(recordings.c.sealed_path))
                                      ).scalars()]
    finally:
        await engine.dispose()


async def test_a_restored_centre_has_its_roster_and_recordings_and_serves_calls(
        state_dir: Path, database_url: str, target: tuple[Path, str]):
    gateway_port = TEST_PORTS["gateway_port"]
    source_env = stack_env(state_dir, database_url)
    async with RunningStack(source_env, state_dir, gateway_port) as stack:
        password = (await stack.add_agents([AGENT]))[AGENT]
        await one_answered_call(stack, password, state_dir / "sipp", "0312340000")
        [before] = await sealed(stack, 1)
        plain = await audio(stack, before)
    assert stack.returncode == 0, stack.log_tail()
    assert before["caller"] == "0312340000" and before["agent"] == AGENT
    assert plain.startswith(b"RIFF") and len(plain) > 8000

    backups = state_dir / "backups"
    made = acd(source_env, "backup", str(backups / "data"))
    assert made.returncode == 0, made.stderr
    keys = acd(source_env, "backup", "--keys", str(backups / "keys"))
    assert keys.returncode == 0, keys.stderr
    data_files = {p.relative_to(backups / "data").parts[0]
                  for p in (backups / "data").rglob("*") if p.is_file()}
    assert data_files == {"database", "recordings", "manifest.json"}  # no keys in it
    key_files = [p for p in (backups / "keys").rglob("*") if p.is_file()]
    assert {p.relative_to(backups / "keys").parts[0] for p in key_files} >= {
        "keys", "secrets.json", "manifest.json"}
    assert all(p.stat().st_mode & 0o077 == 0 for p in key_files)

    new_dir, new_url = target
    target_env = stack_env(new_dir, new_url)
    restored = acd(target_env, "restore", str(backups / "data"), "--keys",
                   str(backups / "keys"))
    assert restored.returncode == 0, restored.stderr
    again = acd(target_env, "restore", str(backups / "data"))
    assert again.returncode == 2 and "already holds tables" in again.stderr, again
    assert "Traceback" not in again.stderr
    assert [p.parent.is_relative_to(new_dir / "recordings")
            for p in await sealed_paths(new_url)] == [True]

    async with RunningStack(target_env, new_dir, gateway_port) as stack:
        roster = await stack.api("GET", "/api/agents")
        assert [a["id"] for a in roster] == [AGENT]
        [after] = await sealed(stack, 1)
        assert {k: after[k] for k in ("uniqueid", "caller", "agent", "line", "queue")} == \
            {k: before[k] for k in ("uniqueid", "caller", "agent", "line", "queue")}
        assert await audio(stack, after) == plain  # decrypted with the restored keys

        assert stack.secrets()[f"sip:{AGENT}"] == password
        await stack.api("POST", f"/api/agents/{AGENT}/login", expect=None)
        await one_answered_call(stack, password, new_dir / "sipp", "0312349999")
        items = await sealed(stack, 2)
        assert sorted(i["caller"] for i in items) == ["0312340000", "0312349999"]
        newest = items[0]
        assert newest["caller"] == "0312349999"
        assert len(await audio(stack, newest)) > 8000
    assert stack.returncode == 0, stack.log_tail()
    assert os.listdir(new_dir / "recordings")
