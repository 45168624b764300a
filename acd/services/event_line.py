"""The event-information line at run time: staff change events (HTTP API), the database
keeps them, and each change is pushed at once into Asterisk's global variables, where the
dialplan of the event line reads today's announcement without calling out.

The copy in Asterisk is re-pushed (today and tomorrow, Tokyo time) whenever the controller
(re)connects to Asterisk, when the Tokyo date changes, and after `acd ivr apply` (the
prompts may have changed). While the controller is down, Asterisk goes on announcing
what was last pushed; tomorrow's items are pushed ahead, so midnight does not silence
the line either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import structlog

from acd.adapters.ami import actions
from acd.adapters.ami.client import AmiClient, AmiError
from acd.adapters.asterisk.prompts import PromptError, audio_in, text_audio
from acd.adapters.db.event_items import EventStore
from acd.domain.clock import tokyo_today
from acd.domain.event_info import EventItem, dialplan_payload, ordered
from acd.domain.problems import Refused
from acd.ivr.models import Site

log = structlog.get_logger(__name__)

#: How often the connection and the date are looked at.
WATCH_SECONDS = 0.5


class EventError(Refused):
    """A request about the day's events the staff can correct."""


class EventLines:
    """``flows()`` gives the running site and its prompts' audio (name -> lang -> path)."""

    def __init__(self, store: EventStore, ami: AmiClient,
                 flows: Callable[[], tuple[Site, dict[str, dict[str, str]]]],
                 sounds_dir: Path) -> None:
        self.store = store
        self.ami = ami
        self.flows = flows
        self.sounds_dir = sounds_dir
        self._lock = asyncio.Lock()  # one push at a time: 'count' is written last
        self.pushed_at: dict[tuple[str, date], float] = {}

    # ------------------------------------------------------------ validation

    def site(self) -> Site:
        return self.flows()[0]

    def check_events(self, events: str) -> None:
        known = self.site().event_lines()
        if events not in known:
            raise EventError("EVENTS_UNKNOWN", f"no event line has events '{events}'",
                             {"known": sorted(known)})

    def check_status(self, status: str) -> None:
        statuses = self.site().event_statuses
        if status not in statuses:
            raise EventError("STATUS_UNKNOWN", f"unknown event status '{status}'",
                             {"known": sorted(statuses)})

    def check_title_prompt(self, name: str) -> None:
        if name not in self.site().prompts:
            raise EventError("PROMPT_UNKNOWN", f"unknown prompt '{name}' for the title",
                             {"known": sorted(self.site().prompts)})

    def statuses(self) -> dict[str, str]:
        return dict(self.site().event_statuses)

    # ------------------------------------------------------------ changes

    async def create(self, events: str, day: date, status: str, by: str,
                     title_prompt: str | None = None, title_text: str | None = None,
                     position: int | None = None) -> tuple[EventItem, bool]:
        self.check_events(events)
        self.check_status(status)
        if title_prompt is not None:
            self.check_title_prompt(title_prompt)
        audio = await self._title_audio(events, title_text) if title_text else None
        if position is None:
            current = await self.store.items(events, day)
            position = max((i.position for i in current), default=0) + 1
        item = await self.store.add(EventItem(
            id=0, events=events, day=day, position=position, status=status,
            title_prompt=title_prompt, title_text=title_text, title_audio=audio, updated_by=by))
        log.info("events.created", events=events, day=str(day), item=item.id, status=status,
                 by=by)
        return item, await self.push(events, day)

    async def update(self, events: str, item_id: int, by: str, **changes: object
                     ) -> tuple[EventItem, bool]:
        """Change status, position or title of an item (only the keys given)."""
        item = await self._existing(events, item_id)
        values: dict[str, object] = {}
        if changes.get("status") is not None:
            self.check_status(str(changes["status"]))
            values["status"] = changes["status"]
        if changes.get("position") is not None:
            values["position"] = changes["position"]
        if changes.get("title_prompt") is not None:
            self.check_title_prompt(str(changes["title_prompt"]))
            values.update(title_prompt=changes["title_prompt"], title_text=None,
                          title_audio=None)
        elif changes.get("title_text") is not None:
            values.update(title_prompt=None, title_text=changes["title_text"],
                          title_audio=await self._title_audio(events, str(changes["title_text"])))
        changed = await self.store.change(item_id, by, **values)
        if changed is None:
            raise EventError("EVENT_UNKNOWN", f"no event {item_id} on '{events}'")
        log.info("events.changed", events=events, item=item_id, by=by,
                 **{k: v for k, v in values.items() if k in ("status", "position")})
        pushed = await self.push(events, item.day)
        return changed, pushed

    async def delete(self, events: str, item_id: int, by: str) -> tuple[EventItem, bool]:
        item = await self._existing(events, item_id)
        changed = await self.store.change(item_id, by, deleted=True)
        if changed is None:
            raise EventError("EVENT_UNKNOWN", f"no event {item_id} on '{events}'")
        log.info("events.deleted", events=events, item=item_id, by=by)
        return changed, await self.push(events, item.day)

    async def _existing(self, events: str, item_id: int) -> EventItem:
        self.check_events(events)
        item = await self.store.get(item_id)
        if item is None or item.events != events or item.deleted:
            raise EventError("EVENT_UNKNOWN", f"no event {item_id} on '{events}'")
        return item

    async def _title_audio(self, events: str, text: str) -> str:
        language = self.site().event_lines()[events].language
        try:
            return str(await asyncio.to_thread(text_audio, text, language, self.sounds_dir))
        except PromptError as exc:
            raise EventError("TITLE_NOT_SPOKEN", "the title could not be synthesized",
                             str(exc)) from None

    # ------------------------------------------------------------ Asterisk's copy

    async def _with_title_audio(self, events: str, item: EventItem) -> EventItem:
        """The item, its synthesized title made again if its audio is gone (the sounds
        cache was cleared): the database keeps the text, the cache is disposable."""
        if not item.title_text:
            return item
        if item.title_audio:
            kept: bool = await asyncio.to_thread(Path(item.title_audio + ".wav").exists)
            if kept:
                return item
        try:
            audio = await self._title_audio(events, item.title_text)
        except EventError as exc:
            log.error("events.title_not_spoken", item=item.id, error=str(exc.details))
            return item
        return replace(item, title_audio=audio)

    def prompt_paths(self, events: str) -> dict[str, str]:
        """Every prompt's audio in the language of the event line."""
        site, prompts = self.flows()
        language = site.event_lines()[events].language
        return {name: audio_in(by_lang, language) for name, by_lang in prompts.items()
                if by_lang}

    async def push(self, events: str, day: date) -> bool:
        """Write the announcement of ``events`` on ``day`` into the dialplan's global
        variables; False when Asterisk
        could not be reached (the database has it; it is pushed on reconnect)."""
        async with self._lock:
            items = [await self._with_title_audio(events, item)
                     for item in ordered(await self.store.items(events, day))]
            puts = dialplan_payload(events, day, items, self.prompt_paths(events),
                                    self.site().event_statuses)
            try:
                for put in puts:
                    await self.ami.action(actions.setvar(put.name, put.value))
            except (TimeoutError, AmiError) as exc:
                log.warning("events.push_failed", events=events, day=str(day), error=str(exc))
                return False
            self.pushed_at[(events, day)] = asyncio.get_running_loop().time()
            log.info("events.pushed", events=events, day=str(day), items=len(items))
            return True

    async def push_days(self, today: date | None = None) -> bool:
        """Push today and tomorrow of every event line; True when all went through."""
        today = today or tokyo_today()
        ok = True
        for events in sorted(self.site().event_lines()):
            for day in (today, today + timedelta(days=1)):
                ok = await self.push(events, day) and ok
        return ok

    async def run(self) -> None:
        """Re-push on every (re)connection to Asterisk and at each change of the Tokyo
        date; retry until a push goes through. Runs until cancelled."""
        synced_for: date | None = None
        was_connected = False
        while True:
            connected = self.ami.connected
            today = tokyo_today()
            if connected and (not was_connected or synced_for != today):
                synced_for = today if await self.push_days(today) else None
            was_connected = connected and synced_for is not None
            await asyncio.sleep(WATCH_SECONDS)
