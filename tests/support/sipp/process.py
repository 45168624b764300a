"""One SIPp process: start (with fresh ports on a lost port race), its statistics and error
log, and a bounded stop (see the package docstring for the files and quirks)."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.sipp.ports import AGENT_ADDRESS, _loopback, free_media_port, free_udp_port

SCENARIO_DIR = Path(__file__).resolve().parent.parent.parent / "sipp"
AUDIO_PCAP = Path("/usr/share/sip-tester/g711a.pcap")
EXIT_OK = 0
EXIT_CALLS_FAILED = 1
EXIT_BIND_ERROR = 254  # SIPp's -2
_START_ATTEMPTS = 3
_CALL_END_MARGIN = 5.0  # s after a caller's last wait: BYE exchange, 2 s timewait, slack
_KILL_AFTER = 10.0  # s past max_seconds before a caller run is killed
_PASSWORD_OK = re.compile(r"[A-Za-z0-9._~+/=-]+")  # must survive SIPp's [authentication ...]
_ERROR_ENTRY = re.compile(r"(\d{4}-\d{2}-\d{2}\t\d{2}:\d{2}:\d{2}\.\d+\t\d+\.\d+: )")
_ONTIMEOUT_JUMP = re.compile(r"receive timeout on message \S+, jumping to label")
_STDERR_NOISE = re.compile(  # SIPp's informational chatter on stderr
    r"^(In pcap .*|max pkt length \d+|base port \d+|Resolving remote host .*"
    r"|There were more errors, .*)$")


class SippError(RuntimeError):
    """A SIPp run failed; the message carries SIPp's own error output."""


# --------------------------------------------------------------------------- ports

def render_scenario(template: str, dest: Path, **values: object) -> Path:
    """Fill ``@@NAME@@`` placeholders of ``tests/sipp/<template>`` and write it to ``dest``.

    XML comments (the templates' documentation) are dropped first. Every placeholder
    must be given, and every value must be used.
    """
    text = re.sub(r"<!--.*?-->\n?", "", (SCENARIO_DIR / template).read_text(encoding="utf-8"),
                  flags=re.DOTALL)
    for name, value in values.items():
        mark = f"@@{name.upper()}@@"
        if mark not in text:
            raise ValueError(f"{template} has no placeholder {mark}")
        text = text.replace(mark, str(value))
    left = sorted(set(re.findall(r"@@[A-Z_]+@@", text)))
    if left:
        raise ValueError(f"{template}: placeholders not filled: {', '.join(left)}")
    dest.write_text(text, encoding="utf-8")
    return dest


def _ms(seconds: float) -> int:
    """Milliseconds for a SIPp timeout; at least 1, as SIPp reads 0 as 'no timeout'."""
    return max(1, round(seconds * 1000))


# --------------------------------------------------------------------------- results

@dataclass(frozen=True)
class SippStats:
    """The last row of SIPp's ``-trace_stat`` file (cumulative ``(C)`` counters)."""

    created: int = 0
    successful: int = 0
    failed: int = 0
    current: int = 0
    retransmissions: int = 0
    warnings: int = 0
    fatal_errors: int = 0
    watchdog_major: int = 0
    watchdog_minor: int = 0
    failed_reasons: dict[str, int] = field(default_factory=dict)  # e.g. TimeoutOnRecv: 1

    @classmethod
    def read(cls, path: Path) -> SippStats | None:
        """Parse the stats file; None if SIPp has not written a row yet."""
        try:
            with open(path, newline="", encoding="utf-8", errors="replace") as f:
                rows = [row for row in csv.DictReader(f, delimiter=";") if row.get("StartTime")]
        except FileNotFoundError:
            return None
        if not rows:
            return None
        row = rows[-1]

        def count(key: str) -> int:
            try:
                return int(row.get(key) or 0)
            except ValueError:
                return 0

        reasons = {key[len("Failed"):-len("(C)")]: count(key) for key in row
                   if key and key.startswith("Failed") and key.endswith("(C)")
                   and key != "FailedCall(C)" and count(key)}
        return cls(created=count("TotalCallCreated"), successful=count("SuccessfulCall(C)"),
                   failed=count("FailedCall(C)"), current=count("CurrentCall"),
                   retransmissions=count("Retransmissions(C)"), warnings=count("Warnings(C)"),
                   fatal_errors=count("FatalErrors(C)"),
                   watchdog_major=count("WatchdogMajor(C)"),
                   watchdog_minor=count("WatchdogMinor(C)"), failed_reasons=reasons)


def parse_error_log(text: str) -> list[str]:
    """SIPp's error-log entries, one string each, without the expected ontimeout jumps.

    SIPp writes the entries back to back (no newline in between), each starting with
    ``YYYY-MM-DD<TAB>HH:MM:SS.us<TAB>epoch: ``; an entry may span lines (it can quote a
    whole SIP message).
    """
    parts = _ERROR_ENTRY.split(text)
    entries = [(stamp + body).strip()
               for stamp, body in zip(parts[1::2], parts[2::2], strict=False)]
    return [entry for entry in entries if not _ONTIMEOUT_JUMP.search(entry)]


def overload_warnings(entries: list[str]) -> list[str]:
    """SIPp's overload/watchdog warnings and errors among the error-log entries.

    SIPp says "Overload warning: the major/minor watchdog timer ...ms has been tripped"
    when its event loop ran late (the watchdog task, due every 400 ms, ran more than
    500 ms / 3 s after the previous run: the machine is too busy for the load asked of
    it), and "Overload error: ..." before ending the test when that happened too often
    (more than 120 minor or 10 major trips).
    """
    return [e for e in entries if "Overload" in e or "watchdog" in e.lower()]


def clean_stderr(stderr: str, entries: list[str]) -> str:
    """SIPp's stderr without its informational chatter and without the copy of its last
    error that it prints at exit (already among the error-log ``entries``, or an
    expected ontimeout jump)."""
    parts = _ERROR_ENTRY.split(stderr)
    kept = [parts[0]]
    for stamp, body in zip(parts[1::2], parts[2::2], strict=False):
        text = (stamp + body).strip()
        known = next((e for e in entries if text.startswith(e)), None)
        first, _, rest = text.partition("\n")
        if known is not None:
            kept.append(text[len(known):] + "\n")
        elif _ONTIMEOUT_JUMP.search(first):
            kept.append(rest + "\n")
        else:
            kept.append(stamp + body)
    lines = [line for line in "".join(kept).splitlines()
             if line.strip() and not _STDERR_NOISE.match(line.strip())]
    return "\n".join(lines)


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return text if len(text) <= limit else "..." + text[-limit:]


# --------------------------------------------------------------------------- process

class SippProcess:
    """One ``sipp`` process: its private directory, arguments, output files and life.

    ``args`` are the scenario-specific arguments; the ports, output files and the
    options every run needs are added here.
    """

    def __init__(self, name: str, workdir: Path, scenario: str, values: dict[str, object],
                 args: list[str], address: str, sip_port: int | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.dir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=workdir))
        self.scenario = render_scenario(scenario, self.dir / f"{name}.xml", **values)
        self.address = _loopback(address)
        self.args = args
        self.sip_port = sip_port  # None: a free one, chosen at each start
        self.stats_file = self.dir / "stats.csv"
        self.events_file = self.dir / "events.log"
        self.errors_file = self.dir / "errors.log"
        self.stderr_file = self.dir / "stderr.log"
        self.screen_file = self.dir / "screen.log"
        self.proc: asyncio.subprocess.Process | None = None

    def command(self) -> list[str]:
        sipp = shutil.which("sipp")
        if sipp is None:
            raise SippError("sipp is not installed (Debian package sip-tester; make setup)")
        return [
            sipp, *self.args, "-sf", str(self.scenario),
            "-i", self.address, "-bind_local", "-mi", self.address,
            "-p", str(self.sip_port or free_udp_port(self.address)),
            "-cp", str(free_udp_port(AGENT_ADDRESS)), "-ci", AGENT_ADDRESS,
            "-mp", str(free_media_port(self.address)),
            "-nostdin", "-aa",
            "-trace_stat", "-stf", str(self.stats_file), "-fd", "1",
            "-trace_logs", "-log_file", str(self.events_file),
            "-trace_err", "-error_file", str(self.errors_file),
            "-trace_screen", "-screen_file", str(self.screen_file),
        ]

    async def start(self, ready_timeout: float = 10.0) -> None:
        """Start SIPp and wait until it runs its traffic loop (its stats file appears),
        or has already run and ended (a short run: exit code 0 or 1).

        A start lost to a port race (exit 254: another process took one of the ports
        chosen free) is retried with fresh ports; any other early exit raises.
        """
        loop = asyncio.get_running_loop()
        for attempt in range(1, _START_ATTEMPTS + 1):
            for stale in (self.stats_file, self.events_file, self.errors_file, self.screen_file):
                stale.unlink(missing_ok=True)
            env = {**os.environ, "TERM": "dumb"}  # SIPp's curses screen wants a terminal type
            with open(self.stderr_file, "wb") as err:
                self.proc = await asyncio.create_subprocess_exec(
                    *self.command(), cwd=self.dir, env=env, stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
            deadline = loop.time() + ready_timeout
            while self.proc.returncode is None and loop.time() < deadline:
                if self.stats_file.exists():
                    return  # running (SIPp writes it when its traffic loop starts)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.proc.wait(), 0.05)
            code = self.proc.returncode
            if code is None:
                await self.kill()
                raise SippError(f"{self.name}: SIPp did not start in {ready_timeout:.0f} s\n"
                                f"{self.diagnostics()}")
            if code in (EXIT_OK, EXIT_CALLS_FAILED):
                return  # it ran and is already done
            if code != EXIT_BIND_ERROR or attempt == _START_ATTEMPTS:
                raise SippError(f"{self.name}: SIPp exited at start with code {code}\n"
                                f"{self.diagnostics()}")

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode if self.proc else None

    async def wait(self, timeout: float) -> int | None:
        """Wait for SIPp to exit on its own; its exit code, or None on timeout."""
        assert self.proc is not None
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            return None

    async def stop(self, grace: float = 10.0) -> int:
        """Stop SIPp: SIGUSR1 (end when the current calls end), then SIGUSR1 again (abort
        them), then SIGKILL; each waits at most ``grace`` (the abort at most 5 s).

        Works for runs without ``-m`` (the agents). With ``-m``, SIPp 3.6.1 ignores both
        signals once all its calls are placed (it resets its quit flag every loop), so
        this ends in SIGKILL after ``grace + 5`` s.
        """
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return proc.returncode if proc else 0
        for sig, wait in ((signal.SIGUSR1, grace), (signal.SIGUSR1, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            if await self.wait(wait) is not None:
                return proc.returncode
        await self.kill()
        return proc.returncode

    async def terminate(self, grace: float = 5.0) -> int:
        """Exit now (SIGTERM; SIGKILL after ``grace``): no BYE for calls in progress and
        no final statistics row. For a run that :meth:`stop` cannot end (see
        :func:`run_callers`)."""
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return proc.returncode if proc else 0
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        if await self.wait(grace) is None:
            await self.kill()
        return proc.returncode

    async def kill(self) -> None:
        proc = self.proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

    def stats(self) -> SippStats:
        return SippStats.read(self.stats_file) or SippStats()

    def events(self) -> list[list[str]]:
        """The ``<log>`` lines written so far, split on whitespace."""
        try:
            text = self.events_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        return [line.split() for line in text.splitlines() if line.strip()]

    def error_entries(self) -> list[str]:
        return parse_error_log(_tail(self.errors_file, 1_000_000))

    def diagnostics(self) -> str:
        """SIPp's own words: stderr and the error log (tails), and where the files are."""
        parts = [f"[{self.name} files: {self.dir}; exit code {self.returncode}]"]
        entries = self.error_entries()
        stderr = clean_stderr(_tail(self.stderr_file), entries)
        if stderr:
            parts.append("stderr:\n" + stderr)
        if entries:
            shown = entries[-10:]
            more = f" (last {len(shown)} of {len(entries)})" if len(entries) > len(shown) else ""
            parts.append(f"error log{more}:\n" + "\n".join(shown))
        return "\n".join(parts)


# --------------------------------------------------------------------------- register

