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
from datetime import datetime

from sqlalchemy import (
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.db.schema import call_records
from acd.domain.clock import (
    JST,
    as_jst,
    day_range,
    month_range,
    week_range,
)
from acd.reports.figures import (
    DISPOSITIONS_AT,
    ESCALATED,
    FIGURE_COLUMNS,
    AgentFigures,
    Escalation,
    Figures,
    Kpis,
    ReportError,
    Staffing,
    Targets,
    UnknownLineError,
    UnknownQueueError,
    combine,
)
from acd.reports.queries import (
    HALF_HOURS_PER_DAY,
    _agent_calls_query,
    _agent_time_query,
    _date_of_day_index,
    _figures_query,
    _hour_index,
    _listed_calls_query,
    _sessions_query,
    _staff_scores_query,
    _staffing,
    hour_index_sql,
)

# ------------------------------------------------------------------------- compute

def _agent_time(time_rows) -> dict[str, AgentFigures]:
    """Each agent's time by state from (agent, status, reason, seconds) rows."""
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
    return agents


async def agents_occupancy(engine: AsyncEngine, start: float, end: float
                           ) -> dict[str, float | None]:
    """Each agent's occupancy (稼働率: on a call or in wrap-up / logged in, percent) over
    [start, end), from the agents' state intervals (the wallboard's: today so far)."""
    if end <= start:
        return {}
    async with engine.connect() as conn:
        rows = (await conn.execute(_agent_time_query(start, end))).all()
    return {agent: figures.occupancy for agent, figures in _agent_time(rows).items()}


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
    figure_rows, agent_call_rows, escalation_rows, time_rows, session_rows, staff_rows = \
        await asyncio.gather(
            rows(_figures_query(t0, t1, line, queue, targets.quick_answer_seconds)),
            rows(_agent_calls_query(t0, t1, line, queue)),
            rows(_listed_calls_query(t0, t1, line, queue)),
            rows(_agent_time_query(t0, state_end)) if state_end > t0 else nothing(),
            rows(_sessions_query(t0, state_end)) if state_end > t0 else nothing(),
            rows(_staff_scores_query(t0, t1)))

    n = len(FIGURE_COLUMNS)
    zero = [0] * n
    acc_all = list(zero)
    acc_day: dict[int, list] = {}
    acc_hour: dict[int, list] = {}
    acc_half: dict[int, list] = {}
    acc_line: dict[str, list] = {}
    acc_queue: dict[str, list] = {}
    categories: dict[str | None, int] = {}
    for row in figure_rows:
        half, line_, queue_, category = int(row[0]), row[1], row[2], row[3]
        h = half // 2
        values = [v or 0 for v in row[4:]]
        if values[DISPOSITIONS_AT]:
            categories[category] = categories.get(category, 0) + values[DISPOSITIONS_AT]
        for acc in (acc_all, acc_day.setdefault(h // 24, list(zero)),
                    acc_hour.setdefault(h % 24, list(zero)),
                    acc_half.setdefault(half % HALF_HOURS_PER_DAY, list(zero)),
                    acc_line.setdefault(line_, list(zero)),
                    acc_queue.setdefault(queue_, list(zero))):
            acc[:] = combine(acc, values)

    def as_figures(acc: list | None) -> Figures:
        return Figures(*acc) if acc is not None else Figures()

    overall = as_figures(acc_all)
    first_day, last_day = _hour_index(t0) // 24, _hour_index(t1 - 1e-6) // 24
    by_day = {_date_of_day_index(d): as_figures(acc_day.get(d))
              for d in sorted(set(range(first_day, last_day + 1)) | set(acc_day))}
    by_hour = {h: as_figures(acc_hour.get(h)) for h in range(24)}
    by_half_hour = {h: as_figures(acc_half.get(h)) for h in range(HALF_HOURS_PER_DAY)}
    by_line = {k: as_figures(v) for k, v in acc_line.items()}
    by_queue = {k: as_figures(v) for k, v in acc_queue.items()}

    by_category = {category: n for category, n in
                   sorted(categories.items(), key=lambda kv: (-kv[1], kv[0] or ""))}
    listed = [Escalation(r.uniqueid, float(r.entered_at), r.line, r.queue, r.agent,
                         r.outcome, r.category, bool(r.complaint), bool(r.escalation),
                         r.note) for r in escalation_rows]
    escalations = [e for e in listed if e.escalation or e.outcome == ESCALATED]
    complaint_calls = [e for e in listed if e.complaint]

    agents = _agent_time(time_rows)
    logins = [(agent, max(float(login_at), t0), float(until))
              for agent, login_at, until in session_rows]
    logins = [(agent, a, b) for agent, a, b in logins if b > a]
    for row in agent_call_rows:
        figures = agents.setdefault(row.agent, AgentFigures(row.agent))
        figures.calls, figures.talk_seconds = int(row.n), float(row.talk or 0.0)
        figures.survey = Figures(survey_offered=int(row.surveyed or 0),
                                 survey_responses=int(row.responses or 0),
                                 survey_answer_sum=int(row.answer_sum or 0),
                                 survey_answer_n=int(row.answer_n or 0))
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

    return Kpis(start, end, line, queue, overall, by_day, by_hour, by_half_hour,
                dict(sorted(by_line.items())), dict(sorted(by_queue.items())), by_category,
                escalations, complaint_calls, staffing, staffing_by_hour, agents, targets,
                staff_scores=[int(score) for score, in staff_rows])


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
    "agents_occupancy",
    "compute_kpis",
    "day_range",
    "hour_index_sql",
    "month_range",
    "week_range",
]
