"""Callers from the carrier address: one SIPp UAC run placing calls to a line."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from acd.adapters.test_call import dtmf_capture, speech_capture
from tests.support.sipp.ports import (
    ASTERISK_ADDRESS,
    CARRIER_ADDRESS,
)
from tests.support.sipp.process import (
    _CALL_END_MARGIN,
    _KILL_AFTER,
    AUDIO_PCAP,
    EXIT_OK,
    SippProcess,
    SippStats,
    _ms,
    _tail,
    clean_stderr,
    overload_warnings,
)


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
    """``count`` numbers from ``start`` up, keeping its width (and a leading ``+``, as
    carriers send E.164): 0312340000, 0312340001..."""
    plus, digits = ("+", start[1:]) if start.startswith("+") else ("", start)
    if not digits.isdigit():
        raise ValueError(f"caller number {start!r} is not all digits")
    return [plus + str(int(digits) + i).zfill(len(digits)) for i in range(count)]


async def run_callers(did: str, asterisk_port: int, calls: int, rate: float, workdir: Path,
                      caller_start: str = "0312340000", max_seconds: float = 180.0, *,
                      hangup_after: float | None = None, bye_timeout: float = 120.0,
                      answer_timeout: float = 15.0, pcap: Path = AUDIO_PCAP,
                      source: str = CARRIER_ADDRESS) -> CallerResult:
    """Place ``calls`` calls to line ``did`` at ``rate`` calls/s, as the carrier.

    One SIPp UAC from ``source``, 127.0.0.2 by default (a free port; Asterisk identifies
    the trunk by that source address), ``-m calls -r rate -l calls``. Call *i* (from 0)
    comes from number ``caller_start + i`` (same width, leading zeros and ``+`` kept; an
    injection file's field 0) and is placed about ``i / rate`` s after the start. Each
    call: INVITE (PCMA/8) ->
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
    run = SippProcess("callers", workdir, "caller.xml", values, [], source)
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


async def dial(did: str, state_dir: Path, name: str, keys: list[tuple[float, str]],
               wait: float = 40, speak_after: float | None = None,
               hang_up: bool = False, asterisk_port: int | None = None) -> CallerResult:
    """One call to ``did`` pressing each key (RFC 2833) after its pause (s); then, with
    ``speak_after``, 7 s of speech after that pause; waits ``wait`` s for the BYE, or
    with ``hang_up`` hangs up itself after ``wait`` s. ``asterisk_port``: default the
    tests' SIP port."""
    if asterisk_port is None:
        from tests.conftest import TEST_PORTS

        asterisk_port = TEST_PORTS["sip_port"]
    pcaps = state_dir / "sipp" / f"{name}-dtmf"
    pcaps.mkdir(parents=True, exist_ok=True)
    steps = "".join(
        f'  <pause milliseconds="{round(pause * 1000)}"/>\n'
        f'  <nop><action><exec play_pcap_audio="{dtmf_capture(key, n, pcaps)}"/></action></nop>\n'
        for n, (pause, key) in enumerate(keys))
    if speak_after is not None:
        steps += (f'  <pause milliseconds="{round(speak_after * 1000)}"/>\n'
                  f'  <nop><action><exec play_pcap_audio="{speech_capture(pcaps)}"/></action>'
                  '</nop>\n')
    run = SippProcess("ivr", state_dir / "sipp" / name, "ivr_caller.xml",
                       {"answer_ms": 15000, "wait_bye_ms": round(wait * 1000),
                        "ontimeout": 'ontimeout="hangup"' if hang_up else "",
                        "steps": steps}, [], CARRIER_ADDRESS)
    injection = run.dir / "callers.csv"
    injection.write_text("SEQUENTIAL\n0312340000;\n")
    run.args = [f"{ASTERISK_ADDRESS}:{asterisk_port}", "-s", did, "-inf",
                str(injection), "-m", "1", "-l", "1"]
    started = time.monotonic()
    try:
        await run.start()
        await run.wait(wait + 30)
    finally:
        await run.kill()
    kinds = [e[0] for e in run.events()]
    stats = run.stats() or SippStats()
    return CallerResult(
        calls=1, successful=stats.successful, failed=stats.failed,
        answered=kinds.count("answered"), remote_hangups=kinds.count("remote-hangup"),
        local_hangups=kinds.count("local-hangup"), returncode=run.returncode, timed_out=False,
        duration=time.monotonic() - started, bye_wait=wait, stats=stats,
        errors=run.error_entries(), overload_warnings=[], stderr="", caller_numbers=[],
        call_ids=[], workdir=run.dir)
