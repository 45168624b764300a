"""Benchmark (not a test): the controller's CPU per recorded queue call, beside Asterisk's.

    MDG_PORT_BASE=11000 python benchmarks/controller_cost.py                 # 60 calls at 5/s
    MDG_PORT_BASE=11000 python benchmarks/controller_cost.py --calls 100 --rate 10
    MDG_PORT_BASE=11000 python benchmarks/controller_cost.py --profile /tmp/acd.svg

A fresh `acd up` (SQLite, the test flows: line 0570000123 recorded ``always``), ``--agents``
SIPp agents that answer and talk ``--talk`` seconds, then ``--calls`` callers at
``--rate`` calls/s. The CPU time (user + system, from ``/proc/<pid>/stat``) of the `acd up`
process (controller and gateway) and of Asterisk is taken when the first call is placed
and again once every answered call's recording is sealed; each divided by the calls
answered gives the CPU per call. ``--profile FILE`` records the controller with py-spy
(all threads) meanwhile. Prints one line and, with ``--json``, writes the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import TEST_PORTS, stack_env
from tests.support.asterisk_pid import asterisk_pid
from tests.support.sipp import SippAgent, free_udp_port, register_agents, run_callers
from tests.support.stack import RunningStack

DID = "0570000123"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def port_base_set() -> bool:
    """Whether MDG_PORT_BASE says where the benchmark's systems listen (told if not)."""
    if "MDG_PORT_BASE" in os.environ:
        return True
    print("set MDG_PORT_BASE (e.g. 11000) so that the benchmark's systems do not collide "
          "with another run", file=sys.stderr)
    return False


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far per thread name of a process (threads of one name summed)."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except FileNotFoundError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")].rstrip("0123456789-_ ")
        fields = stat.rsplit(")", 1)[1].split()
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / TICKS
    return out


async def sealed_count(stack: RunningStack) -> int:
    page = await stack.api("GET", "/api/recordings?status=all&limit=500")
    return sum(i["status"] == "sealed" for i in page["items"])


async def run(args: argparse.Namespace) -> dict:
    state_dir = Path(tempfile.mkdtemp(prefix="mdg-cost-", dir="/tmp"))
    url = f"sqlite+aiosqlite:///{state_dir / 'madoguchi.db'}"
    sipp_dir = state_dir / "sipp"
    agents = [str(2001 + i) for i in range(args.agents)]
    result: dict = {"calls": args.calls, "rate": args.rate, "agents": args.agents,
                    "talk_seconds": args.talk}
    async with RunningStack(stack_env(state_dir, url), state_dir,
                            TEST_PORTS["gateway_port"]) as stack:
        assert stack.proc is not None
        controller = stack.proc.pid
        asterisk = asterisk_pid(state_dir)
        assert asterisk is not None, "no Asterisk pid"
        passwords = await stack.add_agents(agents)
        contact = {a: free_udp_port() for a in agents}
        await register_agents(list(passwords.items()), TEST_PORTS["sip_port"], contact,
                              sipp_dir)
        uas = [SippAgent(a, contact[a], sipp_dir, talk_seconds=args.talk) for a in agents]
        await asyncio.gather(*(a.start() for a in uas))
        await asyncio.sleep(2.0)  # the agents' registrations settle
        spy = None
        if args.profile:
            spy = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).with_name("py-spy")), "record", "--threads",
                *(["--gil"] if args.gil else []),
                "--pid", str(controller), "--output", args.profile,
                "--format", "speedscope" if args.profile.endswith(".json") else "flamegraph",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            await asyncio.sleep(1.0)
        c0, a0, t0 = cpu_seconds(controller), cpu_seconds(asterisk), time.monotonic()
        threads0 = thread_cpu(controller)
        try:
            callers = await run_callers(DID, TEST_PORTS["sip_port"], args.calls,
                                        rate=args.rate, workdir=sipp_dir,
                                        max_seconds=args.calls / args.rate + 60)
        finally:
            await asyncio.gather(*(a.stop() for a in uas))
        t_calls = time.monotonic()
        deadline = t_calls + 60
        sealed = 0
        while time.monotonic() < deadline:
            sealed = await sealed_count(stack)
            if sealed >= callers.answered:
                break
            await asyncio.sleep(0.2)
        t1 = time.monotonic()
        c1, a1 = cpu_seconds(controller), cpu_seconds(asterisk)
        threads1 = thread_cpu(controller)
        if spy is not None:
            spy.send_signal(2)
            await spy.wait()
        answered = max(callers.answered, 1)
        result.update(
            answered=callers.answered, failed=callers.failed, sealed=sealed,
            sealed_after_last_call_s=round(t1 - t_calls, 2),
            seconds=round(t1 - t0, 1),
            controller_cpu_s=round(c1 - c0, 3), asterisk_cpu_s=round(a1 - a0, 3),
            controller_ms_per_call=round((c1 - c0) * 1000 / answered, 1),
            asterisk_ms_per_call=round((a1 - a0) * 1000 / answered, 1),
            sipp_overload_warnings=len(callers.overload_warnings),
            controller_ms_per_call_by_thread={
                name: round((cpu - threads0.get(name, 0.0)) * 1000 / answered, 1)
                for name, cpu in sorted(threads1.items())})
        result["ratio"] = round(result["controller_ms_per_call"]
                                / max(result["asterisk_ms_per_call"], 0.1), 2)
    if args.keep:
        result["state_dir"] = str(state_dir)
    else:
        shutil.rmtree(state_dir, ignore_errors=True)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--agents", type=int, default=30)
    parser.add_argument("--talk", type=float, default=3.0)
    parser.add_argument("--profile", help="py-spy output (.svg flame graph, .json speedscope)")
    parser.add_argument("--gil", action="store_true",
                        help="profile only the thread holding the GIL (Python work)")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the state directory")
    return parser.parse_args(argv)


def main() -> int:
    args = parse_args()
    if not port_base_set():
        return 2
    result = asyncio.run(run(args))
    print(f"{result['answered']}/{result['calls']} calls answered at {result['rate']}/s, "
          f"{result['sealed']} sealed ({result['sealed_after_last_call_s']} s after the "
          f"last call); controller {result['controller_ms_per_call']} ms CPU per call, "
          f"Asterisk {result['asterisk_ms_per_call']} ms (ratio {result['ratio']}); "
          f"SIPp overload warnings {result['sipp_overload_warnings']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0 if result["answered"] == result["calls"] == result["sealed"] else 1


if __name__ == "__main__":
    sys.exit(main())
