"""Registered agents: REGISTER with digest auth, and long-running SIPp UASs that answer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from tests.support.sipp.ports import AGENT_ADDRESS, ASTERISK_ADDRESS
from tests.support.sipp.process import (
    _PASSWORD_OK,
    AUDIO_PCAP,
    EXIT_OK,
    SippError,
    SippProcess,
    _ms,
    overload_warnings,
)


async def register_agents(agents: list[tuple[str, str]], asterisk_port: int,
                          contact_ports: dict[str, int], workdir: Path, expires: int = 3600,
                          timeout: float = 20.0, attempts: int = 3,
                          address: str = AGENT_ADDRESS) -> None:
    """:func:`_register_agents`, tried again (with fresh local ports) when a SIPp run lost
    the race for its port to another process ("Address already in use")."""
    for attempt in range(1, attempts + 1):
        try:
            return await _register_agents(agents, asterisk_port, contact_ports, workdir,
                                          expires, timeout, address)
        except SippError as exc:
            if "Address already in use" not in str(exc) or attempt == attempts:
                raise


async def _register_agents(agents: list[tuple[str, str]], asterisk_port: int,
                           contact_ports: dict[str, int], workdir: Path, expires: int = 3600,
                           timeout: float = 20.0, address: str = AGENT_ADDRESS) -> None:
    """REGISTER each ``(agent_id, password)`` with Asterisk, all at once.

    One short SIPp run per agent (``-m 1``) from ``address`` (127.0.0.1) and a free port:
    REGISTER, 401 challenge, REGISTER with digest
    ``[authentication username=<id> password=...]``, 200. The Contact is
    ``sip:<id>@<address>:<contact_ports[id]>``, where that agent's :class:`SippAgent`
    listens (it need not run yet; Asterisk rings the Contact, not the REGISTER's source,
    unless the endpoint has ``rewrite_contact=yes``).

    ``expires=0`` removes the registrations. Raises :class:`SippError` naming every
    agent whose registration failed, with SIPp's error output; every SIPp run ends
    within ``timeout`` seconds (killed otherwise).
    """
    runs: list[tuple[str, SippProcess]] = []
    for agent_id, password in agents:
        if not _PASSWORD_OK.fullmatch(password) or not agent_id.isalnum():
            raise ValueError(f"agent {agent_id!r}: id or password has characters SIPp's "
                             "[authentication] keyword cannot carry")
        if agent_id not in contact_ports:
            raise ValueError(f"no contact port for agent {agent_id}")
        values = {"user": agent_id, "password": password,
                  "contact_port": contact_ports[agent_id], "expires": int(expires)}
        runs.append((agent_id, SippProcess(
            f"register-{agent_id}", workdir, "register.xml", values,
            [f"{ASTERISK_ADDRESS}:{asterisk_port}", "-m", "1"], address)))

    async def one(run: SippProcess) -> int | None:
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
        self._run = SippProcess(f"agent-{agent_id}", workdir, "agent.xml", values, [],
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

    def identities(self) -> list[str]:
        """For each INVITE: its From and P-Asserted-Identity headers (the caller ID the
        agent, or a department behind the carrier, was shown)."""
        return [" ".join(e[2:]) for e in self._run.events() if e[:1] == ["identity"]]

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
