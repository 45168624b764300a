"""A test call the way a caller makes one: SIPp calls a line from the carrier's address,
presses the menu keys (RFC 2833 telephone-events), speaks (a G.711 capture), and stays
until the operator hangs up — or hangs up itself after a while, as a caller who gives up.

SIPp (Debian's sip-tester, installed by ``make setup``) ships the captures used here:
``dtmf_2833_<key>.pcap`` and ``g711a.pcap`` in /usr/share/sip-tester. Each key's capture
gets RTP sequence numbers and timestamps past the previous key's (Asterisk takes a
telephone-event with an older timestamp for the same, old event), and the speech follows
the keys.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

CAPTURES = Path("/usr/share/sip-tester")
KEYS = "0123456789*#"


class TestCallError(RuntimeError):
    """The test call cannot be made (no SIPp, no capture for a key)."""


def _rewritten(source: Path, dest: Path, sequence: int, timestamp: int,
               keep_timing: bool) -> Path:
    """A copy of the pcap ``source`` with RTP sequence numbers from ``sequence`` and
    timestamps from ``timestamp`` (``keep_timing``: the source's own spacing kept; else
    one timestamp for all: the packets of one telephone-event), UDP checksums cleared."""
    data = bytearray(source.read_bytes())
    offset, packet, first = 24, 0, None
    while offset < len(data):
        length = struct.unpack_from("<I", data, offset + 8)[0]
        udp, rtp = offset + 16 + 14 + 20, offset + 16 + 42
        struct.pack_into(">H", data, udp + 6, 0)  # no UDP checksum (IPv4 allows it)
        own = struct.unpack_from(">I", data, rtp + 4)[0]
        first = own if first is None else first
        if keep_timing:
            struct.pack_into(">HI", data, rtp + 2, sequence + packet, timestamp + own - first)
        else:  # an event's packets share its timestamp; its last ones repeat the sequence
            struct.pack_into(">HI", data, rtp + 2, sequence + min(packet, 7), timestamp)
        offset += 16 + length
        packet += 1
    dest.write_bytes(bytes(data))
    return dest


def dtmf_capture(key: str, step: int, directory: Path) -> Path:
    """The capture of ``key`` as the ``step``-th key of a call (from 0)."""
    if len(key) != 1 or key not in KEYS:
        raise TestCallError(f"{key!r} is not a telephone key (0-9, * or #)")
    name = {"*": "star", "#": "pound"}.get(key, key)
    source = CAPTURES / f"dtmf_2833_{name}.pcap"
    if not source.exists():
        raise TestCallError(f"{source} is missing (install sip-tester: make setup)")
    return _rewritten(source, directory / f"dtmf-{step}-{name}.pcap",
                      20000 + step * 100, 1_000_000 + step * 80_000, keep_timing=False)


def speech_capture(directory: Path) -> Path:
    """7 s of speech (``g711a.pcap``) numbered after the keys' captures."""
    return _rewritten(CAPTURES / "g711a.pcap", directory / "speech.pcap", 40000, 3_000_000,
                      keep_timing=True)


@dataclass(frozen=True)
class TestCall:
    answered: bool  # the line answered (200 OK)
    ended_by: str  # "line" (the operator or the line hung up), "caller", or "failed"
    log: str  # SIPp's messages when it failed


def scenario(steps: str, wait_ms: int, hang_up: bool) -> str:
    """The SIPp scenario: INVITE (PCMA + telephone-event) -> 200 -> ACK -> ``steps`` (each
    ends at label ``bye`` when the line hangs up meanwhile) -> wait for the BYE
    ``wait_ms`` (``hang_up``: then hang up ourselves) -> answer it."""
    ontimeout = ' ontimeout="hangup"' if hang_up else ""
    via = "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]"
    me = "<sip:[field0]@[local_ip]:[local_port]>"
    return f"""<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="madoguchi-test-call">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
{via}
From: {me};tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: {me}
Max-Forwards: 70
User-Agent: Madoguchi test call
Content-Type: application/sdp
Content-Length: [len]

v=0
o=caller 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=sendrecv
]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true" timeout="30000">
    <action><ereg regexp="[^[:space:]].*" search_in="hdr" header="To:" assign_to="to"/>
    </action>
  </recv>
  <send><![CDATA[
ACK [next_url] SIP/2.0
{via}
From: {me};tag=[pid]SIPpTag00[call_number]
To: [$to]
[routes]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: {me}
Max-Forwards: 70
Content-Length: 0

]]></send>
  <nop><action><log message="answered"/></action></nop>
{steps}
  <recv request="BYE" timeout="{wait_ms}"{ontimeout}/>
  <label id="bye"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <nop next="done"><action><log message="ended-by-line"/></action></nop>
  <label id="hangup"/>
  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
{via}
From: {me};tag=[pid]SIPpTag00[call_number]
To: [$to]
[routes]
Call-ID: [call_id]
CSeq: 2 BYE
Contact: {me}
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200" timeout="32000">
    <action><log message="ended-by-caller"/></action>
  </recv>
  <label id="done"/>
  <timewait milliseconds="1000"/>
</scenario>
"""


def place_test_call(did: str, asterisk: str, source: str, caller: str,
                          keys: str, pause: float, hang_up_after: float | None,
                          workdir: Path) -> TestCall:
    """Call ``did`` at ``asterisk`` (host:port) from ``source`` (the carrier's address)
    as ``caller``; press ``keys``, each ``pause`` s after the previous step; speak; wait
    for the line to hang up (``hang_up_after``: hang up after that many seconds)."""
    sipp = shutil.which("sipp")
    if sipp is None:
        raise TestCallError("sipp is not installed (Debian package sip-tester; make setup)")
    workdir.mkdir(parents=True, exist_ok=True)
    # each pause waits for a BYE (a menu choice may end the call) and plays on at its end
    captures = [dtmf_capture(key, n, workdir) for n, key in enumerate(keys)]
    steps = "".join(
        f'  <recv request="BYE" timeout="{round(pause * 1000)}" ontimeout="step{n}"/>\n'
        f'  <nop next="bye"/>\n  <label id="step{n}"/>\n'
        f'  <nop><action><exec play_pcap_audio="{capture}"/></action></nop>\n'
        for n, capture in enumerate([*captures, speech_capture(workdir)]))
    wait = hang_up_after if hang_up_after is not None else 3600.0
    (workdir / "test-call.xml").write_text(scenario(steps, round(wait * 1000),
                                                    hang_up_after is not None))
    (workdir / "caller.csv").write_text(f"SEQUENTIAL\n{caller};\n")
    log = workdir / "events.log"
    log.unlink(missing_ok=True)
    done = subprocess.run(
        [sipp, asterisk, "-sf", str(workdir / "test-call.xml"), "-s", did,
         "-inf", str(workdir / "caller.csv"), "-i", source, "-mi", source, "-bind_local",
         "-m", "1", "-l", "1", "-nostdin", "-aa",
         "-trace_logs", "-log_file", str(log), "-trace_err",
         "-error_file", str(workdir / "errors.log")], cwd=workdir,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=wait + 120)
    stderr = done.stderr
    events = log.read_text().split() if log.exists() else []
    errors = workdir / "errors.log"
    detail = (errors.read_text(errors="replace")[-2000:] if errors.exists() else "") + \
        stderr.decode(errors="replace")[-1000:]
    ended = ("line" if "ended-by-line" in events else
             "caller" if "ended-by-caller" in events else "failed")
    return TestCall("answered" in events, ended, detail if ended == "failed" else "")


__all__ = ["TestCall", "TestCallError", "dtmf_capture", "place_test_call", "speech_capture"]
