"""IVR flows as an admin writes them: named nodes joined by their names.

A line may point to a flow (``flow: <name>``) instead of a queue. A flow starts at its
``start`` node; each node has a ``type``:

``play``       prompts, then ``next``
``menu``       a prompt, DTMF ``choices`` (key -> node), ``timeout``, ``retries``, an
               ``invalid_prompt`` and a ``default`` node taken when the retries run out
``language``   like a menu, but each key chooses a language (ja/en); later prompts are
               played in the caller's language; then ``next``
``calendar``   a calendar's decision -> node (``open``, ``closed``; ``holiday``,
               ``year_end``, ``after_service`` fall back to ``closed``)
``queue``      a queue, with its announcements and overflow; the call ends there
``voicemail``  a prompt, then the caller's message is recorded
``transfer``   to a department or a number admitted by the site's ``transfers:``
``events``     the event-information menu of an events list (staff change it at run time)
``hangup``     optional prompts, then the call ends

Cross references (node names, prompts, queues, calendars, transfer targets) and the shape
of the graph (unreachable nodes, loops without exit) are checked by
:mod:`acd.ivr.loader`, with file:line:column.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Language = Literal["ja", "en"]
NODE_NAME = r"^[a-z][a-z0-9_]{0,39}$"
#: One DTMF key per choice.
DTMF_KEY = re.compile(r"^[0-9*#]$")
#: A calendar node's branches; the statuses other than open and closed fall back to closed.
CALENDAR_BRANCHES = ("open", "closed", "holiday", "year_end", "after_service")
#: Event menus offer at most this many events (keys 1-9).
MAX_EVENT_CHOICES = 9


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlayNode(_Strict):
    type: Literal["play"]
    prompts: list[str] = Field(min_length=1)
    next: str


class MenuNode(_Strict):
    type: Literal["menu"]
    prompt: str = Field(description="the menu (played again on each retry)")
    choices: dict[str, str] = Field(min_length=1, description="DTMF key -> node")
    timeout: float = Field(default=5, ge=1, le=60, description="seconds to wait for a key "
                           "after the prompt; then the prompt is played again")
    retries: int = Field(default=2, ge=0, le=9, description="how many times the menu is "
                         "offered again after an invalid key or silence")
    invalid_prompt: str | None = Field(default=None, description="played after a key "
                                       "that is not a choice")
    default: str = Field(description="the node taken when the retries are used up")


class LanguageNode(_Strict):
    type: Literal["language"]
    prompt: str
    choices: dict[str, Language] = Field(min_length=1, description="DTMF key -> language")
    timeout: float = Field(default=5, ge=1, le=60)
    default: Language = Field(default="ja", description="the language on silence or a "
                              "key that is not a choice")
    next: str


class CalendarNode(_Strict):
    type: Literal["calendar"]
    calendar: str
    open: str
    closed: str
    holiday: str | None = None
    year_end: str | None = None
    after_service: str | None = None

    def branch(self, status: str) -> str:
        return getattr(self, status) or self.closed


class QueueNode(_Strict):
    type: Literal["queue"]
    queue: str
    prompt: str | None = Field(default=None, description="played before the queue")


class VoicemailNode(_Strict):
    type: Literal["voicemail"]
    prompt: str = Field(description="the invitation to leave a message")


class TransferNode(_Strict):
    type: Literal["transfer"]
    to: str = Field(description="a department of 'transfers: departments:' or a number "
                    "matching 'transfers: allow:'")
    prompt: str | None = None
    timeout: int = Field(default=60, ge=5, le=300, description="seconds the far end rings")


class EventsNode(_Strict):
    type: Literal["events"]
    events: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$", description="the events list")
    intro_prompt: str
    no_events_prompt: str
    language: Language = Field(default="ja", description="the language titles typed by "
                               "staff are spoken in")
    timeout: float = Field(default=5, ge=1, le=60, description="seconds to wait for a key")
    retries: int = Field(default=1, ge=0, le=9)
    invalid_prompt: str | None = None
    end_prompt: str | None = Field(default=None, description="played after the status")
    next: str | None = Field(default=None, description="after the status (or silence): "
                             "none hangs up")


class HangupNode(_Strict):
    type: Literal["hangup"]
    prompts: list[str] = []


Node = Annotated[PlayNode | MenuNode | LanguageNode | CalendarNode | QueueNode
                 | VoicemailNode | TransferNode | EventsNode | HangupNode,
                 Field(discriminator="type")]

#: Every node type (the ``type:`` of a node).
NODE_TYPES = frozenset({"play", "menu", "language", "calendar", "queue", "voicemail",
                        "transfer", "events", "hangup"})
#: Nodes where a call leaves the IVR (a loop must reach one of them).
EXIT_TYPES = frozenset({"queue", "voicemail", "transfer", "events", "hangup"})


def successors(node: Node) -> list[tuple[tuple[str | int, ...], str]]:
    """(location inside the node, node name) of every node this one may lead to."""
    match node:
        case PlayNode() | LanguageNode():
            return [(("next",), node.next)]
        case MenuNode():
            return ([(("choices", key), target) for key, target in node.choices.items()]
                    + [(("default",), node.default)])
        case CalendarNode():
            return [((branch,), getattr(node, branch)) for branch in CALENDAR_BRANCHES
                    if getattr(node, branch) is not None]
        case EventsNode():
            return [(("next",), node.next)] if node.next else []
    return []


def prompt_refs(node: Node) -> list[tuple[tuple[str | int, ...], str]]:
    """(location inside the node, prompt name) of every prompt the node plays."""
    refs: list[tuple[tuple[str | int, ...], str]] = []
    for key in ("prompt", "invalid_prompt", "intro_prompt", "no_events_prompt", "end_prompt"):
        name = getattr(node, key, None)
        if name is not None:
            refs.append(((key,), name))
    for index, name in enumerate(getattr(node, "prompts", [])):
        refs.append((("prompts", index), name))
    return refs


class Flow(_Strict):
    start: str
    nodes: dict[Annotated[str, Field(pattern=NODE_NAME)], Node] = Field(min_length=1)

    @property
    def decides_hours(self) -> bool:
        """The flow has a calendar node: a line running it plays its recording notice and
        starts recording only once the calendar says open (or an operator is reached)."""
        return any(isinstance(node, CalendarNode) for node in self.nodes.values())


class Transfers(_Strict):
    """Where flows and operators may transfer calls (see acd.domain.policies)."""

    allow: list[str] = Field(default=[], description="number patterns: digits, X for one "
                             "digit, a trailing * for any rest (0570*, 0467XXXXXX)")
    departments: dict[str, str] = Field(default={}, description="department id -> number")
