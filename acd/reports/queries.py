"""The SQL of the KPI reports: the figures query over ``call_records`` joined to each
call's latest disposition, the agents' calls and escalations, and the agents' time from
``agent_intervals`` — the same text on SQLite and PostgreSQL (see :mod:`acd.reports.kpi`)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

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

from acd.adapters.db.schema import agent_intervals, call_records, dispositions, staff_ratings
from acd.domain.clock import (
    JST,
    JST_OFFSET,
)
from acd.reports.figures import (
    ABANDONED_WAIT_BUCKETS,
    COMPLETED,
    ESCALATED,
    FIGURE_COLUMNS,
    HANDED_OVER,
    NOT_OFFERED,
    OTHER,
    QUICK_ANSWER_SECONDS,
    TRANSFERRED,
)

# ------------------------------------------------------------------------- time

#: The intervals of the service level breakdown (30 minutes, as staffing plans count).
HALF_HOUR = 1800
HALF_HOURS_PER_DAY = 48


def slot_index_sql(seconds: int, column: str = "call_records.entered_at"):
    """floor((t + 9 h) / seconds): JST intervals since the epoch, for t > 0, as literal
    SQL that is the same text on SQLite (where the cast truncates) and PostgreSQL (where
    it rounds), and the same in SELECT and GROUP BY."""
    x = f"(({column} + 32400) / {seconds}.0)"
    return literal_column(
        f"(CAST({x} AS BIGINT) - CASE WHEN CAST({x} AS BIGINT) > {x} THEN 1 ELSE 0 END)")


def hour_index_sql(column: str = "call_records.entered_at"):
    """JST hours since the epoch (see :func:`slot_index_sql`)."""
    return slot_index_sql(3600, column)


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




def _within(value, low: float, high: float | None) -> list:
    """low < value <= high (no upper bound when high is None; 0 is in the first)."""
    bounds = [value <= high] if high is not None else []
    return [value > low, *bounds] if low > 0 else bounds


def _figures_query(start: float, end: float, line: str | None, queue: str | None,
                   quick_seconds: float = QUICK_ANSWER_SECONDS):
    r = call_records
    d, joined = _latest_disposition_join(r, start)
    outcome, wait, talk = r.c.outcome, r.c.wait_seconds, r.c.talk_seconds
    answered = outcome == "answered"
    abandoned = outcome == "abandoned"
    disposed = and_(answered, d.c.id.is_not(None))
    h = slot_index_sql(HALF_HOUR)  # the half-hour: hours and days are made of them
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
        "answered_wait_sum": _sum_if(answered, wait),
        "answered_wait_n": _count_if(and_(answered, wait.is_not(None))),
        "longest_wait": func.max(case((and_(r.c.queue_joined_at.is_not(None),
                                            wait.is_not(None)), wait), else_=0.0)),
        **{f"abandoned_wait_{bucket}": _count_if(and_(abandoned, wait.is_not(None),
                                                     *_within(wait, low, high)))
           for bucket, low, high in ABANDONED_WAIT_BUCKETS},
        "emergency_heard": _count_if(r.c.emergency_switch.is_not(None)),
        "emergency_ended": _count_if(outcome == "emergency"),
        "survey_offered": _count_if(r.c.survey_offered),
        "survey_responses": _count_if(r.c.survey_answer_count > 0),
        "survey_answer_sum": func.sum(r.c.survey_answer_sum),
        "survey_answer_n": func.sum(r.c.survey_answer_count),
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
                                 else_=0.0)).label("talk"),
                   _count_if(r.c.survey_offered).label("surveyed"),
                   _count_if(r.c.survey_answer_count > 0).label("responses"),
                   func.sum(r.c.survey_answer_sum).label("answer_sum"),
                   func.sum(r.c.survey_answer_count).label("answer_n"))
            .where(*_filters(r, start, end, line, queue), r.c.outcome == "answered",
                   r.c.agent.is_not(None))
            .group_by(r.c.agent))


def months_of(start: float, end: float) -> list[str]:
    """The Tokyo months (YYYY-MM) [start, end) touches."""
    first = datetime.fromtimestamp(start, JST).date().replace(day=1)
    last = datetime.fromtimestamp(max(start, end - 1e-6), JST).date()
    months = []
    while first <= last:
        months.append(f"{first:%Y-%m}")
        first = (first + timedelta(days=32)).replace(day=1)
    return months


def _staff_scores_query(start: float, end: float):
    return select(staff_ratings.c.score).where(staff_ratings.c.month.in_(months_of(start, end)))


def _listed_calls_query(start, end, line, queue):
    """The calls the reports list one by one: escalations and complaints."""
    r = call_records
    d, joined = _latest_disposition_join(r, start)
    return (select(r.c.uniqueid, r.c.entered_at, r.c.line, r.c.queue, d.c.agent, d.c.outcome,
                   d.c.category, d.c.complaint, d.c.escalation, d.c.note)
            .select_from(joined)
            .where(*_filters(r, start, end, line, queue), d.c.id.is_not(None),
                   (d.c.escalation) | (d.c.outcome == ESCALATED) | d.c.complaint)
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


