"""The event-information line (イベント案内): today's events and their statuses, as the
dialplan reads them from Asterisk's global variables.

Staff change events at run time (HTTP API); the database keeps the truth and the
controller pushes each day's announcement into global variables (AMI ``Setvar``, class
``call``: no ``system`` right needed, as AstDB's DBPut would), so the dialplan needs no call
out and goes on announcing the last pushed state while the controller is down. Asterisk
keeps them while it runs; the controller pushes them again on every connection.

Variables, one prefix per events list and Tokyo day (``YYYYMMDD``)::

    EV_<events>_<YYYYMMDD>_   count       -> number of items (written last)
                              <n>_title   -> audio path of item n's title
                              <n>_status  -> audio path of its status
                              <n>_id      -> the item's id (for the call log)
                              <n>_state   -> the status id (for the call log)

Items are numbered 1..count in their order (position, then id). This module is pure:
:func:`dialplan_payload` builds what to write, the adapter sends it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

VARIABLE_ROOT = "EV"


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
class GlobalVar:
    name: str
    value: str


def variable_prefix(events: str, day: date) -> str:
    return f"{VARIABLE_ROOT}_{events}_{day:%Y%m%d}_"


def ordered(items: Iterable[EventItem]) -> list[EventItem]:
    """The items callers hear, in order: not deleted, by position then id."""
    return sorted((i for i in items if not i.deleted), key=lambda i: (i.position, i.id))


def dialplan_payload(events: str, day: date, items: Iterable[EventItem],
                     prompt_path: Mapping[str, str],
                     status_prompts: Mapping[str, str]) -> list[GlobalVar]:
    """The global variables announcing ``items`` of ``events`` on ``day``.

    ``prompt_path`` maps a prompt name of the flows to its audio (for the line's language);
    ``status_prompts`` maps a status id to its prompt name (the flows' ``event_statuses``).
    An item's title is its flows prompt, else its synthesized audio; an unknown status or a
    missing title writes an empty value (the dialplan then skips that part). ``count`` is
    written last, so a call reading meanwhile hears the old count or all the new items.
    Items of another events list or day are a programming error.
    """
    prefix = variable_prefix(events, day)
    puts: list[GlobalVar] = []
    chosen = ordered(items)
    for number, item in enumerate(chosen, start=1):
        if item.events != events or item.day != day:
            raise ValueError(f"item {item.id} is for {item.events} on {item.day}, "
                             f"not {events} on {day}")
        title = (prompt_path.get(item.title_prompt, "") if item.title_prompt
                 else item.title_audio or "")
        status_prompt = status_prompts.get(item.status)
        status = prompt_path.get(status_prompt, "") if status_prompt else ""
        puts += [GlobalVar(f"{prefix}{number}_title", title),
                 GlobalVar(f"{prefix}{number}_status", status),
                 GlobalVar(f"{prefix}{number}_id", str(item.id)),
                 GlobalVar(f"{prefix}{number}_state", item.status)]
    puts.append(GlobalVar(f"{prefix}count", str(len(chosen))))
    return puts
