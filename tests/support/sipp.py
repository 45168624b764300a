"""SIPp test harness: registering agents, answering agents and calling callers.

Everything here drives the ``sipp`` binary (Debian's sip-tester, 3.6) as asyncio
subprocesses against an Asterisk listening on UDP ``127.0.0.1:<port>``:

* :func:`register_agents` -- REGISTER agents with digest auth (one short SIPp run each).
* :class:`SippAgent` -- a long-running UAS on ``127.0.0.1:<contact_port>`` that answers,
  talks and hangs up every call it is offered, and counts them.
* :func:`run_callers` -- one UAC run from the carrier address ``127.0.0.2`` that places
  ``calls`` calls to a line and reports how they went, in a :class:`CallerResult`.

The scenarios are templates in ``tests/sipp/*.xml``; :func:`render_scenario` fills their
``@@NAME@@`` placeholders and writes them into a private directory per SIPp process (under
the ``workdir`` the caller gives, e.g. pytest's ``tmp_path``), next to all that process's
output files:

``stats.csv``   ``-trace_stat`` (``-fd 1``: one row a second, and a final one at a clean
                exit). The source of the success/failure counts: :class:`SippStats`.
``events.log``  ``-trace_logs``: one line per call outcome, written by ``<log>`` actions in
                the scenarios and flushed at once by SIPp, so it can be read while SIPp
                runs. The source of the per-outcome counts (answered, completed...).
``errors.log``  ``-trace_err``: SIPp's warnings and errors, including its overload
                (watchdog) warnings. Without ``-trace_err`` SIPp keeps only the *last*
                error and prints it at exit, so this file is the only complete record.
``stderr.log``  SIPp's standard error: start-up failures and the final error summary.
``screen.log``  ``-trace_screen``: SIPp's final statistics screens, for humans.

Ports: every SIPp process binds its SIP port, a control port (``-cp``; SIPp refuses to
start when it is taken), and a media port *pair* (``-mp p`` binds ``p`` and ``p+2``).
The control and media ports, and the SIP port but an agent's, are chosen free here
(:func:`free_udp_port`, :func:`free_media_port`); a process that still loses a port race
(exit code 254) is restarted with fresh ports. The control socket is bound to 127.0.0.1
(``-ci``; SIPp binds it to every address otherwise), SIP and media to the given loopback
address (``-i ... -bind_local -mi ...``), so nothing here is reachable from elsewhere.

Audio: ``play_pcap_audio`` sends RTP from a raw socket, which needs root (or
CAP_NET_RAW); it plays ``/usr/share/sip-tester/g711a.pcap``, 7 s of G.711 A-law (PT 8).

SIPp quirks handled here (3.6.1):

* Without ``-l``, SIPp allows only ``3 * rate * (sum of <pause>s)`` simultaneous calls,
  and at least 1: our scenarios wait with receive timeouts, not pauses, so the limit
  would be 1 call at a time. :func:`run_callers` always passes ``-l``.
* A ``<recv timeout=... ontimeout=...>`` that times out is normal flow in our scenarios,
  but SIPp logs it as a warning ("receive timeout on message ..., jumping to label ...")
  and counts it in ``Warnings``; :func:`parse_error_log` leaves those out.
* Entries in SIPp's error log are not separated by newlines; they are split here on
  their timestamp prefix.
* SIGTERM makes SIPp exit at once *without* its final statistics row; SIGUSR1 stops
  new calls and exits when the current ones end (with the final row), a second SIGUSR1
  aborts the current calls. :meth:`_SippProcess.stop` uses SIGUSR1, then SIGUSR1, then
  SIGKILL, each with a bounded wait. But with ``-m``, once all calls are placed SIPp
  resets its quit flag on every loop, so neither SIGUSR1 nor the ``q``/``Q`` commands
  have any effect: a caller run must end its calls by itself, and :func:`run_callers`
  sizes its timeouts so that it does (see there).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "sipp"
AUDIO_PCAP = Path("/usr/share/sip-tester/g711a.pcap")
AGENT_ADDRESS = "127.0.0.1"
CARRIER_ADDRESS = "127.0.0.2"
ASTERISK_ADDRESS = "127.0.0.1"

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

def _loopback(address: str) -> str:
    if not address.startswith("127."):
        raise ValueError(f"{address!r} is not a loopback address; tests use 127.0.0.0/8 only")
    return address


def free_udp_port(host: str = AGENT_ADDRESS) -> int:
    """A UDP port on ``host`` that is free now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((_loopback(host), 0))
        return sock.getsockname()[1]


def free_media_port(host: str = AGENT_ADDRESS, tries: int = 200) -> int:
    """An even UDP port ``p`` on ``host`` with ``p`` and ``p+2`` free (SIPp's ``-mp``)."""
    for _ in range(tries):
        port = free_udp_port(host)
        if port % 2 or port + 2 > 65535:
            continue
        with contextlib.ExitStack() as stack:
            try:
                for p in (port, port + 2):
                    sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
                    sock.bind((host, p))
            except OSError:
                continue
            return port
    raise OSError(f"no free even UDP port pair on {host}")


# --------------------------------------------------------------------------- scenarios

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

class _SippProcess:
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

async def register_agents(agents: list[tuple[str, str]], asterisk_port: int,
                          contact_ports: dict[str, int], workdir: Path, expires: int = 3600,
                          timeout: float = 20.0, attempts: int = 3) -> None:
    """:func:`_register_agents`, tried again (with fresh local ports) when a SIPp run lost
    the race for its port to another process ("Address already in use")."""
    for attempt in range(1, attempts + 1):
        try:
            return await _register_agents(agents, asterisk_port, contact_ports, workdir,
                                          expires, timeout)
        except SippError as exc:
            if "Address already in use" not in str(exc) or attempt == attempts:
                raise


async def _register_agents(agents: list[tuple[str, str]], asterisk_port: int,
                           contact_ports: dict[str, int], workdir: Path, expires: int = 3600,
                           timeout: float = 20.0) -> None:
    """REGISTER each ``(agent_id, password)`` with Asterisk, all at once.

    One short SIPp run per agent (``-m 1``) from 127.0.0.1 and a free port: REGISTER,
    401 challenge, REGISTER with digest ``[authentication username=<id> password=...]``,
    200. The Contact is ``sip:<id>@127.0.0.1:<contact_ports[id]>``, where that agent's
    :class:`SippAgent` listens (it need not run yet; Asterisk rings the Contact, not the
    REGISTER's source, unless the endpoint has ``rewrite_contact=yes``).

    ``expires=0`` removes the registrations. Raises :class:`SippError` naming every
    agent whose registration failed, with SIPp's error output; every SIPp run ends
    within ``timeout`` seconds (killed otherwise).
    """
    runs: list[tuple[str, _SippProcess]] = []
    for agent_id, password in agents:
        if not _PASSWORD_OK.fullmatch(password) or not agent_id.isalnum():
            raise ValueError(f"agent {agent_id!r}: id or password has characters SIPp's "
                             "[authentication] keyword cannot carry")
        if agent_id not in contact_ports:
            raise ValueError(f"no contact port for agent {agent_id}")
        values = {"user": agent_id, "password": password,
                  "contact_port": contact_ports[agent_id], "expires": int(expires)}
        runs.append((agent_id, _SippProcess(
            f"register-{agent_id}", workdir, "register.xml", values,
            [f"{ASTERISK_ADDRESS}:{asterisk_port}", "-m", "1"], AGENT_ADDRESS)))

    async def one(run: _SippProcess) -> int | None:
        try:
            await run.start()
            return await run.wait(timeout)
        finally:
            await run.kill()

    codes = await asyncio.gather(*(one(run) for _, run in runs), return_exceptions=True)
    failures = []
    for (agent_id, run), code in zip(runs, codes, strict=False):
        if isinstance(code, BaseException):
            failures.append(f"agent {agent_id}: {code}")
        elif code is None:
            failures.append(f"agent {agent_id}: no answer in {timeout:.0f} s\n{run.diagnostics()}")
        elif code != EXIT_OK or not any(e[:1] == ["registered"] for e in run.events()):
            failures.append(f"agent {agent_id}: registration failed\n{run.diagnostics()}")
    if failures:
        raise SippError("REGISTER failed:\n" + "\n\n".join(failures))


# --------------------------------------------------------------------------- agent

@dataclass(frozen=True)
class AgentCounts:
    """What a :class:`SippAgent` did, from its event log (live) and statistics.

    ``answered``: calls it answered (ACK received, audio started). Each answered call ends
    as ``completed`` (the agent hung up after ``talk_seconds``, 200 to its BYE) or
    ``remote_hangups`` (Asterisk hung up first), unless still ``talking``.
    ``cancelled``: offers withdrawn while ringing (CANCEL). ``failed``: calls SIPp counted
    as failed (unexpected message, timeout; see the agent's diagnostics; from SIPp's
    statistics, updated once a second while running). ``offered``: INVITEs received.
    """

    offered: int
    answered: int
    completed: int
    remote_hangups: int
    cancelled: int
    failed: int

    @property
    def talking(self) -> int:
        return self.answered - self.completed - self.remote_hangups


class SippAgent:
    """An answering agent: one long-running SIPp UAS on ``127.0.0.1:<contact_port>``.

    For every INVITE: 180, ring ``ring_seconds``, 200 OK with SDP (PCMA/8); on ACK play
    ``g711a.pcap``; after ``talk_seconds`` in total from the ACK, BYE and expect 200. A
    BYE from Asterisk while talking is answered and ends the call, a CANCEL while ringing
    ends the offer (487). Calls in sequence or overlapping are all answered; out-of-call
    requests (a qualify OPTIONS) get SIPp's automatic 200.

    Counting: :meth:`counts` reads the scenario's ``<log>`` lines (one per step of each
    call: offered, answered, then how it ended; flushed by SIPp as they happen, so the
    counts are live and per outcome), plus SIPp's ``-trace_stat`` row for the failed
    calls. The log is the primary source because the statistics file is written only
    once a second, lacks its final row if SIPp is killed, and counts out-of-call
    requests as calls; :meth:`call_ids` gives the Call-IDs for matching against AMI.

    Use ``async with SippAgent(...) as agent:`` or :meth:`start` / :meth:`stop`.
    Register the agent separately (:func:`register_agents`) with the same contact port.
    """

    def __init__(self, agent_id: str, contact_port: int, workdir: Path, *,
                 talk_seconds: float = 4.0, ring_seconds: float = 0.0,
                 pcap: Path = AUDIO_PCAP, talk_max_seconds: float | None = None,
                 address: str = AGENT_ADDRESS) -> None:
        """``talk_max_seconds``: talk a random time, uniform in [talk_seconds,
        talk_max_seconds], drawn for each call (then Asterisk must not hang up first).
        ``address``: where to listen; the carrier's (127.0.0.2) for a UAS standing for
        an external number that Asterisk dials through the trunk."""
        if talk_seconds <= 0 or ring_seconds < 0:
            raise ValueError("talk_seconds must be > 0 and ring_seconds >= 0")
        if talk_max_seconds is not None and talk_max_seconds < talk_seconds:
            raise ValueError("talk_max_seconds must be >= talk_seconds")
        self.agent_id = agent_id
        self.contact_port = contact_port
        self.talk_seconds = talk_seconds
        self.ring_seconds = ring_seconds
        if talk_max_seconds is None:
            talk = (f'<recv request="BYE" timeout="{_ms(talk_seconds)}" ontimeout="hangup"/>')
        else:
            talk = (f'<pause distribution="uniform" min="{_ms(talk_seconds)}" '
                    f'max="{_ms(talk_max_seconds)}"/>\n  <nop next="hangup"/>')
        values = {"pcap": pcap, "ring_ms": _ms(ring_seconds), "talk": talk}
        self._run = _SippProcess(f"agent-{agent_id}", workdir, "agent.xml", values, [],
                                 address, sip_port=contact_port)

    @property
    def dir(self) -> Path:
        """The directory holding this agent's scenario and SIPp's output files."""
        return self._run.dir

    @property
    def running(self) -> bool:
        return self._run.proc is not None and self._run.returncode is None

    async def start(self) -> None:
        """Start listening; raises :class:`SippError` (e.g. port taken) with SIPp's output."""
        await self._run.start()

    async def stop(self, grace: float | None = None) -> AgentCounts:
        """Stop taking calls and exit, letting calls in progress finish for ``grace``
        seconds (default: the ring and talk times plus 5 s); then abort them and, as a
        last resort, kill SIPp. Returns the final counts."""
        if grace is None:
            grace = self.ring_seconds + self.talk_seconds + 5.0
        await self._run.stop(grace)
        return self.counts()

    async def __aenter__(self) -> SippAgent:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def counts(self) -> AgentCounts:
        events = self._run.events()
        kinds = [e[0] for e in events]
        stats = self._run.stats()
        return AgentCounts(offered=kinds.count("offered"), answered=kinds.count("answered"),
                           completed=kinds.count("completed"),
                           remote_hangups=kinds.count("remote-hangup"),
                           cancelled=kinds.count("cancelled"), failed=stats.failed)

    def call_ids(self, outcome: str = "answered") -> list[str]:
        """Call-IDs (Asterisk's, of the INVITEs to this agent) with that logged step:
        offered, answered, completed, remote-hangup or cancelled."""
        return [e[1] for e in self._run.events() if e[0] == outcome and len(e) > 1]

    async def wait_for(self, answered: int, timeout: float) -> AgentCounts:
        """Wait until the agent has answered ``answered`` calls in total; raise
        TimeoutError (with diagnostics) if not within ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            counts = self.counts()
            if counts.answered >= answered:
                return counts
            if not self.running:
                raise SippError(f"agent {self.agent_id} exited\n{self.diagnostics()}")
            if loop.time() >= deadline:
                raise TimeoutError(f"agent {self.agent_id}: {counts.answered} of {answered} "
                                   f"calls answered in {timeout:.0f} s\n{self.diagnostics()}")
            await asyncio.sleep(0.1)

    def overload_warnings(self) -> list[str]:
        return overload_warnings(self._run.error_entries())

    def diagnostics(self) -> str:
        return self._run.diagnostics()


# --------------------------------------------------------------------------- callers

@dataclass(frozen=True)
class CallerResult:
    """How a :func:`run_callers` run went.

    ``successful`` / ``failed`` are SIPp's own per-call verdicts (a call succeeds when it
    reaches the end of the scenario: answered and then hung up by Asterisk, or by the
    caller in ``hangup_after`` mode). ``answered``, ``remote_hangups``, ``local_hangups``
    count the outcomes the scenario logged. ``errors`` are SIPp's error-log entries
    (unexpected messages, timeouts...), ``overload_warnings`` the watchdog ones among
    them (also counted in ``stats.watchdog_*``); ``stderr`` is SIPp's standard error.
    ``timed_out`` means SIPp overran ``max_seconds`` and was killed: its statistics are
    then those of its last one-second dump, and ``unfinished`` calls may still be up in
    Asterisk. ``bye_wait`` is how long each call waited for Asterisk's BYE (or, with
    ``hangup_after``, before hanging up). ``call_ids`` are those of the answered calls.
    """

    calls: int
    successful: int
    failed: int
    answered: int
    remote_hangups: int
    local_hangups: int
    returncode: int | None
    timed_out: bool
    duration: float
    bye_wait: float
    stats: SippStats
    errors: list[str]
    overload_warnings: list[str]
    stderr: str
    caller_numbers: list[str]
    call_ids: list[str]
    workdir: Path

    @property
    def overloaded(self) -> bool:
        """SIPp's major watchdog tripped (its loop stalled > 3 s) or it ended the test on
        overload: its timing (rate, timeouts) cannot be trusted. Minor trips (the loop ran
        > 100 ms late: the watchdog fires every 400 ms, minor threshold 500 ms) happen on
        a busy 2-CPU machine and are only listed in ``overload_warnings``."""
        return (self.stats.watchdog_major > 0
                or any("Overload error" in w for w in self.overload_warnings))

    @property
    def unfinished(self) -> int:
        """Calls neither successful nor failed (not placed, or cut off by a kill)."""
        return self.calls - self.successful - self.failed

    @property
    def ok(self) -> bool:
        """Every call placed and successful, and SIPp exited cleanly."""
        return (not self.timed_out and self.returncode == EXIT_OK
                and self.successful == self.calls and self.failed == 0)

    def describe(self) -> str:
        lines = [f"{self.successful}/{self.calls} calls successful, {self.failed} failed, "
                 f"{self.answered} answered, {self.remote_hangups} hung up by Asterisk, "
                 f"{self.local_hangups} by the caller; exit code {self.returncode}"
                 f"{', TIMED OUT' if self.timed_out else ''}; {self.duration:.1f} s "
                 f"(BYE wait {self.bye_wait:g} s); files in {self.workdir}"]
        if self.unfinished:
            lines.append(f"{self.unfinished} call(s) unfinished")
        if self.stats.failed_reasons:
            lines.append(f"failure reasons: {self.stats.failed_reasons}")
        if self.overload_warnings:
            lines.append("SIPp overload warnings:\n" + "\n".join(self.overload_warnings[-5:]))
        if self.errors:
            lines.append("SIPp errors (last 10):\n" + "\n".join(self.errors[-10:]))
        stderr = clean_stderr(self.stderr, self.errors)
        if stderr:
            lines.append("SIPp stderr:\n" + stderr)
        return "\n".join(lines)

    def check(self) -> CallerResult:
        """Return self if :attr:`ok`, else raise AssertionError with :meth:`describe`."""
        if not self.ok:
            raise AssertionError(self.describe())
        return self


def caller_numbers(start: str, count: int) -> list[str]:
    """``count`` numbers from ``start`` up, keeping its width: 0312340000, 0312340001..."""
    if not start.isdigit():
        raise ValueError(f"caller number {start!r} is not all digits")
    return [str(int(start) + i).zfill(len(start)) for i in range(count)]


async def run_callers(did: str, asterisk_port: int, calls: int, rate: float, workdir: Path,
                      caller_start: str = "0312340000", max_seconds: float = 180.0, *,
                      hangup_after: float | None = None, bye_timeout: float = 120.0,
                      answer_timeout: float = 15.0, pcap: Path = AUDIO_PCAP) -> CallerResult:
    """Place ``calls`` calls to line ``did`` at ``rate`` calls/s, as the carrier.

    One SIPp UAC from 127.0.0.2 (a free port; Asterisk identifies the carrier by that
    source address), ``-m calls -r rate -l calls``. Call *i* (from 0) comes from number
    ``caller_start + i`` (same width, leading zeros kept; an injection file's field 0) and
    is placed about ``i / rate`` s after the start. Each call: INVITE (PCMA/8) ->
    optional 100/180/183 -> 200 within ``answer_timeout`` -> ACK -> plays g711a.pcap ->
    then either

    * ``hangup_after=None``: waits for Asterisk's BYE and answers 200 (the normal end:
      the agent hung up). No BYE in time fails the call, and SIPp hangs it up (BYE).
      The wait is ``bye_timeout``, shortened if need be so that the last call still ends
      by ``max_seconds`` (see below); the result's ``bye_wait`` says what was used.
    * ``hangup_after=N``: hangs up itself N s after the answer (BYE, expects 200), as an
      abandoning caller does, unless Asterisk hangs up first (counted in
      ``remote_hangups``; both ends count as successful).

    ``max_seconds`` bounds the run. SIPp must end its calls by itself: SIPp 3.6.1 cannot
    be told to abort calls once all ``-m`` calls are placed (its main loop resets the quit
    flag that SIGUSR1 and the ``q`` command set), and killing it would leave the calls up
    in Asterisk. So the per-call waits are chosen to fit: ``ValueError`` if
    ``(calls - 1) / rate + answer_timeout + <wait> + 5 s`` exceeds ``max_seconds`` with
    ``hangup_after``, and the BYE wait is shortened otherwise. Should SIPp still run
    10 s past ``max_seconds``, it is killed and the result says ``timed_out``.

    Never raises for failed calls: inspect the :class:`CallerResult`
    (``result.check()`` asserts all succeeded).
    """
    if calls < 1 or rate <= 0:
        raise ValueError("calls must be >= 1 and rate > 0")
    if not did.isdigit():
        raise ValueError(f"DID {did!r} is not all digits")
    numbers = caller_numbers(caller_start, calls)
    last_start = (calls - 1) / rate
    budget = max_seconds - last_start - answer_timeout - _CALL_END_MARGIN
    if hangup_after is not None:
        if hangup_after > budget:
            raise ValueError(
                f"max_seconds={max_seconds:g} is too short: the last call starts at "
                f"~{last_start:.0f} s, may wait {answer_timeout:g} s for the answer and hangs "
                f"up {hangup_after:g} s later (+{_CALL_END_MARGIN:g} s)")
        wait = hangup_after
    else:
        wait = min(bye_timeout, budget)
        if wait < 1.0:
            raise ValueError(
                f"max_seconds={max_seconds:g} leaves the last call (placed at "
                f"~{last_start:.0f} s, answer within {answer_timeout:g} s) no time to wait "
                "for Asterisk's BYE")
    values = {"pcap": pcap, "answer_ms": _ms(answer_timeout), "wait_bye_ms": _ms(wait),
              "ontimeout": 'ontimeout="hangup"' if hangup_after is not None else ""}
    run = _SippProcess("callers", workdir, "caller.xml", values, [], CARRIER_ADDRESS)
    # The injection file lives in the run's own directory, known only now.
    injection = run.dir / "callers.csv"
    injection.write_text("SEQUENTIAL\n" + "".join(f"{n};\n" for n in numbers))
    run.args = [f"{ASTERISK_ADDRESS}:{asterisk_port}", "-s", did, "-inf", str(injection),
                "-m", str(calls), "-l", str(calls), "-r", f"{rate:g}", "-rp", "1000"]

    loop = asyncio.get_running_loop()
    started = loop.time()
    timed_out = False
    try:
        await run.start()
        remaining = max_seconds + _KILL_AFTER - (loop.time() - started)
        if await run.wait(max(0.0, remaining)) is None:
            timed_out = True
            await run.terminate()
    finally:
        await run.kill()
    duration = loop.time() - started

    events = run.events()
    kinds = [e[0] for e in events]
    stats = run.stats()
    entries = run.error_entries()
    return CallerResult(
        calls=calls, successful=stats.successful, failed=stats.failed,
        answered=kinds.count("answered"), remote_hangups=kinds.count("remote-hangup"),
        local_hangups=kinds.count("local-hangup"), returncode=run.returncode,
        timed_out=timed_out, duration=duration, bye_wait=wait, stats=stats, errors=entries,
        overload_warnings=overload_warnings(entries), stderr=_tail(run.stderr_file),
        caller_numbers=numbers,
        call_ids=[e[2] for e in events if e[0] == "answered" and len(e) > 2],
        workdir=run.dir)


__all__ = [
    "AGENT_ADDRESS", "AUDIO_PCAP", "CARRIER_ADDRESS", "AgentCounts", "CallerResult",
    "SippAgent", "SippError", "SippStats", "caller_numbers", "clean_stderr", "free_media_port",
    "free_udp_port", "overload_warnings", "parse_error_log", "register_agents",
    "render_scenario", "run_callers",
]
