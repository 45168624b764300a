"""An operator's desk on another host: a network namespace made for the test (a veth pair,
addresses the test chooses, removed afterwards) running baresip, a real softphone, that
registers over TLS and answers with SRTP; and what passes on the desk's wire."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import TEST_PORTS


def _ip(*args: str, netns: str | None = None) -> None:
    command = ["ip", *(["netns", "exec", netns, "ip"] if netns else []), *args]
    subprocess.run(command, check=True, capture_output=True)


@dataclass(frozen=True)
class Desk:
    netns: str
    host_address: str  # the server's end of the link
    desk_address: str


@contextlib.contextmanager
def desk_host(subnet: str | None = None) -> Iterator[Desk]:
    """A second host: namespace ``mdg-desk-<pid>`` reached over a veth pair,
    ``<subnet>.1`` on this side and ``<subnet>.2`` on the desk's; the default subnet is
    one per test port base (``10.77.<base / 1000>``), so that two runs never share it."""
    subnet = subnet or f"10.77.{TEST_PORTS['sip_port'] // 1000 % 256}"
    name = f"mdg-desk-{os.getpid()}"
    outside, inside = f"mdgh{os.getpid() % 100000}", f"mdgd{os.getpid() % 100000}"
    desk = Desk(name, f"{subnet}.1", f"{subnet}.2")
    _ip("netns", "add", name)
    try:
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", name)
        _ip("addr", "add", f"{desk.host_address}/24", "dev", outside)
        _ip("link", "set", outside, "up")
        _ip("addr", "add", f"{desk.desk_address}/24", "dev", inside, netns=name)
        _ip("link", "set", inside, "up", netns=name)
        _ip("link", "set", "lo", "up", netns=name)
        yield desk
    finally:
        subprocess.run(["ip", "link", "del", outside], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


class Baresip:
    """baresip, a real softphone, with one account answering every call at once and
    sending ``tone`` (a WAV, 8 kHz mono) as its voice: on the desk (its namespace) over
    TLS with mandatory SRTP when ``ca_file`` is given, else over plain UDP and RTP on
    ``listen`` (this machine's loopback)."""

    def __init__(self, workdir: Path, agent: str, password: str, server: str, port: int,
                 tone: Path, *, desk: Desk | None = None, ca_file: Path | None = None,
                 listen: str = "127.0.0.1:5070") -> None:
        self.desk = desk
        self.dir = workdir / "baresip"
        self.dir.mkdir(parents=True, exist_ok=True)
        tls = ca_file is not None
        (self.dir / "config").write_text("\n".join([
            "poll_method epoll",
            f"sip_listen {f'{desk.desk_address}:5060' if desk else listen}",
            *([f"sip_cafile {ca_file}"] if tls else []),
            f"audio_source aufile,{tone}",
            f"audio_alert aufile,{tone}",
            "rtp_ports 30000-30100",
            "module_path /usr/lib/baresip/modules",
            "module g711.so", "module aufile.so", "module srtp.so",
            "module_app account.so", "module_app menu.so", ""]))
        transport, media = ("tls", "mediaenc=srtp-mand;") if tls else ("udp", "")
        (self.dir / "accounts").write_text(
            f"<sip:{agent}@{server}:{port};transport={transport}>;auth_pass={password};"
            f"{media}answermode=auto;regint=600;audio_codecs=PCMA\n")
        self.log = self.dir / "baresip.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        where = ["ip", "netns", "exec", self.desk.netns] if self.desk else []
        with self.log.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                *where, "baresip", "-f", str(self.dir),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 15)
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                os.killpg(self.proc.pid, 9)
                await self.proc.wait()


class WireCapture:
    """Every UDP datagram that looks like RTP (version 2) on the desk's link, read by a
    raw socket inside the namespace (``python -m tests.support.desk``, in the namespace)."""

    def __init__(self, desk: Desk, out: Path) -> None:
        self.desk = desk
        self.out = out
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", self.desk.netns, sys.executable, "-m",
            "tests.support.desk", str(self.out), cwd=Path(__file__).parents[2],
            stdin=subprocess.DEVNULL)
        for _ in range(50):
            if self.out.exists():
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"no capture in namespace {self.desk.netns}")

    async def stop(self) -> list[bytes]:
        """Stop capturing; the RTP datagrams seen."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()
        data, payloads = self.out.read_bytes(), []
        while data:
            size = int.from_bytes(data[:2], "big")
            payloads.append(data[2:2 + size])
            data = data[2 + size:]
        return payloads


def capture(out: Path) -> None:
    """Append every RTP-looking UDP payload to ``out`` (2-byte length, then the bytes)
    until SIGTERM."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
    with sock, out.open("wb", buffering=0) as sink:
        while True:
            frame = sock.recv(4096)
            if frame[12:14] != b"\x08\x00" or frame[23] != socket.IPPROTO_UDP:
                continue
            datagram = frame[14 + (frame[14] & 0x0F) * 4:][8:]
            if len(datagram) > 12 and datagram[0] >> 6 == 2:
                sink.write(len(datagram).to_bytes(2, "big") + datagram)


def byte_entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte (8 for random bytes, far less for G.711 audio)."""
    counts = Counter(data)
    return -sum(n / len(data) * math.log2(n / len(data)) for n in counts.values())


if __name__ == "__main__":
    capture(Path(sys.argv[1]))
