"""Benchmark (not a test): the Madoguchi stack beside bare Asterisk, in one run.

    MDG_PORT_BASE=11000 python benchmarks/against_asterisk.py
    MDG_PORT_BASE=11000 python benchmarks/against_asterisk.py --rates 5 10 20 30 \\
        --seconds 40 --agents 120 --pairs 2 --json /tmp/bench.json

Two systems on the same Asterisk runtime, the same SIPp agents and the same SIPp callers:

- **bare**: Asterisk with a minimal hand-written configuration (no controller): the
  carrier's calls are answered, recorded with MixMonitor and queued to ``--agents``
  static members (rrmemory, 1 s wrap-up);
- **stack**: ``acd up`` (SQLite, the test flows: line 0570000123 with its recording
  notice, recorded ``always``), the same number of agents registered and logged in.

For each system and each rate of ``--rates``: ``rate x --seconds`` callers, each answered
by an agent that talks ``--talk`` seconds. Measured: calls answered and failed (SIPp's
verdict and its overload warnings), CPU of Asterisk and of the controller (user +
system from ``/proc``, from the first call until the step is complete), and whether
everything is stored 10 s after the last call (bare: every answered call's recording
closed by Asterisk; stack: its call record and its sealed recording). A step fails when
a call failed or something is missing then. The systems run in turn, ``--pairs`` times
(A B A B ...), so that the noise of the machine shows. Prints a table with the ratios and,
with ``--json``, writes every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from acd.adapters.asterisk.process import AsteriskProcess, find_installation
from acd.adapters.files import files_open_elsewhere
from benchmarks.controller_cost import cpu_seconds, port_base_set
from tests.conftest import TEST_PORTS, stack_env
from tests.support.asterisk_pid import asterisk_pid
from tests.support.sipp import SippAgent, free_udp_port, register_agents, run_callers
from tests.support.stack import RunningStack

DID = "0570000123"
REPO = Path(__file__).resolve().parent.parent
#: How long after the last call everything must be stored.
STORED_WITHIN = 10.0

ASTERISK_CONF = """[directories]
astcachedir => {run}/cache
astetcdir => {run}/etc
astmoddir => {moddir}
astvarlibdir => {run}/lib
astdbdir => {run}/db
astkeydir => {run}/keys
astdatadir => {datadir}
astspooldir => {run}/spool
astrundir => {run}/run
astlogdir => {run}/log
astsbindir => /usr/sbin
[options]
verbose = 0
nocolor = yes
transmit_silence = yes
{runuser}
"""
PJSIP_CONF = """[transport-udp]
type = transport
protocol = udp
bind = 127.0.0.1:{sip_port}

[carrier]
type = endpoint
context = incoming
disallow = all
allow = alaw,ulaw
[carrier]
type = identify
endpoint = carrier
match = 127.0.0.2
{agents}"""
AGENT = """
[{id}]
type = endpoint
context = agents
disallow = all
allow = alaw,ulaw
aors = {id}
[{id}]
type = aor
contact = sip:{id}@127.0.0.1:{port}
"""
EXTENSIONS_CONF = """[incoming]
exten => {did},1,Answer()
 same => n,MixMonitor({recordings}/${{UNIQUEID}}.wav)
 same => n,Queue(bench,t)
 same => n,Hangup()
[agents]
"""
QUEUES_CONF = """[general]
persistentmembers = no
autofill = yes
[bench]
strategy = rrmemory
timeout = 15
retry = 1
ringinuse = no
wrapuptime = 1
joinempty = yes
leavewhenempty = no
{members}
"""
MANAGER_CONF = """[general]
enabled = yes
bindaddr = 127.0.0.1
port = {ami_port}
"""


@dataclass
class Step:
    system: str
    round: int
    rate: float
    calls: int
    answered: int
    failed: int
    sipp_overload_warnings: int
    stored: int
    stored_after_last_call_s: float | None
    asterisk_ms_per_call: float
    controller_ms_per_call: float | None

    @property
    def passed(self) -> bool:
        return (self.failed == 0 and self.answered == self.calls
                and self.stored >= self.answered and self.stored_after_last_call_s is not None)


class Bare:
    """Asterisk alone, with the hand-written configuration above."""

    name = "bare"

    def __init__(self, workdir: Path, agents: list[str]) -> None:
        self.dir = workdir
        self.agents = agents
        self.recordings = workdir / "recordings"
        self.contacts = {a: free_udp_port() for a in agents}
        self.controller_pid: int | None = None

    async def __aenter__(self) -> Bare:
        inst = find_installation()
        run = self.dir / "asterisk"
        etc = run / "etc"
        for sub in ("etc", "cache", "lib", "db", "keys", "spool", "run", "log"):
            (run / sub).mkdir(parents=True)
        owner = inst.owner is not None and os.geteuid() == 0
        files = {
            "asterisk.conf": ASTERISK_CONF.format(
                run=run, moddir=inst.moddir, datadir=inst.datadir,
                runuser=f"runuser = {inst.user}\nrungroup = {inst.user}" if owner else ""),
            # the same modules as the stack's, so that only the configuration differs
            "modules.conf": (REPO / "asterisk_conf" / "modules.conf.j2").read_text(),
            "pjsip.conf": PJSIP_CONF.format(
                sip_port=TEST_PORTS["sip_port"],
                agents="".join(AGENT.format(id=a, port=p) for a, p in self.contacts.items())),
            "extensions.conf": EXTENSIONS_CONF.format(did=DID, recordings=self.recordings),
            "queues.conf": QUEUES_CONF.format(
                members="\n".join(f"member => PJSIP/{a}" for a in self.agents)),
            "manager.conf": MANAGER_CONF.format(ami_port=TEST_PORTS["ami_port"]),
            "logger.conf": "[logfiles]\nmessages.log => error,warning\n",
        }
        for name, text in files.items():
            (etc / name).write_text(text)
        self.asterisk = AsteriskProcess(inst, etc / "asterisk.conf", [self.dir],
                                        run / "log" / "asterisk.out",
                                        writable=(self.recordings,))
        await self.asterisk.start()
        await self.asterisk.wait_ready("127.0.0.1", TEST_PORTS["ami_port"])
        self.asterisk_pid = self.asterisk.pid
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.asterisk.stop()

    async def stored(self, answered: int) -> int:
        """Recordings Asterisk has closed (at most one per answered call)."""
        open_now = await asyncio.to_thread(files_open_elsewhere)
        if open_now is None:
            return 0
        inodes = ((st.st_dev, st.st_ino)
                  for st in (p.stat() for p in self.recordings.glob("*.wav")))
        return sum(open_now.holds(inode) is False for inode in inodes)


class Stack:
    """``acd up`` with the test flows, on SQLite."""

    name = "stack"

    def __init__(self, workdir: Path, agents: list[str]) -> None:
        self.dir = workdir
        self.agents = agents
        self.contacts = {a: free_udp_port() for a in agents}
        self.controller_pid: int | None = None

    async def __aenter__(self) -> Stack:
        url = f"sqlite+aiosqlite:///{self.dir / 'madoguchi.db'}"
        self.running = RunningStack(stack_env(self.dir, url), self.dir,
                                    TEST_PORTS["gateway_port"])
        await self.running.__aenter__()
        assert self.running.proc is not None
        self.controller_pid = self.running.proc.pid
        pid = asterisk_pid(self.dir)
        assert pid is not None, "the stack's Asterisk has no pid"
        self.asterisk_pid = pid
        passwords = await self.running.add_agents(self.agents)
        await register_agents(list(passwords.items()), TEST_PORTS["sip_port"],
                              self.contacts, self.dir / "sipp-register")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.running.__aexit__(*exc)

    async def stored(self, answered: int) -> int:
        """Calls with both their call record and their sealed recording (read in the
        stack's database: SQLite in WAL lets a reader in beside the writer)."""
        return await asyncio.to_thread(self._stored)

    def _stored(self) -> int:
        with sqlite3.connect(self.dir / "madoguchi.db", timeout=10) as db:
            return db.execute(
                "SELECT count(*) FROM call_records c JOIN recordings r"
                " ON r.uniqueid = c.uniqueid WHERE c.outcome = 'answered'"
                " AND r.status = 'sealed'").fetchone()[0]


async def run_steps(system: Bare | Stack, round_: int, args: argparse.Namespace,
                    sipp_dir: Path) -> list[Step]:
    steps = []
    agents = [SippAgent(a, system.contacts[a], sipp_dir / f"{system.name}-{round_}",
                        talk_seconds=args.talk, pcap=args.pcap)
              for a in system.agents]
    await asyncio.gather(*(a.start() for a in agents))
    await asyncio.sleep(2.0)  # registrations and qualifies settle
    done_before = 0
    try:
        for rate in args.rates:
            calls = round(rate * args.seconds)
            a0 = cpu_seconds(system.asterisk_pid)
            c0 = cpu_seconds(system.controller_pid) if system.controller_pid else None
            result = await run_callers(
                DID, TEST_PORTS["sip_port"], calls, rate=rate,
                workdir=sipp_dir / f"{system.name}-{round_}-{rate:g}", pcap=args.pcap,
                caller_start=f"03{round_}{int(rate):03d}00000"[:10],
                max_seconds=args.seconds + args.talk + 60)
            last_call = time.monotonic()
            stored, stored_after = 0, None
            while time.monotonic() - last_call <= STORED_WITHIN:
                stored = await system.stored(done_before + result.answered) - done_before
                if stored >= result.answered:
                    stored_after = round(time.monotonic() - last_call, 2)
                    break
                await asyncio.sleep(0.25)
            a1 = cpu_seconds(system.asterisk_pid)
            c1 = cpu_seconds(system.controller_pid) if system.controller_pid else None
            answered = max(result.answered, 1)
            step = Step(
                system.name, round_, rate, calls, result.answered, result.failed,
                len(result.overload_warnings), stored, stored_after,
                round((a1 - a0) * 1000 / answered, 1),
                None if c0 is None or c1 is None else round((c1 - c0) * 1000 / answered, 1))
            done_before += stored
            print(describe(step), flush=True)
            steps.append(step)
            await asyncio.sleep(args.talk + 2)  # the agents' wrap-up before the next step
    finally:
        await asyncio.gather(*(a.stop() for a in agents))
    return steps


def describe(step: Step) -> str:
    controller = ("" if step.controller_ms_per_call is None
                  else f", controller {step.controller_ms_per_call} ms")
    stored = (f"stored {step.stored_after_last_call_s} s after the last call"
              if step.stored_after_last_call_s is not None
              else f"only {step.stored}/{step.answered} stored {STORED_WITHIN:g} s after")
    return (f"{step.system:5} #{step.round} {step.rate:>4g}/s: {step.answered}/{step.calls} "
            f"answered, {step.failed} failed, {stored}; Asterisk {step.asterisk_ms_per_call} "
            f"ms CPU per call{controller}; SIPp overload warnings "
            f"{step.sipp_overload_warnings} -> {'ok' if step.passed else 'FAILED'}")


def summary(steps: list[Step], rates: list[float]) -> dict:
    def best(system: str) -> float:
        ok = [r for r in rates if all(s.passed for s in steps
                                      if s.system == system and s.rate == r)]
        passed = 0.0
        for r in rates:  # the highest rate below which every step passed
            if r not in ok:
                break
            passed = r
        return passed

    def mean(values: list[float]) -> float | None:
        return round(sum(values) / len(values), 1) if values else None

    per_rate = []
    for r in rates:
        bare = [s for s in steps if s.system == "bare" and s.rate == r]
        stack = [s for s in steps if s.system == "stack" and s.rate == r]
        bare_ast = mean([s.asterisk_ms_per_call for s in bare])
        stack_ast = mean([s.asterisk_ms_per_call for s in stack])
        controller = mean([s.controller_ms_per_call for s in stack
                           if s.controller_ms_per_call is not None])
        per_rate.append({
            "rate": r, "bare_passed": all(s.passed for s in bare),
            "stack_passed": all(s.passed for s in stack),
            "bare_asterisk_ms": bare_ast, "stack_asterisk_ms": stack_ast,
            "controller_ms": controller,
            "controller_vs_asterisk": (round(controller / stack_ast, 2)
                                       if controller and stack_ast else None),
            "stack_total_vs_bare": (round((stack_ast + controller) / bare_ast, 2)
                                    if controller and stack_ast and bare_ast else None)})
    bare_best, stack_best = best("bare"), best("stack")
    return {"per_rate": per_rate, "bare_highest_rate": bare_best,
            "stack_highest_rate": stack_best,
            "rate_ratio": round(stack_best / bare_best, 2) if bare_best else None}


def table(result: dict) -> str:
    lines = ["", "| calls/s | bare | stack | Asterisk ms/call bare / stack | controller "
             "ms/call | controller ÷ Asterisk | stack total ÷ bare |",
             "|---|---|---|---|---|---|---|"]
    for row in result["per_rate"]:
        lines.append(
            f"| {row['rate']:g} | {'ok' if row['bare_passed'] else 'FAILED'} | "
            f"{'ok' if row['stack_passed'] else 'FAILED'} | {row['bare_asterisk_ms']} / "
            f"{row['stack_asterisk_ms']} | {row['controller_ms']} | "
            f"{row['controller_vs_asterisk']} | {row['stack_total_vs_bare']} |")
    lines.append(f"\nhighest rate with every step passed: bare {result['bare_highest_rate']:g}"
                 f"/s, stack {result['stack_highest_rate']:g}/s "
                 f"(stack ÷ bare {result['rate_ratio']})")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> dict:
    top = Path(tempfile.mkdtemp(prefix="mdg-bench-", dir="/tmp"))
    agents = [str(2001 + i) for i in range(args.agents)]
    steps: list[Step] = []
    try:
        for round_ in range(1, args.pairs + 1):
            for kind in (Bare, Stack):
                workdir = top / f"{kind.name}-{round_}"
                workdir.mkdir()
                async with kind(workdir, agents) as system:
                    steps += await run_steps(system, round_, args, top / "sipp")
    finally:
        if not args.keep:
            shutil.rmtree(top, ignore_errors=True)
    result = summary(steps, args.rates)
    result["steps"] = [asdict(s) | {"passed": s.passed} for s in steps]
    result["settings"] = {"rates": args.rates, "seconds": args.seconds,
                          "agents": args.agents, "talk_seconds": args.talk,
                          "pairs": args.pairs, "pcap": str(args.pcap)}
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from tests.support.sipp.process import AUDIO_PCAP

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[5.0, 10.0, 20.0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each step")
    parser.add_argument("--agents", type=int, default=90)
    parser.add_argument("--talk", type=float, default=3.0)
    parser.add_argument("--pairs", type=int, default=1, help="rounds of bare then stack")
    parser.add_argument("--pcap", type=Path, default=AUDIO_PCAP,
                        help="the audio both ends play")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the state directories")
    return parser.parse_args(argv)


def main() -> int:
    args = parse_args()
    if not port_base_set():
        return 2
    result = asyncio.run(run(args))
    print(table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
