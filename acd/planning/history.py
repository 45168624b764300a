"""What the event log says about a period's traffic: the calls that reached a queue (when,
how long they waited, answered or not, the operator's time on them), the calls that
held a line, and from them a :class:`~acd.domain.sizing.plan.Forecast`.

* Queue calls: ``call_records`` with a ``queue_joined_at`` (answered, abandoned in the
  queue, or overflowing from it: queue full, max wait); the arrival is the queue join,
  the wait ``wait_seconds`` (the congestion guidance excluded, as the reports count it).
* Handle time: ``talk_seconds`` plus the operators' wrap-up (後処理): the mean length of
  the ``wrapup`` intervals of ``agent_intervals`` that followed the period's calls; plus
  the pick-up delay: Asterisk's queue offers a waiting call to an operator who has become
  free at its next retry (``retry = 1``: up to a second later), so a free operator idles
  about half a second per call while callers wait. It is measured as the mean ``ready``
  interval that ended in ringing for a call already waiting when it began, and counted
  as operator time per call (it matters for short calls only).
* Patience: exponential, its mean estimated as the total time callers waited (answered
  or not) divided by the number who gave up — the maximum-likelihood estimate when an
  answered caller's patience is known only to exceed its wait (censoring). None when
  nobody gave up.
* Line calls: every call of the line (after hours and IVR-only calls hold a line too),
  held from ``entered_at`` to ``ended_at``.

A forecast is the mean per day type and half-hour over the days of each type in the
period (a day type with no day in the period is left out); the handle time of a
half-hour is its own when it has at least :data:`OWN_HANDLE_MIN` answered calls, else the
period's.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.db.schema import agent_intervals, call_records
from acd.domain.clock import JST, as_jst
from acd.domain.sizing.plan import SLOT_SECONDS, DayType, Forecast, SlotForecast, day_type
from acd.domain.sizing.replay import Caller, StaffingStep, callers_with_patience

OWN_HANDLE_MIN = 20
QUEUE_OUTCOMES = ("answered", "abandoned", "overflow", "voicemail")


@dataclass(frozen=True)
class QueueCall:
    uniqueid: str
    arrived_at: float  # joined the queue
    wait_seconds: float
    answered_at: float | None
    talk_seconds: float

    @property
    def answered(self) -> bool:
        return self.answered_at is not None


@dataclass(frozen=True)
class History:
    start: datetime
    end: datetime
    line: str | None
    queue: str | None
    calls: tuple[QueueCall, ...]
    line_calls: tuple[tuple[float, float], ...]  # (entered_at, seconds held)
    wrapup_seconds: float  # mean wrap-up per answered call
    pickup_seconds: float = 0.0  # mean idle time of a free operator while callers wait

    @property
    def answered(self) -> int:
        return sum(1 for c in self.calls if c.answered)

    @property
    def patience_seconds(self) -> float | None:
        gave_up = sum(1 for c in self.calls if not c.answered)
        waited = sum(c.wait_seconds for c in self.calls)
        return waited / gave_up if gave_up else None

    @property
    def handle_seconds(self) -> float:
        talks = [c.talk_seconds for c in self.calls if c.answered]
        return (sum(talks) / len(talks) if talks else 0.0) + self.per_call_seconds

    @property
    def per_call_seconds(self) -> float:
        """Operator time per answered call besides the talk: wrap-up and pick-up."""
        return self.wrapup_seconds + self.pickup_seconds

    def callers(self, seed: int = 0) -> list[Caller]:
        """The period's queue callers for a replay: their arrivals, their real handle
        times (talk + the mean wrap-up), the patience of those who gave up as observed
        and of the others drawn beyond their wait (seeded)."""
        observed = [(c.arrived_at, c.talk_seconds + self.per_call_seconds, c.wait_seconds,
                     c.answered) for c in self.calls]
        return callers_with_patience(observed, self.patience_seconds, random.Random(seed))

    def forecast(self, working: Callable[[date], bool]) -> Forecast:
        days: dict[DayType, int] = defaultdict(int)
        day = self.start.date()
        while datetime.combine(day, datetime.min.time(), JST) < self.end:
            days[day_type(day, working)] += 1
            day += timedelta(days=1)

        def slot_of(t: float) -> tuple[DayType, int]:
            moment = datetime.fromtimestamp(t, JST)
            return (day_type(moment.date(), working),
                    (moment.hour * 60 + moment.minute) // 30 * 30)

        arrivals: dict[tuple[DayType, int], int] = defaultdict(int)
        talks: dict[tuple[DayType, int], list[float]] = defaultdict(list)
        for call in self.calls:
            key = slot_of(call.arrived_at)
            arrivals[key] += 1
            if call.answered:
                talks[key].append(call.talk_seconds)
        line_arrivals: dict[tuple[DayType, int], list[float]] = defaultdict(list)
        for entered, held in self.line_calls:
            line_arrivals[slot_of(entered)].append(held)
        all_held = [held for _, held in self.line_calls]
        mean_held = sum(all_held) / len(all_held) if all_held else 0.0
        slots = []
        for key in sorted(set(arrivals) | set(line_arrivals)):
            n = days[key[0]]
            own = talks.get(key, [])
            handle = (sum(own) / len(own) + self.per_call_seconds if len(own) >= OWN_HANDLE_MIN
                      else self.handle_seconds)
            holds = line_arrivals.get(key, [])
            slots.append(SlotForecast(key[0], key[1], arrivals.get(key, 0) / n, handle,
                                      len(holds) / n, sum(holds) / len(holds) if holds
                                      else mean_held))
        shown = f"{self.start:%Y-%m-%d}–{self.end - timedelta(seconds=1):%Y-%m-%d}"
        return Forecast(tuple(slots), self.patience_seconds, f"history {shown}", self.line,
                        self.queue, tuple(sorted(days.items())))


async def read_history(engine: AsyncEngine, start: datetime, end: datetime,
                       line: str | None = None, queue: str | None = None) -> History:
    """The traffic of [start, end) (naive datetimes are JST) of a line and/or queue."""
    start, end = as_jst(start), as_jst(end)
    t0, t1 = start.timestamp(), end.timestamp()
    r = call_records.c
    where = [r.entered_at >= t0, r.entered_at < t1]
    if line is not None:
        where.append(r.line == line)
    if queue is not None:
        where.append(r.queue == queue)
    async with engine.connect() as conn:
        rows = (await conn.execute(
            select(r.uniqueid, r.entered_at, r.queue_joined_at, r.answered_at, r.ended_at,
                   r.wait_seconds, r.talk_seconds, r.outcome)
            .where(and_(*where)).order_by(r.queue_joined_at, r.entered_at))).all()
        a = agent_intervals.c
        spans = (await conn.execute(
            select(a.agent, a.status, a.uniqueid, a.started_at, a.ended_at)
            .where(a.status.in_(("wrapup", "ready", "ringing")), a.ended_at.is_not(None),
                   a.started_at >= t0 - SLOT_SECONDS, a.started_at < t1 + SLOT_SECONDS)
            .order_by(a.agent, a.started_at, a.id))).all()
    wrapups = [w for w in spans if w.status == "wrapup" and w.started_at >= t0]
    calls = []
    for row in rows:
        if row.queue_joined_at is None or row.outcome not in QUEUE_OUTCOMES:
            continue
        answered = row.outcome == "answered" and row.answered_at is not None
        wait = row.wait_seconds if row.wait_seconds is not None else (
            (row.answered_at or row.ended_at) - row.queue_joined_at)
        calls.append(QueueCall(row.uniqueid, float(row.queue_joined_at),
                               max(0.0, float(wait)), row.answered_at if answered else None,
                               float(row.talk_seconds or 0.0) if answered else 0.0))
    ours = {c.uniqueid for c in calls if c.answered}
    lengths = [w.ended_at - w.started_at for w in wrapups if w.uniqueid in ours]
    if not lengths and line is None and queue is None:  # wrap-up not tied to calls
        lengths = [w.ended_at - w.started_at for w in wrapups]
    wrapup = sum(lengths) / max(len(ours), len(lengths)) if lengths else 0.0
    pickups = _pickups(spans, {c.uniqueid: c.arrived_at for c in calls if c.answered})
    line_calls = tuple((float(row.entered_at), max(0.0, float(row.ended_at - row.entered_at)))
                       for row in rows)
    return History(start, end, line, queue, tuple(calls), line_calls, wrapup,
                   sum(pickups) / len(pickups) if pickups else 0.0)


def _pickups(spans, joined: dict[str, float]) -> list[float]:
    """The ``ready`` intervals (spans in agent, time order) followed at once by ringing
    for a call that was already waiting when the operator became ready."""
    found = []
    for ready, ringing in zip(spans, spans[1:], strict=False):
        if (ready.status == "ready" and ringing.status == "ringing"
                and ready.agent == ringing.agent and ringing.uniqueid in joined
                and joined[ringing.uniqueid] < ready.started_at
                and abs(ringing.started_at - ready.ended_at) < 0.001):
            found.append(ready.ended_at - ready.started_at)
    return found


#: The states in which an operator is at work on the queue (not away, not logged out).
WORKING_STATES = ("ready", "ringing", "on_call", "wrapup", "missed")


async def actual_staffing(engine: AsyncEngine, start: datetime, end: datetime
                          ) -> list[StaffingStep]:
    """How many operators were at work over [start, end), from ``agent_intervals``: a
    step at every change (an interval still open runs to the end)."""
    t0, t1 = as_jst(start).timestamp(), as_jst(end).timestamp()
    a = agent_intervals.c
    async with engine.connect() as conn:
        rows = (await conn.execute(
            select(a.started_at, a.ended_at)
            .where(a.status.in_(WORKING_STATES), a.started_at < t1,
                   (a.ended_at.is_(None)) | (a.ended_at > t0)))).all()
    changes: dict[float, int] = defaultdict(int)
    for started, ended in rows:
        changes[max(float(started), t0)] += 1
        changes[min(float(ended), t1) if ended is not None else t1] -= 1
    steps, working = [StaffingStep(t0, 0)], 0
    for at in sorted(changes):
        working += changes[at]
        if at > t0 or not steps:
            steps.append(StaffingStep(at, working))
        else:
            steps[0] = StaffingStep(t0, working)
    return steps


__all__ = ["WORKING_STATES", "History", "QueueCall", "actual_staffing", "read_history"]
