"""The contract KPIs (../shared/KPI.md) computed from the database.

Every figure about calls comes from one SQL query over ``call_records`` (grouped by the
JST hour, the line, the queue and the disposition category) joined to each call's latest
disposition (escalations are listed by a second query); counts and sums
are rolled up in Python into the overall figures and the breakdowns by day, by hour of day,
by line and by queue. Rates are computed in Python from integer counts, so SQLite and
PostgreSQL give the same numbers. The SQL is the same on both databases (SQLAlchemy renders
only the parameter style and the boolean test ``d.complaint`` / ``d.complaint = 1``
differently): epoch seconds are floored with ``CAST(x AS BIGINT) - (CAST(x AS BIGINT) > x)``
because the cast truncates on SQLite and rounds on PostgreSQL.

Time: a call belongs to the JST day and hour of its ``entered_at``. Japan has no DST, so
``hour index = floor((t + 9*3600) / 3600)``, day = hour index // 24, hour = hour index % 24.

Agent figures (time per state, away by reason, occupancy, staffing) come from
``agent_intervals`` (one row per agent-state span, written by the controller as states
change; acd/reports/intervals.py): the seconds per agent, state and away reason are one
SQL query (each interval clipped to the range with CASE, the same text on both databases),
and staffing is swept in Python over the logged-in sessions (a few per agent and day).
They are centre-wide: an agent's state is not per queue, so the line/queue filters do not
apply to them (the answered calls and talk per agent do follow the filters).
"""

from __future__ import annotations

import asyncio
import time as _time
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from operator import add
from typing import Any

from sqlalchemy import (
    Double,
    and_,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.db.schema import agent_intervals, call_records, dispositions
from acd.domain.clock import (
    JST,
    JST_OFFSET,
    as_jst,
    day_range,
    month_range,
    week_range,
)

QUICK_ANSWER_SECONDS = 10

COMPLETED, HANDED_OVER, TRANSFERRED, ESCALATED, OTHER = \
    "完了", "取次", "転送", "エスカレーション", "その他"
NOT_OFFERED = ("after_hours", "event_info", "transferred", "ivr")
UNCATEGORISED = None


class ReportError(Exception):
    """A report that cannot be made as asked (unknown line or queue, bad range)."""

    def __init__(self, error_id: str, message: str) -> None:
        super().__init__(message)
        self.error_id = error_id


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
    quick_answer_seconds: int = QUICK_ANSWER_SECONDS
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

    def add(self, other: Figures) -> None:
        for name in FIGURE_COLUMNS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def calls(self) -> int:
        return self.offered + self.after_hours + self.event_info

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
    by_line: dict[str, Figures]
    by_queue: dict[str, Figures]
    by_category: dict[str | None, int]  # answered calls per disposition category
    escalations: list[Escalation]
    staffing: Staffing
    staffing_by_hour: dict[int, Staffing]
    agents: dict[str, AgentFigures]
    targets: Targets = field(default_factory=Targets)
    generated_at: datetime = field(default_factory=lambda: datetime.now(JST))

    @property
    def empty(self) -> bool:
        """No call at all in the range (after-hours and event-line calls included)."""
        return self.overall.calls == 0

    @property
    def complaints(self) -> int:
        return self.overall.complaints

    @property
    def occupancy(self) -> float | None:
        logged = sum(a.logged_in_seconds for a in self.agents.values())
        busy = sum(a.busy_seconds for a in self.agents.values())
        return None if logged <= 0 else 100.0 * busy / logged

    def __getattr__(self, name: str) -> Any:  # kpis.answer_rate == kpis.overall.answer_rate
        if name.startswith("_") or name == "overall":
            raise AttributeError(name)
        return getattr(self.overall, name)


# ------------------------------------------------------------------------- time

def hour_index_sql(column: str = "call_records.entered_at"):
    """floor((t + 9 h) / 1 h): JST hours since the epoch, for t > 0, as literal SQL that
    is the same text on SQLite (where the cast truncates) and PostgreSQL (where it
    rounds), and the same in SELECT and GROUP BY."""
    x = f"(({column} + 32400) / 3600.0)"
    return literal_column(
        f"(CAST({x} AS BIGINT) - CASE WHEN CAST({x} AS BIGINT) > {x} THEN 1 ELSE 0 END)")


def _hour_index(t: float) -> int:
    return int((t + JST_OFFSET) // 3600)


def _date_of_day_index(day_index: int) -> date:
    return date(1970, 1, 1) + timedelta(days=day_index)


# ------------------------------------------------------------------------- SQL

def _count_if(condition):
    return func.sum(case((condition, 1), else_=0))


def _sum_if(condition, value):
    return func.sum(case((and_(condition, value.is_not(None)), value), else_=0.0))


#: A disposition is recorded after its call arrived; the margin only guards against a
#: clock stepped back meanwhile.
DISPOSITION_CLOCK_MARGIN = 3600.0


def _latest_disposition_join(r, since: float):
    """LEFT JOIN of each call's latest disposition (highest id). Only dispositions recorded
    since the range's start are read (an index range), numbered per call by a window
    function, so the join is a hash join of the range's calls with the range's latest
    dispositions — never a lookup per call nor a scan of every disposition."""
    d = dispositions
    numbered = (select(d.c.id, d.c.uniqueid, d.c.agent, d.c.outcome, d.c.category,
                       d.c.complaint, d.c.escalation, d.c.note, d.c.faq_prescribed,
                       func.row_number().over(partition_by=d.c.uniqueid,
                                              order_by=d.c.id.desc()).label("n"))
                .where(d.c.recorded_at >= since - DISPOSITION_CLOCK_MARGIN)
                .subquery("d_numbered"))
    latest = (select(*[c for c in numbered.c if c.name != "n"]).where(numbered.c.n == 1)
              .subquery("d"))
    return latest, r.outerjoin(latest, latest.c.uniqueid == r.c.uniqueid)


def _filters(r, start: float, end: float, line: str | None, queue: str | None) -> list:
    where = [r.c.entered_at >= start, r.c.entered_at < end]
    if line is not None:
        where.append(r.c.line == line)
    if queue is not None:
        where.append(r.c.queue == queue)
    return where


FIGURE_COLUMNS = [f.name for f in fields(Figures)]
DISPOSITIONS_AT = FIGURE_COLUMNS.index("dispositions")


def _figures_query(start: float, end: float, line: str | None, queue: str | None,
                   quick_seconds: float = QUICK_ANSWER_SECONDS):
    r = call_records
    d, joined = _latest_disposition_join(r, start)
    outcome, wait, talk = r.c.outcome, r.c.wait_seconds, r.c.talk_seconds
    answered = outcome == "answered"
    abandoned = outcome == "abandoned"
    disposed = and_(answered, d.c.id.is_not(None))
    h = hour_index_sql()
    columns = {
        "offered": _count_if(outcome.not_in(NOT_OFFERED)),
        "after_hours": _count_if(outcome == "after_hours"),
        "event_info": _count_if(outcome == "event_info"),
        "answered": _count_if(answered),
        "quick_answered": _count_if(and_(answered, wait <= quick_seconds)),
        "abandoned": _count_if(abandoned),
        "abandoned_in_queue": _count_if(and_(abandoned, r.c.queue_joined_at.is_not(None))),
        "abandoned_wait_sum": _sum_if(abandoned, wait),
        "abandoned_wait_n": _count_if(and_(abandoned, wait.is_not(None))),
        "overflow": _count_if(outcome.in_(("overflow", "voicemail"))),
        "voicemail": _count_if(outcome == "voicemail"),
        "dispositions": _count_if(disposed),
        "completed": _count_if(and_(disposed, d.c.outcome == COMPLETED)),
        "handed_over": _count_if(and_(disposed, d.c.outcome == HANDED_OVER)),
        "transferred": _count_if(and_(disposed, d.c.outcome == TRANSFERRED)),
        "escalated": _count_if(and_(disposed, d.c.outcome == ESCALATED)),
        "other": _count_if(and_(disposed, d.c.outcome == OTHER)),
        "complaints": _count_if(and_(disposed, d.c.complaint)),
        "faq_prescribed": _count_if(and_(disposed, d.c.faq_prescribed)),
        "faq_followed": _count_if(and_(disposed, d.c.faq_prescribed, d.c.outcome.in_(
            (COMPLETED, HANDED_OVER, TRANSFERRED)))),
        "talk_sum": _sum_if(answered, talk),
        "talk_n": _count_if(and_(answered, talk.is_not(None))),
        "talk_completed_sum": _sum_if(and_(disposed, d.c.outcome == COMPLETED), talk),
        "talk_completed_n": _count_if(and_(disposed, d.c.outcome == COMPLETED,
                                           talk.is_not(None))),
        "talk_transferred_sum": _sum_if(
            and_(disposed, d.c.outcome.in_((HANDED_OVER, TRANSFERRED))), talk),
        "talk_transferred_n": _count_if(and_(
            disposed, d.c.outcome.in_((HANDED_OVER, TRANSFERRED)), talk.is_not(None))),
    }
    assert list(columns) == FIGURE_COLUMNS
    return (select(h.label("h"), r.c.line, r.c.queue, d.c.category,
                   *[c.label(k) for k, c in columns.items()])
            .select_from(joined)
            .where(*_filters(r, start, end, line, queue))
            .group_by(h, r.c.line, r.c.queue, d.c.category))


def _agent_calls_query(start, end, line, queue):
    r = call_records
    return (select(r.c.agent, func.count().label("n"),
                   func.sum(case((r.c.talk_seconds.is_not(None), r.c.talk_seconds),
                                 else_=0.0)).label("talk"))
            .where(*_filters(r, start, end, line, queue), r.c.outcome == "answered",
                   r.c.agent.is_not(None))
            .group_by(r.c.agent))


def _escalations_query(start, end, line, queue):
    r = call_records
    d, joined = _latest_disposition_join(r, start)
    return (select(r.c.uniqueid, r.c.entered_at, r.c.line, r.c.queue, d.c.agent, d.c.outcome,
                   d.c.category, d.c.complaint, d.c.escalation, d.c.note)
            .select_from(joined)
            .where(*_filters(r, start, end, line, queue), d.c.id.is_not(None),
                   (d.c.escalation) | (d.c.outcome == ESCALATED))
            .order_by(r.c.entered_at, r.c.uniqueid))


# ------------------------------------------------------------------------- agents

def _clipped_intervals(t0: float, state_end: float):
    """(interval, its start and end clipped to [t0, state_end], the overlap condition);
    an open interval (ended_at NULL) lasts until ``state_end``."""
    t = agent_intervals
    lo, hi = literal(t0, Double), literal(state_end, Double)
    ended = func.coalesce(t.c.ended_at, hi)
    a = case((t.c.started_at < lo, lo), else_=t.c.started_at)
    b = case((ended > hi, hi), else_=ended)
    overlap = and_(t.c.started_at < hi, or_(t.c.ended_at > lo, t.c.ended_at.is_(None)))
    return t, a, b, overlap


def _agent_time_query(t0: float, state_end: float):
    """Seconds per agent, status and away reason within [t0, state_end)."""
    t, a, b, overlap = _clipped_intervals(t0, state_end)
    return (select(t.c.agent, t.c.status, t.c.reason, func.sum(b - a).label("seconds"))
            .where(overlap).group_by(t.c.agent, t.c.status, t.c.reason))


def _sessions_query(t0: float, state_end: float):
    """The logged-in sessions overlapping the range: (agent, login_at, last end)."""
    t, _a, b, overlap = _clipped_intervals(t0, state_end)
    return (select(t.c.agent, t.c.login_at, func.max(b).label("until"))
            .where(overlap).group_by(t.c.agent, t.c.login_at))


def _staffing(logins, start: float, end: float):
    """Per JST hour index: (logged-in agent-seconds, max agents logged in at once)."""
    points: list[tuple[float, int]] = []
    for _agent, a, b in logins:
        points += [(a, 1), (b, -1)]
    if not points:
        return {}
    # cut at every hour boundary too
    first, last = _hour_index(start), _hour_index(end - 1e-9)
    for h in range(first, last + 2):
        boundary = float(h * 3600 - JST_OFFSET)
        if start < boundary < end:
            points.append((boundary, 0))
    points.sort()
    slots: dict[int, list] = defaultdict(lambda: [0.0, 0])
    count, previous = 0, points[0][0]
    for t, delta in points:
        if t > previous and count > 0:
            slot = slots[_hour_index(previous)]
            slot[0] += count * (t - previous)
            slot[1] = max(slot[1], count)
        count += delta
        previous = t
    return slots


# ------------------------------------------------------------------------- compute

async def compute_kpis(engine: AsyncEngine, start: datetime, end: datetime,
                       line: str | None = None, queue: str | None = None, *,
                       known_lines: Collection[str] | None = None,
                       known_queues: Collection[str] | None = None,
                       now: float | None = None, targets: Targets | None = None) -> Kpis:
    """Every KPI of [start, end) (naive datetimes are JST) for a line and/or queue, or all.

    ``known_lines``/``known_queues`` (e.g. from the flows) let a configured line without any
    call yet give an empty report instead of :class:`UnknownLineError`. ``targets``: what
    the report judges against (default: the contract figures); its quick-answer seconds
    count the quick answers.
    """
    targets = targets or Targets()
    start, end = as_jst(start), as_jst(end)
    if end <= start:
        raise ReportError("BAD_RANGE", f"the range ends ({end}) before it starts ({start})")
    t0, t1 = start.timestamp(), end.timestamp()
    now = _time.time() if now is None else now
    async with engine.connect() as conn:  # the line/queue asked for must exist
        for value, column, known, error in ((line, call_records.c.line, known_lines,
                                             UnknownLineError),
                                            (queue, call_records.c.queue, known_queues,
                                             UnknownQueueError)):
            if value is None or (known is not None and value in known):
                continue
            seen = (await conn.execute(select(column).where(column == value).limit(1))).first()
            if seen is None:
                raise error(value)

    async def rows(query) -> list:
        async with engine.connect() as conn:
            return list((await conn.execute(query)).all())

    async def nothing() -> list:
        return []

    # independent queries, each on its own connection: the database works on them at once
    state_end = min(t1, max(now, t0))
    figure_rows, agent_call_rows, escalation_rows, time_rows, session_rows = \
        await asyncio.gather(
            rows(_figures_query(t0, t1, line, queue, targets.quick_answer_seconds)),
            rows(_agent_calls_query(t0, t1, line, queue)),
            rows(_escalations_query(t0, t1, line, queue)),
            rows(_agent_time_query(t0, state_end)) if state_end > t0 else nothing(),
            rows(_sessions_query(t0, state_end)) if state_end > t0 else nothing())

    n = len(FIGURE_COLUMNS)
    zero = [0] * n
    acc_all = list(zero)
    acc_day: dict[int, list] = {}
    acc_hour: dict[int, list] = {}
    acc_line: dict[str, list] = {}
    acc_queue: dict[str, list] = {}
    categories: dict[str | None, int] = {}
    for row in figure_rows:
        h, line_, queue_, category = int(row[0]), row[1], row[2], row[3]
        values = [v or 0 for v in row[4:]]
        if values[DISPOSITIONS_AT]:
            categories[category] = categories.get(category, 0) + values[DISPOSITIONS_AT]
        for acc in (acc_all, acc_day.setdefault(h // 24, list(zero)),
                    acc_hour.setdefault(h % 24, list(zero)), acc_line.setdefault(line_, list(zero)),
                    acc_queue.setdefault(queue_, list(zero))):
            acc[:] = map(add, acc, values)

    def as_figures(acc: list | None) -> Figures:
        return Figures(*acc) if acc is not None else Figures()

    overall = as_figures(acc_all)
    first_day, last_day = _hour_index(t0) // 24, _hour_index(t1 - 1e-6) // 24
    by_day = {_date_of_day_index(d): as_figures(acc_day.get(d))
              for d in sorted(set(range(first_day, last_day + 1)) | set(acc_day))}
    by_hour = {h: as_figures(acc_hour.get(h)) for h in range(24)}
    by_line = {k: as_figures(v) for k, v in acc_line.items()}
    by_queue = {k: as_figures(v) for k, v in acc_queue.items()}

    by_category = {category: n for category, n in
                   sorted(categories.items(), key=lambda kv: (-kv[1], kv[0] or ""))}
    escalations = [Escalation(r.uniqueid, float(r.entered_at), r.line, r.queue, r.agent,
                              r.outcome, r.category, bool(r.complaint), bool(r.escalation),
                              r.note) for r in escalation_rows]

    agents: dict[str, AgentFigures] = {}
    for agent, status, reason, spent in time_rows:
        figures = agents.setdefault(agent, AgentFigures(agent))
        spent = float(spent or 0.0)
        figures.logged_in_seconds += spent
        if status == "away":
            key = reason or "away"
            figures.away_seconds[key] = figures.away_seconds.get(key, 0.0) + spent
        elif status in ("ready", "ringing", "on_call", "wrapup", "missed"):
            setattr(figures, f"{status}_seconds", getattr(figures, f"{status}_seconds") + spent)
    logins = [(agent, max(float(login_at), t0), float(until))
              for agent, login_at, until in session_rows]
    logins = [(agent, a, b) for agent, a, b in logins if b > a]
    for row in agent_call_rows:
        figures = agents.setdefault(row.agent, AgentFigures(row.agent))
        figures.calls, figures.talk_seconds = int(row.n), float(row.talk or 0.0)
    agents = {k: agents[k] for k in sorted(agents) if agents[k].logged_in_seconds > 0
              or agents[k].calls > 0}

    slots = _staffing(logins, t0, state_end)
    staffing = Staffing()
    staffed = [s for s in slots.values() if s[0] > 0]
    if staffed:
        staffing = Staffing(sum(s[0] for s in staffed) / (3600.0 * len(staffed)),
                            max(s[1] for s in staffed))
    hours_in_range: dict[int, int] = defaultdict(int)
    for h in range(_hour_index(t0), _hour_index(t1 - 1e-6) + 1):
        hours_in_range[h % 24] += 1
    staffing_by_hour = {}
    for hour in range(24):
        mine = [s for h, s in slots.items() if h % 24 == hour]
        if mine and hours_in_range[hour]:
            staffing_by_hour[hour] = Staffing(
                sum(s[0] for s in mine) / (3600.0 * hours_in_range[hour]),
                max(s[1] for s in mine))
        else:
            staffing_by_hour[hour] = Staffing(None if not hours_in_range[hour] else 0.0, 0)

    return Kpis(start, end, line, queue, overall, by_day, by_hour, dict(sorted(by_line.items())),
                dict(sorted(by_queue.items())), by_category, escalations, staffing,
                staffing_by_hour, agents, targets)


__all__ = [
    "JST",
    "AgentFigures",
    "Escalation",
    "Figures",
    "Kpis",
    "ReportError",
    "Staffing",
    "Targets",
    "UnknownLineError",
    "UnknownQueueError",
    "compute_kpis",
    "day_range",
    "hour_index_sql",
    "month_range",
    "week_range",
]
