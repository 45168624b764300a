"""Brute force blocked on a real `acd up`: 20 REGISTERs with a wrong password from one
source get that source banned by the stack's fail2ban server (its packets dropped on the
SIP ports, even with the right password), while an agent on another source registers;
the ban is logged, and the firewall table goes when the stack stops."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from acd.adapters.fail2ban import BanGuard
from acd.settings import Settings
from tests.conftest import TEST_PORTS, stack_env
from tests.support.sipp import free_udp_port, register_agents
from tests.support.sipp.process import SippError
from tests.support.stack import RunningStack
from tests.support.waiting import until

pytestmark = pytest.mark.integration

# addresses of this run only: a ban table some killed run left cannot touch them
GUESSER = f"127.{os.getpid() % 200 + 20}.0.9"
DESK = f"127.{os.getpid() % 200 + 20}.0.10"
TRIES = 20


async def nft_table(table: str) -> str | None:
    """The firewall table as nft lists it, None when there is none."""
    proc = await asyncio.create_subprocess_exec(
        "nft", "list", "table", "inet", table, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL)
    out, _ = await proc.communicate()
    return out.decode() if proc.returncode == 0 else None


async def register(password: str, address: str, workdir: Path, timeout: float = 6.0) -> bool:
    try:
        await register_agents([("1001", password)], TEST_PORTS["sip_port"],
                              {"1001": free_udp_port(address)}, workdir, timeout=timeout,
                              attempts=1, address=address)
    except SippError:
        return False
    return True


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_password_guesser_is_banned_and_an_agent_elsewhere_still_registers(
        state_dir: Path, database_url: str):
    env = stack_env(state_dir, database_url, MADOGUCHI_SIP_BAN_FAILURES="10",
                    MADOGUCHI_SIP_BAN_MINUTES="5")
    table = BanGuard(Settings(state_dir=state_dir), Path("/dev/null")).table
    sipp_dir = state_dir / "sipp"
    async with RunningStack(env, state_dir, TEST_PORTS["gateway_port"]) as stack:
        password = (await stack.add_agents(["1001"]))["1001"]
        await until(lambda: nft_table(table), 15, "the ban table")
        started = time.monotonic()
        refused = 0
        for _ in range(TRIES):
            refused += not await register("wrong-" + password[:8], GUESSER, sipp_dir, 3.0)
        assert refused == TRIES
        ban_log = state_dir / "fail2ban" / "fail2ban.log"
        await until(lambda: f"Ban {GUESSER}" in ban_log.read_text(), 20, "the ban")
        banned_after = time.monotonic() - started
        assert not await register(password, GUESSER, sipp_dir)  # dropped, right password
        assert await register(password, DESK, sipp_dir)  # another source is not
        listed = await nft_table(table)
        assert listed is not None and GUESSER in listed and DESK not in listed
        before_ban = ban_log.read_text().split(f"Ban {GUESSER}")[0]
        found = before_ban.count(f"Found {GUESSER}")
    print(f"\n{TRIES} wrong REGISTERs from {GUESSER}: banned after {found} failures seen "
          f"(security events), {banned_after:.1f} s after the first; {DESK} registered")
    assert found >= 10  # MADOGUCHI_SIP_BAN_FAILURES: not banned before
    assert stack.returncode == 0, stack.log_tail()
    assert await nft_table(table) is None  # removed when the stack stopped
