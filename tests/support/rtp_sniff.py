"""What a caller hears: RTP sent to an address on the loopback, captured as it passes.

SIPp's callers play audio but keep none of what they receive. :class:`RtpSniffer` reads
every packet on ``lo`` with a raw ``AF_PACKET`` socket (root or CAP_NET_RAW, as SIPp's
``play_pcap_audio`` needs anyway), keeps the UDP datagrams to ``address`` that look like
RTP with G.711 A-law (payload type 8), and stamps them with the time they passed.
:func:`alaw_decode` and :func:`best_match` then tell whether a known prompt was heard:
the normalised cross-correlation of the prompt with the received audio is near 1 where
the prompt was played (Asterisk only transcodes the 8 kHz prompt to A-law).
"""

from __future__ import annotations

import hashlib
import socket
import struct
import threading
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ETH_P_ALL = 0x0003
PT_PCMA = 8


@dataclass(frozen=True)
class RtpPacket:
    at: float
    src_port: int
    dst_port: int
    ssrc: int
    seq: int
    payload: bytes


class RtpSniffer:
    """Capture RTP (PCMA) to ``address`` on the loopback while in ``with``."""

    def __init__(self, address: str = "127.0.0.2", interface: str = "lo") -> None:
        self._dst = socket.inet_aton(address)
        self._interface = interface
        self.packets: list[RtpPacket] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    def __enter__(self) -> RtpSniffer:
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self._sock.bind((self._interface, 0))
        self._sock.settimeout(0.2)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self._thread = threading.Thread(target=self._run, name="rtp-sniffer", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._sock is not None:
            self._sock.close()

    def _run(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                frame, meta = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            if meta[2] == socket.PACKET_OUTGOING:  # loopback shows each packet twice
                continue
            packet = self._parse(frame[14:])  # lo frames carry an Ethernet header
            if packet is not None:
                self.packets.append(packet)

    def _parse(self, ip: bytes) -> RtpPacket | None:
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != socket.IPPROTO_UDP:
            return None
        if ip[16:20] != self._dst:
            return None
        udp = ip[(ip[0] & 0x0F) * 4:]
        if len(udp) < 8 + 12:
            return None
        src_port, dst_port = struct.unpack("!HH", udp[:4])
        rtp = udp[8:]
        if rtp[0] >> 6 != 2 or rtp[1] & 0x7F != PT_PCMA:
            return None
        seq, _ts, ssrc = struct.unpack("!HII", rtp[2:12])
        header = 12 + 4 * (rtp[0] & 0x0F)
        return RtpPacket(time.time(), src_port, dst_port, ssrc, seq, bytes(rtp[header:]))

    def audio(self, until: float | None = None, since: float | None = None,
              port: int | None = None) -> np.ndarray:
        """The received audio (linear 16-bit samples) of the packets that passed between
        ``since`` and ``until`` (to media ``port`` only, if given), in arrival order."""
        chosen = [p.payload for p in self.packets
                  if (until is None or p.at < until) and (since is None or p.at >= since)
                  and (port is None or p.dst_port == port)]
        return alaw_decode(b"".join(chosen))


    def streams(self, until: float | None = None, since: float | None = None
                ) -> list[np.ndarray]:
        """The received audio per media port (each call's own stream: other calls to the
        same address, e.g. of another test run, stay apart)."""
        return [self.audio(until, since, port) for port in sorted(
            {p.dst_port for p in self.packets})]


def alaw_decode(data: bytes) -> np.ndarray:
    """G.711 A-law bytes to linear samples (ITU-T G.711)."""
    a = np.frombuffer(data, dtype=np.uint8).astype(np.int32) ^ 0x55
    sign = a & 0x80
    exponent = (a >> 4) & 0x07
    mantissa = a & 0x0F
    magnitude = np.where(exponent == 0, (mantissa << 4) + 8,
                         ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0))
    return np.where(sign != 0, magnitude, -magnitude).astype(np.float64)


def best_match_in(streams: list[np.ndarray], prompt: np.ndarray) -> float:
    """The best :func:`best_match` of ``prompt`` over several streams (0 when none)."""
    return max((best_match(heard, prompt) for heard in streams), default=0.0)


def best_match(heard: np.ndarray, prompt: np.ndarray) -> float:
    """The highest normalised cross-correlation of ``prompt`` against every position of
    ``heard`` (1.0: the prompt is there sample for sample; 0 when ``heard`` is shorter)."""
    n, m = len(heard), len(prompt)
    if n < m or m == 0:
        return 0.0
    prompt = prompt - prompt.mean()
    size = 1 << int(np.ceil(np.log2(n + m)))
    corr = np.fft.irfft(np.fft.rfft(heard, size) * np.conj(np.fft.rfft(prompt, size)),
                        size)[: n - m + 1]
    energy = np.concatenate(([0.0], np.cumsum(heard ** 2)))
    sums = np.concatenate(([0.0], np.cumsum(heard)))
    window_energy = energy[m:] - energy[:-m] - (sums[m:] - sums[:-m]) ** 2 / m
    norm = np.sqrt(np.maximum(window_energy, 1e-9)) * np.sqrt(np.sum(prompt ** 2))
    return float(np.max(np.abs(corr) / norm))


def synthesized_prompt(state_dir: Path, text: str, lang: str = "ja") -> np.ndarray:
    """The samples of a prompt an `acd up` with ``state_dir`` synthesized from ``text``."""
    key = hashlib.sha256(f"{lang}\0{text}".encode()).hexdigest()[:20]
    with wave.open(str(state_dir / "sounds" / f"tts-{lang}-{key}.wav")) as wav:
        assert wav.getframerate() == 8000
        return np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.float64)


def prompt_seconds(state_dir: Path, text: str) -> float:
    """The length of the synthesized prompt (named by the hash of its text)."""
    key = hashlib.sha256(f"ja\0{text}".encode()).hexdigest()[:20]
    with wave.open(str(state_dir / "sounds" / f"tts-ja-{key}.wav")) as wav:
        return wav.getnframes() / wav.getframerate()


__all__ = ["RtpPacket", "RtpSniffer", "alaw_decode", "best_match", "prompt_seconds",
           "synthesized_prompt"]
