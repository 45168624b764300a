"""The emergency switch (緊急切替): a supervisor puts one line, or every line, on an
emergency announcement in one action, and takes it off again.

The database keeps every switch (who put it on, who took it off, when: the audit trail);
the controller writes the switches in force into Asterisk's own database (AstDB, family
:data:`ASTDB_FAMILY`, key a line's number or :data:`ALL_LINES`), where each line's
dialplan reads it at the start of every call. AstDB lives on disk, so a switch holds
through a dialplan reload, an Asterisk restart and while the controller is down; the end
time is judged by the dialplan itself against the clock.

One value per key, written in one action (a call reads all of it or none of it)::

    <switch id>|<mode>|<end, epoch seconds; 0: none>|<audio path without extension>

A line's own switch comes before the switch of every line. This module is pure:
:func:`astdb_values` says what each key must hold, the service writes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

ASTDB_FAMILY = "madoguchi-emergency"
ALL_LINES = "all"

Mode = Literal["continue", "hangup", "voicemail"]
#: What the caller meets after the announcement: the line's normal flow, the end of the
#: call, or a message recorded for the city (voicemail, as a queue's overflow records it).
MODES: tuple[Mode, ...] = ("continue", "hangup", "voicemail")
#: Characters a value cannot hold in an audio path (the field separator, and what the
#: dialplan's argument parsing would cut at).
FORBIDDEN_IN_PATH = frozenset("|,;()$\n")


@dataclass(frozen=True)
class Emergency:
    """One switch, as stored: on from ``on_at`` until taken off or until ``until``."""

    id: int
    scope: str  # a line's number, or ALL_LINES
    mode: Mode
    audio: str  # the announcement's audio, path without extension
    language: str
    prompt: str | None  # a prompt of the flows, by name
    text: str | None  # or a text synthesized when switched on
    until: float | None  # the end time; None: until taken off
    on_by: str
    on_at: float
    off_by: str | None = None
    off_at: float | None = None

    def in_force(self, now: float) -> bool:
        return self.off_at is None and (self.until is None or now < self.until)


def check_audio_path(path: str) -> None:
    bad = sorted(FORBIDDEN_IN_PATH.intersection(path))
    if bad:
        raise ValueError(f"audio path {path!r} holds {''.join(bad)!r}, which the dialplan "
                         "value cannot carry")


def astdb_value(switch: Emergency) -> str:
    check_audio_path(switch.audio)
    until = 0 if switch.until is None else int(switch.until)
    return f"{switch.id}|{switch.mode}|{until}|{switch.audio}"


def astdb_values(switches: Iterable[Emergency], scopes: Iterable[str],
                 now: float) -> dict[str, str | None]:
    """What every key must hold: the value of the scope's switch in force, else None
    (the key is deleted). ``scopes`` are the lines' numbers; ALL_LINES is always one."""
    wanted: dict[str, str | None] = {scope: None for scope in (*scopes, ALL_LINES)}
    for switch in sorted(switches, key=lambda s: s.on_at):
        if switch.in_force(now) and switch.scope in wanted:
            wanted[switch.scope] = astdb_value(switch)
    return wanted


def expired(switches: Iterable[Emergency], now: float) -> list[Emergency]:
    """Switches still on record as on whose end time has come."""
    return [s for s in switches if s.off_at is None and s.until is not None and now >= s.until]
