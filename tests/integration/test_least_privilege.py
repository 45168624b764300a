"""Least privilege on a real `acd up`: Asterisk drops root (its uid is not 0, it keeps no
capability but the one for QoS marks), the controller's AMI login has exactly the
documented classes (no command or config), and a recording is 0600 in a 0700
directory while its call still goes on."""

from __future__ import annotations

import asyncio
import pwd
import re
import stat
from pathlib import Path

import pytest

from acd.adapters.asterisk.config import AMI_READ, AMI_USER, AMI_WRITE
from tests.conftest import TEST_PORTS, stack_env
from tests.support.asterisk_pid import asterisk_console, asterisk_pid
from tests.support.sipp import SippAgent, free_udp_port, register_agents, run_callers
from tests.support.stack import RunningStack
from tests.support.waiting import until

pytestmark = pytest.mark.integration

DID = "0570000123"
CAP_NET_ADMIN = 12


def process_ids(pid: int) -> tuple[int, int, int]:
    """(effective uid, effective gid, effective capabilities) of a process."""
    status = Path(f"/proc/{pid}/status").read_text()
    uid = int(re.search(r"^Uid:\s+\d+\s+(\d+)", status, re.M)[1])
    gid = int(re.search(r"^Gid:\s+\d+\s+(\d+)", status, re.M)[1])
    caps = int(re.search(r"^CapEff:\s+([0-9a-f]+)", status, re.M)[1], 16)
    return uid, gid, caps


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_asterisk_runs_unprivileged_and_recordings_are_private_from_the_first_byte(
        state_dir: Path, database_url: str):
    env = stack_env(state_dir, database_url)
    sipp_dir = state_dir / "sipp"
    recordings = state_dir / "recordings"
    async with RunningStack(env, state_dir, TEST_PORTS["gateway_port"]) as stack:
        pid = asterisk_pid(state_dir)
        assert pid is not None
        uid, gid, caps = process_ids(pid)
        assert uid != 0 and gid != 0, (uid, gid)
        assert pwd.getpwuid(uid).pw_name == "asterisk"  # an account of its own on the host
        assert caps & ~(1 << CAP_NET_ADMIN) == 0, f"capabilities kept: {caps:#x}"

        shown = await asterisk_console(state_dir, f"manager show user {AMI_USER}")
        perms = {kind: set(re.search(rf"{kind} perm: (\S*)", shown)[1].split(","))
                 for kind in ("read", "write")}
        assert perms == {"read": set(AMI_READ), "write": set(AMI_WRITE)}, shown

        passwords = await stack.add_agents(["1001"])
        port = free_udp_port()
        await register_agents(list(passwords.items()), TEST_PORTS["sip_port"],
                              {"1001": port}, sipp_dir)
        agent = SippAgent("1001", port, sipp_dir, talk_seconds=8.0)
        await agent.start()
        caller = asyncio.create_task(run_callers(DID, TEST_PORTS["sip_port"], 1, rate=1.0,
                                                 workdir=sipp_dir, max_seconds=60))
        try:
            def plain_recording() -> Path | None:
                return next(iter(recordings.rglob("*.wav")), None)

            wav = await until(plain_recording, 20, "a recording of the call")
            mode, owner = stat.S_IMODE(wav.stat().st_mode), wav.stat().st_uid
            assert not caller.done()  # the call still goes on
            directory_mode = stat.S_IMODE(wav.parent.stat().st_mode)
            result = await caller
        finally:
            await agent.stop()
        assert (result.successful, result.failed) == (1, 0), result.errors
    print(f"\nAsterisk uid {uid} gid {gid} capabilities {caps:#x}; recording {oct(mode)} "
          f"in {oct(directory_mode)} while the call went on; AMI {perms}")
    assert (mode, owner) == (0o600, uid)
    assert directory_mode == 0o700
