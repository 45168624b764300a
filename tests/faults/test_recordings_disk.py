"""The recordings disk is full (a 512 KiB tmpfs, filled up, mounted on the recordings
directory): calls are still served and recorded in the call records, the failed
recordings are an alarm in the log, and nothing crashes."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import pytest

from acd.adapters.db.schema import call_records
from tests.conftest import TEST_PORTS, stack_env
from tests.support.sipp import run_callers
from tests.support.stack import RunningStack, start_agents
from tests.support.tables import rows
from tests.support.waiting import until

pytestmark = pytest.mark.integration

RECORDED_LINE = "0570000123"  # recording: always, queue main


@contextlib.contextmanager
def full_disk(directory: Path, size_kib: int = 512):
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs",
                    str(directory)], check=True, timeout=30)
    try:
        with contextlib.suppress(OSError), (directory / "filler").open("wb") as fh:
            for _ in range(size_kib * 2):
                fh.write(b"\0" * 1024)
        yield
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False, timeout=30)


async def test_a_full_recordings_disk_is_an_alarm_and_calls_are_still_served(state_dir: Path):
    url = f"sqlite+aiosqlite:///{state_dir}/db.sqlite"
    sipp = state_dir / "sipp"
    with full_disk(state_dir / "recordings"):
        async with RunningStack(stack_env(state_dir, url), state_dir,
                                TEST_PORTS["gateway_port"]) as stack:
            agents = await start_agents(stack, ["5601"], "main", sipp, talk=(2.0, 2.0))
            try:
                result = await run_callers(RECORDED_LINE, TEST_PORTS["sip_port"], 2,
                                           rate=0.5, workdir=sipp / "callers",
                                           caller_start="0359990000", max_seconds=90,
                                           bye_timeout=60)
                assert result.successful == 2, result.describe()
                records = await until(lambda: _records(url, 2), 30, "both calls recorded")
                assert all(r["outcome"] == "answered" for r in records), records
                alarms = await until(lambda: _alarms(stack), 30, "a recording alarm")
                assert (await stack.health())["ami_connected"]
            finally:
                for agent in agents:
                    await agent.stop()
        assert stack.returncode == 0  # stopped cleanly: nothing crashed
    print(f"\nrecordings disk full: 2/2 calls served and recorded; alarms "
          f"{sorted({a['event'] for a in alarms})}")


async def _records(url: str, count: int) -> list[dict] | None:
    found = await rows(url, call_records)
    return found if len(found) >= count else None


def _alarms(stack: RunningStack) -> list[dict] | None:
    found = [e for e in stack.log_events() if e.get("alarm") and "recording" in e["event"]]
    return found or None
