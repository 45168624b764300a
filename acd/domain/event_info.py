"""The event-information line (イベント案内): today's events and their statuses, as the
dialplan reads them from Asterisk's AstDB.

Staff change events at run time (HTTP API); the database keeps the truth and the
controller pushes each day's announcement into AstDB, so the dialplan needs no call out
and goes on announcing the last pushed state while the controller is down.

AstDB layout, one family per events list and Tokyo day (``YYYYMMDD``)::

    madoguchi/events/<events>/<YYYYMMDD>   count       -> number of items (written last)
                                           <n>/title   -> audio path of item n's title
                                           <n>/status  -> audio path of its status
                                           <n>/id      -> the item's id (for the call log)
                                           <n>/state   -> the status id (for the call log)

Items are numbered 1..count in their order (position, then id). This module is pure:
:func:`astdb_payload` builds what to write, the adapter sends it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

ASTDB_ROOT = "madoguchi/events"


@dataclass(frozen=True)
class EventItem:
    """One event of one day on one events list, as stored."""

    id: int
    events: str
    day: date
    position: int
    status: str
    title_prompt: str | None = None  # a prompt of the flows, by name
    title_text: str | None = None  # or a title synthesized on save
    title_audio: str | None = None  # the synthesized title's audio (path without extension)
    updated_at: float = 0.0
    updated_by: str = ""
    deleted: bool = False


@dataclass(frozen=True)
class DbPut:
    family: str
    key: str
    value: str


def astdb_family(events: str, day: date) -> str:
    return f"{ASTDB_ROOT}/{events}/{day:%Y%m%d}"


def ordered(items: Iterable[EventItem]) -> list[EventItem]:
    """The items callers hear, in order: not deleted, by position then id."""
    return sorted((i for i in items if not i.deleted), key=lambda i: (i.position, i.id))


def astdb_payload(events: str, day: date, items: Iterable[EventItem],
                  prompt_path: Mapping[str, str],
                  status_prompts: Mapping[str, str]) -> list[DbPut]:
    """The AstDB writes announcing ``items`` of ``events`` on ``day``.

    ``prompt_path`` maps a prompt name of the flows to its audio (for the line's language);
    ``status_prompts`` maps a status id to its prompt name (the flows' ``event_statuses``).
    An item's title is its flows prompt, else its synthesized audio; an unknown status or a
    missing title writes an empty value (the dialplan then skips that part). ``count`` is
    written last, so a call reading meanwhile hears the old count or all the new items.
    Items of another events list or day are a programming error.
    """
    family = astdb_family(events, day)
    puts: list[DbPut] = []
    chosen = ordered(items)
    for number, item in enumerate(chosen, start=1):
        if item.events != events or item.day != day:
            raise ValueError(f"item {item.id} is for {item.events} on {item.day}, "
                             f"not {events} on {day}")
        title = (prompt_path.get(item.title_prompt, "") if item.title_prompt
                 else item.title_audio or "")
        status_prompt = status_prompts.get(item.status)
        status = prompt_path.get(status_prompt, "") if status_prompt else ""
        puts += [DbPut(family, f"{number}/title", title),
                 DbPut(family, f"{number}/status", status),
                 DbPut(family, f"{number}/id", str(item.id)),
                 DbPut(family, f"{number}/state", item.status)]
    puts.append(DbPut(family, "count", str(len(chosen))))
    return puts
