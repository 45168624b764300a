"""Call events at a fixed moment, for the call tracker's tests and those of its records."""

from __future__ import annotations

from acd.domain.events import LineEntered

T0 = 1_790_000_000.0


def entered(uid="1.1", at=T0):
    return LineEntered(at, uid, "0570000123", "main", "0312345678", "/rec/1.1.wav")
