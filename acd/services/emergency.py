"""The emergency switch at run time: supervisors put a line (or every line) on an
emergency announcement and take it off (HTTP API, console, CLI); the database keeps every
switch, and each change is written at once into Asterisk's AstDB, where the lines'
dialplan reads it at the start of each call (acd/domain/emergency.py).

AstDB is re-written whenever the controller (re)connects to Asterisk and after
`acd ivr apply` (lines may have come or gone); a switch whose end time has come is taken
off the record here (the dialplan already stopped playing it at that time by itself).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import structlog

from acd.adapters.ami import actions
from acd.adapters.ami.client import AmiClient, AmiError
from acd.adapters.asterisk.prompts import PromptError, audio_in, text_audio
from acd.adapters.db.emergencies import EmergencyStore
from acd.domain.emergency import (
    ALL_LINES,
    ASTDB_FAMILY,
    MODES,
    Emergency,
    Mode,
    astdb_values,
    check_audio_path,
    expired,
)
from acd.domain.problems import Refused
from acd.ivr.models import Site

log = structlog.get_logger(__name__)

#: How often the connection and the switches' end times are looked at.
WATCH_SECONDS = 0.5
#: Who takes a switch off when its end time comes.
END_TIME = "(end time)"


class EmergencyError(Refused):
    """A request about the emergency switch the supervisor can correct."""


class EmergencySwitch:
    """``flows()`` gives the running site and its prompts' audio (name -> lang -> path)."""

    def __init__(self, store: EmergencyStore, ami: AmiClient,
                 flows: Callable[[], tuple[Site, dict[str, dict[str, str]]]],
                 sounds_dir: Path) -> None:
        self.store = store
        self.ami = ami
        self.flows = flows
        self.sounds_dir = sounds_dir
        self._lock = asyncio.Lock()  # one write of AstDB at a time
        self.written: dict[str, str | None] = {}  # what AstDB holds, as last written
        self.next_end: float | None = None  # the nearest end time of a switch on record

    # ------------------------------------------------------------ validation

    def lines(self) -> dict[str, str]:
        """The lines' numbers and languages."""
        return {line.did: line.language for line in self.flows()[0].lines}

    def check_scope(self, scope: str) -> None:
        if scope != ALL_LINES and scope not in self.lines():
            raise EmergencyError("LINE_UNKNOWN", f"no line {scope!r}: give a line's number "
                                 f"or '{ALL_LINES}'",
                                 {"known": [ALL_LINES, *sorted(self.lines())]})

    def _language(self, scope: str, language: str | None) -> str:
        return language or self.lines().get(scope) or "ja"

    async def _audio(self, prompt: str | None, text: str | None, language: str) -> str:
        if prompt is not None:
            by_language = self.flows()[1].get(prompt)
            if not by_language:
                raise EmergencyError("PROMPT_UNKNOWN", f"unknown prompt {prompt!r}",
                                     {"known": sorted(self.flows()[1])})
            audio = audio_in(by_language, language)
        else:
            assert text is not None
            try:
                audio = str(await asyncio.to_thread(text_audio, text, language,
                                                    self.sounds_dir))
            except PromptError as exc:
                raise EmergencyError("TEXT_NOT_SPOKEN", "the announcement could not be "
                                     "synthesized", str(exc)) from None
        try:
            check_audio_path(audio)
        except ValueError as exc:
            raise EmergencyError("PROMPT_UNUSABLE", str(exc)) from None
        return audio

    # ------------------------------------------------------------ changes

    async def switch_on(self, scope: str, by: str, mode: str = "continue",
                        prompt: str | None = None, text: str | None = None,
                        language: str | None = None, until: float | None = None
                        ) -> tuple[Emergency, bool]:
        """Put ``scope`` on the announcement (replacing its switch in force, if any);
        the answer's bool says whether Asterisk has it already."""
        self.check_scope(scope)
        if mode not in MODES:
            raise EmergencyError("MODE_UNKNOWN", f"unknown mode {mode!r}", {"known": MODES})
        if (prompt is None) == (text is None):
            raise EmergencyError("ANNOUNCEMENT_MISSING", "give exactly one of a prompt of "
                                 "the flows and a text to synthesize")
        now = time.time()
        if until is not None and until <= now:
            raise EmergencyError("END_IN_THE_PAST", "the end time has passed already")
        spoken = self._language(scope, language)
        audio = await self._audio(prompt, text, spoken)
        switch = await self.store.add(Emergency(
            id=0, scope=scope, mode=cast(Mode, mode), audio=audio, language=spoken, prompt=prompt,
            text=text, until=until, on_by=by, on_at=now))
        log.warning("emergency.on", scope=scope, switch=switch.id, mode=mode, by=by,
                    until=until)
        return switch, await self.write()

    async def switch_off(self, scope: str, by: str) -> tuple[Emergency, bool]:
        self.check_scope(scope)
        now = time.time()
        on = [s for s in await self.store.on_record() if s.scope == scope and s.in_force(now)]
        if not on:
            raise EmergencyError("EMERGENCY_NOT_ON", f"no emergency announcement is on for "
                                 f"{'every line' if scope == ALL_LINES else 'line ' + scope}")
        switch = await self.store.take_off(on[-1].id, by, now)
        if switch is None:  # taken off meanwhile by someone else
            raise EmergencyError("EMERGENCY_NOT_ON", "the announcement was just taken off")
        log.warning("emergency.off", scope=scope, switch=switch.id, by=by)
        return switch, await self.write()

    async def in_force(self) -> list[Emergency]:
        now = time.time()
        return [s for s in await self.store.on_record() if s.in_force(now)]

    # ------------------------------------------------------------ Asterisk's copy

    async def write(self) -> bool:
        """Make AstDB hold the switches in force (and nothing for the other lines);
        False when Asterisk could not be reached (written on reconnect)."""
        async with self._lock:
            now = time.time()
            on_record = await self.store.on_record()
            self.next_end = _next_end(on_record)
            wanted = astdb_values(on_record, self.lines(), now)
            try:
                for key, value in wanted.items():
                    await self.ami.action(actions.db_put(ASTDB_FAMILY, key, value or ""))
            except (TimeoutError, AmiError) as exc:
                log.warning("emergency.write_failed", error=str(exc))
                return False
            self.written = wanted
            return True

    async def take_off_expired(self) -> int:
        if self.next_end is None or time.time() < self.next_end:
            return 0
        switches = expired(await self.store.on_record(), time.time())
        for switch in switches:
            if await self.store.take_off(switch.id, END_TIME, switch.until or time.time()):
                log.warning("emergency.ended", scope=switch.scope, switch=switch.id)
        self.next_end = _next_end(await self.store.on_record())
        return len(switches)

    async def run(self) -> None:
        """Write AstDB on every (re)connection to Asterisk, retrying until it goes
        through; take ended switches off the record. Runs until cancelled."""
        was_written = False
        while True:
            if await self.take_off_expired():
                was_written = False
            connected = self.ami.connected
            if connected and not was_written:
                was_written = await self.write()
            was_written = was_written and connected
            await asyncio.sleep(WATCH_SECONDS)


def _next_end(switches: list[Emergency]) -> float | None:
    return min((s.until for s in switches if s.until is not None), default=None)
