"""Benchmark (not a test): how many concurrent recorded calls this machine holds with zero
failed calls and zero lost recordings.

    MDG_PORT_BASE=11000 python benchmarks/recorded_calls.py            # N = 10, 20, 40
    MDG_PORT_BASE=11000 python benchmarks/recorded_calls.py --steps 10 20 40 60

For each N, a fresh `acd up` (SQLite, the test flows: line 0570000123 recorded ``always``
with its notice) on the ports of ``MDG_PORT_BASE``; N agents registered by SIPp, each a
SIPp UAS that answers and plays G.711 audio; N callers placed by one SIPp UAC (with audio)
within ``--ramp`` seconds, so that all N are talking at once for several seconds. A step
passes when every call succeeded (SIPp's own verdict), every answered call left a sealed
recording (none failed, none missing) whose audio is about the talk time and not silence,
and no ``recording.failed`` alarm was logged. Stepping stops at the first failing N.
Prints one line per step and the figure: the largest N that passed.

SIPp itself spends a thread per call playing audio; its overload warnings are reported
with each step (on 2 cores SIPp tends to saturate before Asterisk does).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp

from tests.conftest import TEST_PORTS, stack_env
from tests.support.recordings import seconds_and_rms
from tests.support.sipp import SippAgent, free_udp_port, register_agents, run_callers
from tests.support.stack import RunningStack

DID = "0570000123"
#: The pcap both sides play lasts 7 s; MixMonitor writes while audio flows, so a call
#: talking 8 s leaves ~7 s of audio.
TALK_SECONDS = 8.0
MIN_AUDIO_SECONDS = 5.5
RMS_FLOOR = 100.0


async def recordings_of(stack: RunningStack, expected: int, timeout: float) -> list[dict]:
    items: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page = await stack.api("GET", "/api/recordings?status=all&limit=500")
        items = page["items"]
        if len(items) >= expected and all(i["status"] != "failed" for i in items) \
                and all(i["status"] == "sealed" for i in items):
            return items
        if any(i["status"] == "failed" for i in items):
            return items
        await asyncio.sleep(1.0)
    return items


async def step(n: int, ramp: float, keep: bool) -> dict:
    state_dir = Path(tempfile.mkdtemp(prefix="mdg-bench-", dir="/tmp"))
    url = f"sqlite+aiosqlite:///{state_dir / 'madoguchi.db'}"
    sipp_dir = state_dir / "sipp"
    agents = [str(2001 + i) for i in range(n)]
    result: dict = {"n": n, "state_dir": str(state_dir)}
    async with RunningStack(stack_env(state_dir, url), state_dir,
                            TEST_PORTS["gateway_port"]) as stack:
        passwords = await stack.add_agents(agents)
        contact = {a: free_udp_port() for a in agents}
        await register_agents(list(passwords.items()), TEST_PORTS["sip_port"], contact,
                              sipp_dir)
        uas = [SippAgent(a, contact[a], sipp_dir, talk_seconds=TALK_SECONDS) for a in agents]
        await asyncio.gather(*(a.start() for a in uas))
        peak = 0

        async def watch() -> None:
            nonlocal peak
            while True:
                health = await stack.health() or {}
                peak = max(peak, health.get("open_calls", 0))
                await asyncio.sleep(0.5)

        watcher = asyncio.create_task(watch())
        started = time.monotonic()
        try:
            callers = await run_callers(DID, TEST_PORTS["sip_port"], n, rate=n / ramp,
                                        workdir=sipp_dir, max_seconds=ramp + 60)
        finally:
            watcher.cancel()
            counts = await asyncio.gather(*(a.stop() for a in uas))
        result["seconds"] = round(time.monotonic() - started, 1)
        result["peak_open_calls"] = peak
        answered = callers.answered
        items = await recordings_of(stack, answered, timeout=60 + n)
        sealed = [i for i in items if i["status"] == "sealed"]
        short, silent = [], []
        headers = {"Authorization": f"Bearer {stack.secrets()['api']}",
                   "X-Madoguchi-User": "benchmark"}
        async with aiohttp.ClientSession(base_url=stack.gateway) as http:
            for item in sealed:
                async with http.get(item["audio_url"], headers=headers) as resp:
                    seconds, rms = seconds_and_rms(await resp.read())
                if seconds < MIN_AUDIO_SECONDS:
                    short.append(round(seconds, 2))
                if rms < RMS_FLOOR:
                    silent.append(item["uniqueid"])
        result.update(
            calls=n, successful=callers.successful, failed=callers.failed,
            answered=answered, recordings_sealed=len(sealed),
            recordings_failed=sum(i["status"] == "failed" for i in items),
            recordings_lost=max(0, answered - len(sealed)), short=short, silent=len(silent),
            agents_answered=sum(c.answered for c in counts),
            sipp_overload_warnings=len(callers.overload_warnings)
            + sum(len(a.overload_warnings()) for a in uas),
            sipp_overloaded=callers.overloaded)
    alarms = [e for e in stack.log_events() if e.get("event") == "recording.failed"]
    result["alarms"] = len(alarms)
    result["ok"] = (callers.ok and result["recordings_lost"] == 0
                    and result["recordings_failed"] == 0 and not short and not silent
                    and not alarms and stack.returncode == 0)
    if not result["ok"]:
        result["detail"] = callers.describe()[:600]
    elif not keep:
        import shutil

        shutil.rmtree(state_dir, ignore_errors=True)
        result.pop("state_dir")
    return result


async def main(args: argparse.Namespace) -> int:
    if "MDG_PORT_BASE" not in os.environ:
        print("set MDG_PORT_BASE (e.g. 11000) so that the stack does not collide",
              file=sys.stderr)
        return 2
    best = 0
    for n in args.steps:
        result = await step(n, args.ramp, args.keep)
        print(f"N={n:3d} {'PASS' if result['ok'] else 'FAIL'}: "
              f"{result['successful']}/{n} calls ok, {result['failed']} failed; "
              f"peak {result['peak_open_calls']} open calls; "
              f"{result['recordings_sealed']} recordings sealed, "
              f"{result['recordings_lost']} lost, {result['recordings_failed']} failed, "
              f"{len(result['short'])} short, {result['silent']} silent; "
              f"SIPp overload warnings {result['sipp_overload_warnings']}; "
              f"{result['seconds']} s", flush=True)
        if not result["ok"]:
            print(f"  kept in {result['state_dir']}\n  {result.get('detail', '')}")
            break
        best = n
    print(f"concurrent recorded calls held with zero failures and zero lost recordings: "
          f"{best}")
    return 0 if best else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[10, 20, 40])
    parser.add_argument("--ramp", type=float, default=3.0,
                        help="seconds over which the N callers arrive")
    parser.add_argument("--keep", action="store_true", help="keep the state directories")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
