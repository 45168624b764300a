"""Loopback addresses and free ports for SIPp processes (see the package docstring)."""

from __future__ import annotations

import contextlib
import socket

AGENT_ADDRESS = "127.0.0.1"
CARRIER_ADDRESS = "127.0.0.2"
ASTERISK_ADDRESS = "127.0.0.1"

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

