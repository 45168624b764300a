"""SIPp test harness: registering agents, answering agents and calling callers.

Modules: ``ports`` (loopback addresses, free ports), ``process`` (one SIPp process, its
statistics and error log), ``agents`` (registration, answering agents), ``callers``
(carrier-side callers). The names below are the harness's public API.

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
  aborts the current calls. :meth:`SippProcess.stop` uses SIGUSR1, then SIGUSR1, then
  SIGKILL, each with a bounded wait. But with ``-m``, once all calls are placed SIPp
  resets its quit flag on every loop, so neither SIGUSR1 nor the ``q``/``Q`` commands
  have any effect: a caller run must end its calls by itself, and :func:`run_callers`
  sizes its timeouts so that it does (see there).
"""

from tests.support.sipp.agents import AgentCounts, SippAgent, register_agents
from tests.support.sipp.callers import CallerResult, caller_numbers, dial, run_callers
from tests.support.sipp.ports import (
    AGENT_ADDRESS,
    ASTERISK_ADDRESS,
    CARRIER_ADDRESS,
    free_media_port,
    free_udp_port,
)
from tests.support.sipp.process import AUDIO_PCAP, SippError, SippProcess, SippStats

__all__ = ["AGENT_ADDRESS", "ASTERISK_ADDRESS", "AUDIO_PCAP", "CARRIER_ADDRESS", "AgentCounts",
           "CallerResult", "SippAgent", "SippError", "SippProcess", "SippStats",
           "caller_numbers", "dial", "free_media_port", "free_udp_port", "register_agents",
           "run_callers"]
