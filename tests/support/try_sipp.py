"""Exercise the SIPp harness against a real Asterisk, by hand.

Renders Madoguchi's Asterisk configuration into a private state directory with its own
ports (so it never collides with a development Asterisk on 5060/5038), starts Asterisk
with the product's own runtime code, registers the agents of ``ivr_flows``, starts one
answering :class:`~tests.support.sipp.SippAgent` each, places calls to the line and
checks the outcome: every call successful, the calls spread over the agents, AMI
``AgentConnect`` events for them, and one new ``.wav`` recording per call. Asterisk and
every SIPp process are stopped at the end, whatever happens.

    cd /work/main && .venv/bin/python -m tests.support.try_sipp
    .venv/bin/python -m tests.support.try_sipp --calls 10 --rate 2 --talk 3
    .venv/bin/python -m tests.support.try_sipp --hangup-after 2   # callers abandon in queue
    .venv/bin/python -m tests.support.try_sipp --no-start         # Asterisk already running

Exit status 0 when every check passes. SIPp's files stay under ``<state-dir>/sipp``.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import json
import math
import sys
import time
import wave
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

if __package__ in (None, ""):  # run as a file: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.sipp import SippAgent, free_udp_port, register_agents, run_callers

RECORDING_TZ = ZoneInfo("Asia/Tokyo")  # the dialplan names recording folders by Tokyo date


def render_config(state_dir: Path, sip_port: int, ami_port: int, rtp: tuple[int, int]):
    """Render the product's Asterisk configuration; returns (settings, site)."""
    from acd.adapters.asterisk_runtime import find_installation
    from acd.asterisk_config import render, write_config
    from acd.ivr.loader import load_site
    from acd.prompts import build_prompts
    from acd.secrets import SecretStore
    from acd.settings import Settings

    settings = Settings(state_dir=state_dir, recordings_dir=state_dir / "rec",
                        sip_port=sip_port, ami_port=ami_port, rtp_start=rtp[0], rtp_end=rtp[1])
    site = load_site(settings.flows_dir)
    installation = find_installation()
    prompts = build_prompts(site, settings.flows_dir, settings.sounds_dir)
    files = render(settings, site, installation,
                   SecretStore(settings.state_dir / "secrets.json"), prompts)
    write_config(settings, files)
    return settings, site, installation


class AmiEvents:
    """A minimal AMI client that logs in and records every event (a dict per event)."""

    def __init__(self, port: int, secret: str, username: str = "madoguchi") -> None:
        self.port, self.secret, self.username = port, secret, username
        self.events: list[dict[str, str]] = []
        self._task: asyncio.Task | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def start(self, timeout: float = 10.0) -> None:
        reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", self.port), timeout)
        await asyncio.wait_for(reader.readline(), timeout)  # banner
        self._writer.write(f"Action: Login\r\nUsername: {self.username}\r\n"
                           f"Secret: {self.secret}\r\nEvents: on\r\n\r\n".encode())
        first = await asyncio.wait_for(self._read_block(reader), timeout)
        if first.get("Response") != "Success":
            raise RuntimeError(f"AMI login failed: {first}")
        self._task = asyncio.create_task(self._collect(reader))

    @staticmethod
    async def _read_block(reader: asyncio.StreamReader) -> dict[str, str]:
        block: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if not line:
                raise ConnectionError("AMI closed")
            text = line.decode(errors="replace").rstrip("\r\n")
            if not text:
                if block:
                    return block
                continue
            key, _, value = text.partition(":")
            block[key.strip()] = value.strip()

    async def _collect(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while True:
                block = await self._read_block(reader)
                if "Event" in block:
                    self.events.append(block)

    def named(self, name: str) -> list[dict[str, str]]:
        return [e for e in self.events if e.get("Event") == name]

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._writer:
            self._writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._writer.wait_closed(), 2)


def recordings(root: Path) -> set[Path]:
    return set(root.rglob("*.wav")) if root.exists() else set()


def wav_level(path: Path) -> tuple[float, float]:
    """(duration in seconds, RMS of the samples) of a 16-bit PCM WAV file."""
    with wave.open(str(path)) as w:
        frames = w.getnframes()
        samples = array.array("h", w.readframes(frames))
        rate = w.getframerate()
    if sys.byteorder != "little":
        samples.byteswap()
    rms = math.sqrt(sum(x * x for x in samples) / len(samples)) if samples else 0.0
    return frames / rate, rms


async def main(args: argparse.Namespace) -> int:
    state_dir: Path = args.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    settings, site, installation = render_config(state_dir, args.sip_port, args.ami_port,
                                                 (args.rtp_start, args.rtp_end))
    line = next(l for l in site.lines if not args.did or l.did == args.did)
    agent_ids = [a.id for a in site.agents]
    secrets = json.loads((state_dir / "secrets.json").read_text())
    workdir = state_dir / "sipp" / time.strftime("%Y%m%d-%H%M%S")
    print(f"line {line.did} -> queue {line.queue}; agents {agent_ids}; SIPp files in {workdir}")

    asterisk = None
    if not args.no_start:
        from acd.adapters.asterisk_runtime import AsteriskProcess, ensure_ports_free
        ensure_ports_free(settings.bind_address, {"AMI": settings.ami_port},
                          {"SIP": settings.sip_port})
        asterisk = AsteriskProcess(installation, settings.asterisk_dir / "etc" / "asterisk.conf",
                                   [state_dir, settings.recordings_dir],
                                   settings.asterisk_dir / "log" / "stdout.log")
    agents: list[SippAgent] = []
    contact_ports = {a: free_udp_port() for a in agent_ids}
    registered: list[tuple[str, str]] = []
    ami = AmiEvents(settings.ami_port, secrets["ami"])
    failures: list[str] = []
    try:
        if asterisk:
            await asterisk.start()
            await asterisk.wait_ready("127.0.0.1", settings.ami_port)
            print(f"asterisk up, pid {asterisk.pid}")
        await ami.start()
        t0 = time.monotonic()
        credentials = [(a, secrets[f"sip:{a}"]) for a in agent_ids]
        await register_agents(credentials, settings.sip_port, contact_ports, workdir)
        registered = credentials
        print(f"registered {agent_ids} in {time.monotonic() - t0:.2f} s at {contact_ports}")
        for a in agent_ids:
            agent = SippAgent(a, contact_ports[a], workdir, talk_seconds=args.talk)
            await agent.start()
            agents.append(agent)
        before = recordings(settings.recordings_dir)
        t0 = time.monotonic()
        result = await run_callers(line.did, settings.sip_port, args.calls, args.rate, workdir,
                                   max_seconds=args.max_seconds,
                                   hangup_after=args.hangup_after)
        print(f"callers finished in {time.monotonic() - t0:.1f} s: {result.describe()}")
        counts = {a.agent_id: await a.stop() for a in agents}
        for a, c in counts.items():
            print(f"agent {a}: {c}")
        await asyncio.sleep(1)  # AMI events of the last hangups
        connects = ami.named("AgentConnect")
        by_member: dict[str, int] = {}
        for e in connects:
            by_member[e.get("MemberName", "?")] = by_member.get(e.get("MemberName", "?"), 0) + 1
        print(f"AMI: {len(ami.named('QueueCallerJoin'))} QueueCallerJoin, {len(connects)} "
              f"AgentConnect {by_member}, {len(ami.named('AgentComplete'))} AgentComplete, "
              f"{len(ami.named('QueueCallerAbandon'))} QueueCallerAbandon")
        new = sorted(recordings(settings.recordings_dir) - before)
        today = datetime.now(RECORDING_TZ).strftime("%Y/%m/%d")
        print(f"{len(new)} new recordings under {settings.recordings_dir / today}:")
        levels = {path: wav_level(path) for path in new}
        for path, (seconds, rms) in levels.items():
            print(f"  {path.relative_to(settings.recordings_dir)}  {path.stat().st_size} bytes, "
                  f"{seconds:.1f} s, RMS {rms:.0f}")

        if not result.ok:
            failures.append("not every caller succeeded")
        if result.overloaded:
            failures.append("SIPp was overloaded (major watchdog trips)")
        elif result.overload_warnings:
            print(f"note: {len(result.overload_warnings)} minor SIPp watchdog trip(s): its "
                  "loop ran >100 ms late (a busy machine), not a failure")
        answered = {a: c.answered for a, c in counts.items()}
        if args.hangup_after is None:
            if sum(answered.values()) != args.calls:
                failures.append(f"agents answered {answered}, expected {args.calls} in all")
            if args.calls >= len(agents) and min(answered.values()) == 0:
                failures.append(f"some agent answered no call: {answered}")
            if any(c.failed for c in counts.values()):
                failures.append("an agent counted failed calls")
            if len(connects) != args.calls:
                failures.append(f"{len(connects)} AgentConnect events, expected {args.calls}")
            if result.remote_hangups != args.calls:
                failures.append(f"{result.remote_hangups} callers hung up by Asterisk, "
                                f"expected {args.calls}")
            if len(new) != args.calls:
                failures.append(f"{len(new)} new recordings, expected {args.calls}")
            # Both parties play speech, so a recording of a bridged call is never silent.
            elif any(rms < 100 for _, rms in levels.values()):
                failures.append("a recording is silent (no audio reached Asterisk)")
        else:
            if result.local_hangups + result.remote_hangups != args.calls:
                failures.append("not every caller ended by a hang-up")
            bridged = sum(answered.values())
            if len(connects) != bridged:
                failures.append(f"{len(connects)} AgentConnect events, {bridged} answered")
        if any(p.parent != settings.recordings_dir / today for p in new):
            failures.append(f"recordings outside {today}")
    finally:
        for agent in agents:
            if agent.running:
                await agent.stop(grace=2)
        if registered:
            # Asterisk keeps registrations in its astdb across restarts: leave none
            # pointing at ports where nothing listens any more.
            with contextlib.suppress(Exception):
                await register_agents(registered, settings.sip_port, contact_ports, workdir,
                                      expires=0)
                print("agents unregistered")
        await ami.stop()
        if asterisk:
            await asterisk.stop()
            print("asterisk stopped")
    for failure in failures:
        print(f"FAIL: {failure}")
    print("OK" if not failures else f"{len(failures)} check(s) failed")
    return 1 if failures else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--state-dir", type=Path, default=Path("/tmp/mdg-try-sipp"))
    p.add_argument("--sip-port", type=int, default=25060)
    p.add_argument("--ami-port", type=int, default=25038)
    p.add_argument("--rtp-start", type=int, default=26000)
    p.add_argument("--rtp-end", type=int, default=26999)
    p.add_argument("--did", default="", help="line to call (default: the first)")
    p.add_argument("--calls", type=int, default=6)
    p.add_argument("--rate", type=float, default=1.0, help="calls per second")
    p.add_argument("--talk", type=float, default=4.0, help="agents' talk time, seconds")
    p.add_argument("--hangup-after", type=float, default=None,
                   help="callers hang up this many seconds after the answer (abandon)")
    p.add_argument("--max-seconds", type=float, default=180.0)
    p.add_argument("--no-start", action="store_true",
                   help="use an Asterisk already running with this state dir and ports")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
