"""What an admin writes in ivr_flows/*.yaml, as strict pydantic models.

Unknown keys are errors (``extra="forbid"``); cross references (a line's queue, an
agent's queues, a prompt name, a line's calendar) are checked by :mod:`acd.ivr.loader`
with file:line:column. Calendars (opening hours) are :class:`CalendarSpec` from
:mod:`acd.ivr.calendar_models`, listed under ``calendars:`` in any flows file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from acd.domain.calendar import Calendar, CalendarStatus
from acd.domain.policies import TransferPolicy
from acd.ivr.calendar_models import CalendarSpec
from acd.ivr.flow_models import EventsNode, Flow, Language, Transfers
from acd.ivr.trunk_models import SETTINGS_TRUNK, Trunk

RecordingPolicy = Literal["always", "on_demand", "off"]
NAME = r"^[a-z][a-z0-9_-]{0,39}$"

#: An event-information line needs at least this many statuses (Kamakura's spec: at
#: least 10 kinds of status announcement).
MIN_EVENT_STATUSES = 10

#: Which line key holds the prompt of each status other than open.
CLOSED_PROMPT_KEYS: dict[CalendarStatus, str] = {
    CalendarStatus.CLOSED: "closed_prompt",
    CalendarStatus.HOLIDAY: "holiday_prompt",
    CalendarStatus.YEAR_END: "year_end_prompt",
    CalendarStatus.AFTER_SERVICE: "after_service_prompt",
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Prompt(Strict):
    """A prompt by language: the text to synthesize, or an audio file the admin supplies."""

    text: dict[Language, str] = {}
    file: dict[Language, Path] = {}

    @model_validator(mode="after")
    def _has_audio(self) -> Prompt:
        if not self.text and not self.file:
            raise ValueError("a prompt needs 'text' or 'file' for at least one language")
        return self


class Overflow(Strict):
    """Where a caller goes who cannot wait: max wait reached, queue full, nobody logged in."""

    to: Literal["voicemail", "queue", "message"]
    queue: str | None = Field(default=None, description="for to: queue")
    prompt: str | None = Field(default=None, description="for voicemail (the invitation to "
                               "leave a message) and message (played before hanging up)")

    @model_validator(mode="after")
    def _complete(self) -> Overflow:
        if self.to == "queue" and not self.queue:
            raise ValueError("overflow to a queue needs 'queue'")
        if self.to in ("voicemail", "message") and not self.prompt:
            raise ValueError(f"overflow to {self.to} needs 'prompt'")
        return self


class Queue(Strict):
    name: str = Field(pattern=NAME, description="'general' is reserved by Asterisk")
    strategy: Literal["longest_idle", "fewest_calls"] = Field(
        default="longest_idle", description="longest_idle: the ready agent idle longest gets "
        "the next call; fewest_calls: the ready agent with the fewest calls answered today "
        "(ties: idle longest)")
    ring_timeout: int = Field(default=15, ge=5, le=120, description="seconds an agent rings "
                              "before the call moves on and the agent is marked missed")
    max_wait: int = Field(default=600, ge=10, le=7200, description="seconds a caller may wait")
    max_callers: int = Field(default=0, ge=0, description="0: no limit")
    wrapup_seconds: int = Field(default=60, ge=0, le=3600, description="maximum wrap-up "
                                "(後処理); it ends earlier when the disposition is sent")
    wrapup_extension_seconds: int = Field(default=60, ge=0, le=3600)
    congestion_prompt: str | None = Field(default=None, description="played once on entry "
                                          "when no agent is ready (混雑時アナウンス)")
    periodic_prompt: str | None = None
    periodic_seconds: int = Field(default=30, ge=10, le=600)
    no_agents_prompt: str | None = Field(default=None, description="nobody is logged in")
    busy_prompt: str | None = Field(default=None, description="the queue is full")
    overflow: Overflow | None = Field(default=None, description="none: hang up after the "
                                      "busy / no-agents message")

    @model_validator(mode="after")
    def _not_reserved(self) -> Queue:
        if self.name == "general":
            raise ValueError("'general' is reserved by Asterisk; choose another queue name")
        return self


class ReportTargets(Strict):
    """The contract targets the KPI reports judge against (met / missed). Rates are
    fractions (0.9 = 90 %); a key left out keeps the site default (``report_targets:``),
    then the contract figure of ../shared/KPI.md."""

    answer_rate: float | None = Field(default=None, ge=0, le=1, description="応答率, "
                                      "e.g. 0.9")
    quick_answer_rate: float | None = Field(default=None, ge=0, le=1, description="即応率: "
                                            "answered within quick_answer_seconds / answered")
    quick_answer_seconds: int | None = Field(default=None, ge=1, le=600, description="the "
                                             "wait within which an answer is quick (10)")
    first_contact_resolution: float | None = Field(default=None, ge=0, le=1,
                                                   description="一次完結率, e.g. 0.4")
    first_response_rate: float | None = Field(default=None, ge=0, le=1,
                                              description="一次対応率, e.g. 0.95")


class Survey(Strict):
    """The caller satisfaction survey after the call (利用者満足度): once the operator
    hangs up, the caller hears each question and answers with a key, 1 (poor) to 5
    (very good)."""

    questions: list[str] = Field(min_length=1, max_length=3, description="one to three "
                                 "prompts, each a question answered with a key 1-5")
    share: float = Field(default=1.0, gt=0, le=1, description="the share of the answered "
                         "calls offered the survey (1: every call; 0.2: one in five, at "
                         "random)")
    thanks_prompt: str | None = Field(default=None, description="played after the answers")


class Line(Strict):
    did: str = Field(pattern=r"^[0-9]{4,15}$", description="the dialled number, digits only")
    name: str
    queue: str | None = Field(default=None, description="the queue of the line; exactly one "
                              "of 'queue', 'flow' and 'events'")
    flow: str | None = Field(default=None, description="the IVR flow of the line (menus, "
                             "language choice...; see 'flows:')")
    events: str | None = Field(default=None, pattern=NAME, description="an event-information "
                               "line (イベント案内): the name of its list of events, kept in "
                               "the database and changed by staff at run time")
    intro_prompt: str | None = Field(default=None, description="event line: played first")
    no_events_prompt: str | None = Field(default=None, description="event line: played when "
                                         "there is no event today")
    priority: int = Field(default=0, ge=0, le=9, description="callers of higher priority "
                          "lines are served first")
    language: Language = "ja"
    recording: RecordingPolicy = "always"
    retention_days: int | None = Field(
        default=None, ge=1, le=3650, description="days the line's recordings, voicemail "
        "messages and the personal data of its calls (caller number, notes, callback "
        "details) are kept after the call; the daily purge erases them then. Default: the "
        "setting recording_retention_days (90)")
    notice: str | None = Field(default=None, description="prompt played before the queue")
    caller_id: str | None = Field(
        default=None, pattern=r"^0[0-9]{8,10}$", description="the number presented "
        "(番号通知, From and P-Asserted-Identity) on calls that leave for this line's "
        "callers (transfers, interpreters); default: the line's own number")
    max_channels: int = Field(default=0, ge=0, le=10_000, description="calls this line "
                              "carries at once (the contracted lines of the number; 0: no "
                              "limit); one more hears busy_prompt (or a busy tone) and is "
                              "counted as overflow, reason 'channels'")
    busy_prompt: str | None = Field(default=None, description="played to a call beyond "
                                    "max_channels (or beyond its trunk's)")
    trunk: str | None = Field(default=None, description="the trunk the line's outgoing "
                              "calls (transfers, interpreters) leave by; default: the "
                              "first of 'trunks:'")
    calendar: str | None = Field(default=None, description="opening hours (a calendar's "
                                 "name); none: the line is always open")
    closed_prompt: str | None = Field(default=None, description="played when the line is "
                                      "not open (outside hours, closed dates) and for any "
                                      "closed status without its own prompt")
    holiday_prompt: str | None = Field(default=None, description="public holidays")
    year_end_prompt: str | None = Field(default=None, description="year-end closure")
    after_service_prompt: str | None = Field(default=None, description="the service period "
                                             "has ended (業務終了後)")
    targets: ReportTargets | None = Field(default=None, description="the KPI targets this "
                                          "line's reports judge against; default: the "
                                          "site's report_targets")
    survey: Survey | None = Field(default=None, description="the caller satisfaction "
                                  "survey after the operator hangs up")

    @model_validator(mode="after")
    def _queue_or_events(self) -> Line:
        if [self.queue, self.events, self.flow].count(None) != 2:
            raise ValueError("a line needs exactly one of 'queue' (callers reach operators), "
                             "'flow' (an IVR flow) and 'events' (an event-information line)")
        if self.events is None:
            for key in ("intro_prompt", "no_events_prompt"):
                if getattr(self, key) is not None:
                    raise ValueError(f"'{key}' is only for an event line ('events:')")
            return self
        missing = [k for k in ("intro_prompt", "no_events_prompt") if getattr(self, k) is None]
        if missing:
            raise ValueError(f"an event line needs {' and '.join(repr(k) for k in missing)}")
        if "recording" in self.model_fields_set and self.recording != "off":
            raise ValueError("an event line is not recorded: remove 'recording' or set it "
                             "to 'off'")
        for key in ("notice", "calendar", "targets", "survey", *CLOSED_PROMPT_KEYS.values()):
            if getattr(self, key) is not None:
                raise ValueError(f"'{key}' is not used on an event line; remove it")
        return self

    @property
    def presented_number(self) -> str:
        return self.caller_id or self.did

    @property
    def is_event_line(self) -> bool:
        return self.events is not None

    @model_validator(mode="after")
    def _notice_when_recorded(self) -> Line:
        if self.events is not None:
            return self
        if self.recording == "always" and self.notice is None:
            raise ValueError("a line recorded 'always' needs a 'notice' prompt played "
                             "before the caller reaches an operator")
        return self

    def closed_prompts(self) -> dict[CalendarStatus, str]:
        """The prompt played for each closed status (its own, else ``closed_prompt``);
        empty for a line without a calendar."""
        if self.calendar is None or self.closed_prompt is None:
            return {}
        return {status: getattr(self, key) or self.closed_prompt
                for status, key in CLOSED_PROMPT_KEYS.items()}


class SiteFile(Strict):
    """One YAML file; the site is the union of all files in the flows directory."""

    lines: list[Line] = []
    queues: list[Queue] = []
    calendars: list[CalendarSpec] = Field(default=[], description="opening hours, used by "
                                          "lines (calendar: <name>)")
    prompts: dict[str, Prompt] = {}
    away_reasons: dict[str, str] = Field(default={}, description="extra away (離席) reasons: "
                                          "id -> label, beside break, training, meeting, admin")
    event_statuses: dict[Annotated[str, StringConstraints(pattern=NAME)], str] = Field(
        default={}, description="event lines: status id -> the prompt announcing it "
        f"(at least {MIN_EVENT_STATUSES})")
    flows: dict[Annotated[str, StringConstraints(pattern=NAME)], Flow] = Field(
        default={}, description="IVR flows by name, used by lines (flow: <name>)")
    transfers: Transfers | None = Field(default=None, description="where flows and "
                                        "operators may transfer calls")
    categories: list[Annotated[str, StringConstraints(min_length=1, max_length=80)]] = Field(
        default=[], description="inquiry categories operators choose in the disposition")
    report_targets: ReportTargets | None = Field(
        default=None, description="the KPI targets of the overall reports and of lines "
        "without their own 'targets:'; default: the contract figures")
    trunks: list[Trunk] = Field(default=[], description="the carrier trunks; none: one "
                                "trunk 'carrier' made of the carrier_* settings")


class Site(Strict):
    lines: tuple[Line, ...]
    queues: tuple[Queue, ...]
    prompts: dict[str, Prompt]
    away_reasons: dict[str, str] = {}
    calendars: tuple[CalendarSpec, ...] = ()
    event_statuses: dict[str, str] = {}
    flows: dict[str, Flow] = {}
    transfers: Transfers = Transfers()
    categories: tuple[str, ...] = ()
    report_targets: ReportTargets | None = None
    trunks: tuple[Trunk, ...] = ()

    def queue(self, name: str) -> Queue:
        return next(q for q in self.queues if q.name == name)

    def transfer_policy(self) -> TransferPolicy:
        """The site's transfer allow-list (``transfers:``), for flows and operators."""
        return TransferPolicy(allow=tuple(self.transfers.allow),
                              departments=dict(self.transfers.departments))

    def trunk_names(self) -> tuple[str, ...]:
        """The trunks' names in order; the settings' trunk when the YAML has none."""
        return tuple(t.name for t in self.trunks) or (SETTINGS_TRUNK,)

    def line_trunk(self, line: Line) -> str:
        """The trunk the line's outgoing calls leave by."""
        return line.trunk or self.trunk_names()[0]

    @model_validator(mode="after")
    def _trunks_known(self) -> Site:
        """What the loader reports with file:line:column, checked again for a Site built
        in code: unique trunk names, and every line's trunk exists."""
        names = self.trunk_names()
        if len(set(names)) != len(names):
            raise ValueError(f"trunk names must be unique: {', '.join(names)}")
        for line in self.lines:
            if line.trunk is not None and line.trunk not in names:
                raise ValueError(f"line {line.did}: unknown trunk '{line.trunk}'")
        return self

    @model_validator(mode="after")
    def _calendars_complete(self) -> Site:
        """What the loader reports with file:line:column, checked again for a Site built
        in code: a line's calendar exists and the line has its closed prompt."""
        names = {c.name for c in self.calendars}
        for line in self.lines:
            if line.calendar is not None and line.calendar not in names:
                raise ValueError(f"line {line.did}: unknown calendar '{line.calendar}'")
            if line.calendar is not None and line.closed_prompt is None:
                raise ValueError(f"line {line.did}: a line with a calendar needs "
                                 "'closed_prompt'")
        if self.event_lines() and len(self.event_statuses) < MIN_EVENT_STATUSES:
            raise ValueError(f"event lines need at least {MIN_EVENT_STATUSES} "
                             f"'event_statuses', not {len(self.event_statuses)}")
        return self

    def event_lines(self) -> dict[str, Line | EventsNode]:
        """The first line or flow node of each events name (its language speaks the
        statuses and the titles staff type)."""
        found: dict[str, Line | EventsNode] = {}
        for line in self.lines:
            if line.events is not None:
                found.setdefault(line.events, line)
        for flow in self.flows.values():
            for node in flow.nodes.values():
                if isinstance(node, EventsNode):
                    found.setdefault(node.events, node)
        return found

    def domain_calendars(self) -> dict[str, Calendar]:
        """Every calendar of the site by name, as the domain evaluates it."""
        return {spec.name: spec.to_domain() for spec in self.calendars}
