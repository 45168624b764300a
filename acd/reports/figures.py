"""What a KPI report holds: the contract's targets, the figures of a line, queue, day or
hour (counts and the rates derived from them), the agents' figures, staffing and the
escalation list. Plain values, computed by :mod:`acd.reports.kpi`."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

from acd.domain.clock import (
    JST,
)
from acd.domain.problems import Refused

QUICK_ANSWER_SECONDS = 10

COMPLETED, HANDED_OVER, TRANSFERRED, ESCALATED, OTHER = \
    "完了", "取次", "転送", "エスカレーション", "その他"
NOT_OFFERED = ("after_hours", "event_info", "transferred", "ivr", "emergency")
#: How long abandoned callers had waited in the queue: (name, above s, up to s).
ABANDONED_WAIT_BUCKETS: tuple[tuple[str, float, float | None], ...] = (
    ("0_10", 0, 10), ("10_30", 10, 30), ("30_60", 30, 60), ("60_120", 60, 120),
    ("over_120", 120, None))
UNCATEGORISED = None


class ReportError(Refused):
    """A report that cannot be made as asked (unknown line or queue, bad range)."""


class UnknownLineError(ReportError):
    def __init__(self, line: str) -> None:
        super().__init__("LINE_UNKNOWN", f"line {line!r} does not exist (no such line in the "
                         "flows and never a call on it)")


class UnknownQueueError(ReportError):
    def __init__(self, queue: str) -> None:
        super().__init__("QUEUE_UNKNOWN", f"queue {queue!r} does not exist (no such queue in "
                         "the flows and never a call in it)")


@dataclass(frozen=True)
class Targets:
    """What a report judges its figures against (met: figure ≥ target): rates in percent,
    and the wait within which an answer counts as quick. ``source`` says whose they are:
    ``line`` (the line's ``targets:``), ``site`` (``report_targets:``) or ``default`` (the
    contract figures of KPI.md); acd/reports/targets.py reads them from the flows."""

    answer_rate: float = 90.0
    quick_answer_rate: float = 90.0
    first_contact_resolution: float = 40.0
    first_response_rate: float = 95.0
    quick_answer_seconds: float = QUICK_ANSWER_SECONDS
    source: str = "default"

    RATES = ("answer_rate", "quick_answer_rate", "first_contact_resolution",
             "first_response_rate")

    @property
    def rates(self) -> dict[str, float]:
        return {key: getattr(self, key) for key in self.RATES}


def _pct(numerator: int, denominator: int) -> float | None:
    return None if denominator <= 0 else 100.0 * numerator / denominator


def _mean(total: float, n: int) -> float | None:
    return None if n <= 0 else total / n


@dataclass
class Figures:
    """Additive counts and sums of one slice of calls; the KPIs are properties."""

    offered: int = 0
    after_hours: int = 0
    event_info: int = 0
    answered: int = 0
    quick_answered: int = 0
    abandoned: int = 0
    abandoned_in_queue: int = 0
    abandoned_wait_sum: float = 0.0
    abandoned_wait_n: int = 0
    overflow: int = 0  # overflow + voicemail outcomes
    voicemail: int = 0
    dispositions: int = 0  # answered calls with a disposition (the latest one counts)
    completed: int = 0
    handed_over: int = 0
    transferred: int = 0
    escalated: int = 0
    other: int = 0
    complaints: int = 0
    faq_prescribed: int = 0  # dispositions whose handling the FAQ prescribes
    faq_followed: int = 0  # ... handled so: 完了, 取次 or 転送
    talk_sum: float = 0.0
    talk_n: int = 0
    talk_completed_sum: float = 0.0
    talk_completed_n: int = 0
    talk_transferred_sum: float = 0.0
    talk_transferred_n: int = 0
    answered_wait_sum: float = 0.0  # the waits of the answered calls (ASA)
    answered_wait_n: int = 0
    longest_wait: float = 0.0  # of the calls that waited in a queue (combined by max)
    # abandoned calls that had waited in a queue, by how long (ABANDONED_WAIT_BUCKETS)
    abandoned_wait_0_10: int = 0
    abandoned_wait_10_30: int = 0
    abandoned_wait_30_60: int = 0
    abandoned_wait_60_120: int = 0
    abandoned_wait_over_120: int = 0
    emergency_heard: int = 0  # calls that heard an emergency announcement
    emergency_ended: int = 0  # ... and ended by it (mode hangup): not offered to operators
    survey_offered: int = 0  # answered calls that heard the satisfaction survey
    survey_responses: int = 0  # ... and answered at least one question
    survey_answer_sum: int = 0  # the keys 1-5 of every answer
    survey_answer_n: int = 0  # the answers (questions answered)

    def add(self, other: Figures) -> None:
        for name in FIGURE_COLUMNS:
            mine, theirs = getattr(self, name), getattr(other, name)
            setattr(self, name, max(mine, theirs) if name in MAX_COLUMNS else mine + theirs)

    @property
    def average_speed_of_answer(self) -> float | None:
        """平均応答時間: the mean wait of the answered calls (s), the congestion guidance
        excluded as for 即応率."""
        return _mean(self.answered_wait_sum, self.answered_wait_n)

    @property
    def abandoned_waits(self) -> dict[str, int]:
        """Abandoned calls that had waited in a queue, by wait bucket."""
        return {name: getattr(self, f"abandoned_wait_{name}")
                for name, _, _ in ABANDONED_WAIT_BUCKETS}

    @property
    def service_level(self) -> float | None:
        """The share of the answered calls answered within the quick-answer seconds (即応率
        of one interval)."""
        return self.quick_answer_rate

    @property
    def satisfaction(self) -> float | None:
        """利用者満足度: the mean answer (1-5) scaled to 100 (5 -> 100); callers who hung up
        without answering are not counted as low scores, only as no response."""
        mean = _mean(self.survey_answer_sum, self.survey_answer_n)
        return None if mean is None else mean * 20

    @property
    def survey_response_rate(self) -> float | None:
        return _pct(self.survey_responses, self.survey_offered)

    @property
    def calls(self) -> int:
        return self.offered + self.after_hours + self.event_info + self.emergency_ended

    @property
    def unanswered(self) -> int:
        return self.offered - self.answered

    @property
    def abandoned_in_menu(self) -> int:
        """Callers who hung up in the IVR menus, before any queue."""
        return self.abandoned - self.abandoned_in_queue

    @property
    def answer_rate(self) -> float | None:
        return _pct(self.answered, self.offered)

    @property
    def quick_answer_rate(self) -> float | None:
        return _pct(self.quick_answered, self.answered)

    @property
    def fcr_denominator(self) -> int:
        """answered − その他 (staff calls cannot be told apart yet: they count as answered)."""
        return self.answered - self.other

    @property
    def first_contact_resolution(self) -> float | None:
        """None (shown "—", judged neither met nor missed) while no answered call has a
        disposition: nothing to judge yet."""
        if self.dispositions <= 0:
            return None
        return _pct(self.completed, self.fcr_denominator)

    @property
    def first_response_rate(self) -> float | None:
        """Calls handled as the FAQ prescribes (完了, 取次, 転送) / calls whose handling the
        FAQ prescribes (the operator's "FAQ prescribed" flag on the disposition); a transfer
        made because the answer could not be found is not FAQ-prescribed and counts in
        neither."""
        return _pct(self.faq_followed, self.faq_prescribed)

    @property
    def transfer_rate(self) -> float | None:
        return _pct(self.transferred, self.answered)

    @property
    def abandoned_mean_wait(self) -> float | None:
        return _mean(self.abandoned_wait_sum, self.abandoned_wait_n)

    @property
    def aht(self) -> float | None:
        return _mean(self.talk_sum, self.talk_n)

    @property
    def aht_completed(self) -> float | None:
        return _mean(self.talk_completed_sum, self.talk_completed_n)

    @property
    def aht_transferred(self) -> float | None:
        return _mean(self.talk_transferred_sum, self.talk_transferred_n)



FIGURE_COLUMNS = [f.name for f in fields(Figures)]
MAX_COLUMNS = frozenset({"longest_wait"})  # combined by max, not summed


def combine(totals: list, values: list) -> list:
    """The column-wise sum of two rows of figures (a max for :data:`MAX_COLUMNS`)."""
    return [max(a, b) if name in MAX_COLUMNS else a + b
            for name, a, b in zip(FIGURE_COLUMNS, totals, values, strict=True)]
DISPOSITIONS_AT = FIGURE_COLUMNS.index("dispositions")

@dataclass
class Staffing:
    mean: float | None = None  # agents logged in, averaged over the hours
    max: int = 0  # most agents logged in at once


@dataclass
class AgentFigures:
    agent: str
    calls: int = 0  # answered calls (within the line/queue filters)
    talk_seconds: float = 0.0  # talk of those calls (call records)
    logged_in_seconds: float = 0.0
    ready_seconds: float = 0.0
    ringing_seconds: float = 0.0
    on_call_seconds: float = 0.0
    wrapup_seconds: float = 0.0
    missed_seconds: float = 0.0
    away_seconds: dict[str, float] = field(default_factory=dict)  # by reason
    survey: Figures = field(default_factory=Figures)  # the survey of their answered calls

    @property
    def busy_seconds(self) -> float:
        return self.on_call_seconds + self.wrapup_seconds

    @property
    def occupancy(self) -> float | None:
        if self.logged_in_seconds <= 0:
            return None
        return 100.0 * self.busy_seconds / self.logged_in_seconds


@dataclass
class Escalation:
    uniqueid: str
    entered_at: float
    line: str
    queue: str
    agent: str
    outcome: str
    category: str | None
    complaint: bool
    escalation: bool
    note: str


@dataclass
class Kpis:
    start: datetime
    end: datetime
    line: str | None
    queue: str | None
    overall: Figures
    by_day: dict[date, Figures]  # every day of the range, with zeros when no call
    by_hour: dict[int, Figures]  # hour of day 0..23 (JST), summed over the range
    by_half_hour: dict[int, Figures]  # half-hour of day 0..47 (JST), summed over the range
    by_line: dict[str, Figures]
    by_queue: dict[str, Figures]
    by_category: dict[str | None, int]  # answered calls per disposition category
    escalations: list[Escalation]
    complaint_calls: list[Escalation]  # calls whose latest disposition is a complaint
    staffing: Staffing
    staffing_by_hour: dict[int, Staffing]
    agents: dict[str, AgentFigures]
    targets: Targets = field(default_factory=Targets)
    #: 職員満足度: the scores (0-100) the city's staff gave the months of the period
    staff_scores: list[int] = field(default_factory=list)
    generated_at: datetime = field(default_factory=lambda: datetime.now(JST))

    @property
    def empty(self) -> bool:
        """No call at all in the range (after-hours and event-line calls included)."""
        return self.overall.calls == 0

    @property
    def complaints(self) -> int:
        return self.overall.complaints

    @property
    def staff_satisfaction(self) -> float | None:
        return _mean(sum(self.staff_scores), len(self.staff_scores))

    @property
    def staff_ratings(self) -> int:
        return len(self.staff_scores)

    @property
    def occupancy(self) -> float | None:
        logged = sum(a.logged_in_seconds for a in self.agents.values())
        busy = sum(a.busy_seconds for a in self.agents.values())
        return None if logged <= 0 else 100.0 * busy / logged

    def __getattr__(self, name: str) -> Any:  # kpis.answer_rate == kpis.overall.answer_rate
        if name.startswith("_") or name == "overall":
            raise AttributeError(name)
        return getattr(self.overall, name)


