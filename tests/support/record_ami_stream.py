"""Record a real AMI stream for the adapter tests: `python -m tests.support.record_ami_stream OUT`.

Starts `acd up` on the test ports with the AMI capture on, registers the two fixture
agents, places two calls (one answered, one abandoned while waiting), and writes the
raw stream Asterisk sent to OUT.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from tests.conftest import TEST_PORTS, stack_env
from tests.support.sipp import SippAgent, free_udp_port, register_agents, run_callers
from tests.support.stack import RunningStack


async def record(out: Path) -> None:
    state = Path(tempfile.mkdtemp(prefix="mdg-rec-", dir="/tmp"))
    capture = state / "ami.raw"
    env = stack_env(state, f"sqlite+aiosqlite:///{state}/db.sqlite",
                    MADOGUCHI_AMI_CAPTURE_FILE=str(capture))
    try:
        async with RunningStack(env, state, TEST_PORTS["gateway_port"]) as stack:
            port = free_udp_port()
            await stack.add_agents(["1001"])
            await register_agents([("1001", stack.secrets()["sip:1001"])],
                                  TEST_PORTS["sip_port"], {"1001": port}, state / "sipp")
            async with SippAgent("1001", port, state / "sipp", talk_seconds=3):
                await run_callers("0570000123", TEST_PORTS["sip_port"], 1, 1.0, state / "sipp")
            # nobody answers now: this caller gives up after 8 s in the queue
            await register_agents([("1001", stack.secrets()["sip:1001"])],
                                  TEST_PORTS["sip_port"], {"1001": port}, state / "sipp",
                                  expires=0)
            await run_callers("0570000123", TEST_PORTS["sip_port"], 1, 1.0, state / "sipp",
                              caller_start="0312349999", hangup_after=10, max_seconds=40)
            await asyncio.sleep(1)
        shutil.copy(capture, out)
    finally:
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(record(Path(sys.argv[1])))
