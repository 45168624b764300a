"""When each scheduled KPI report is due (pure: a fixed clock in, a list out).

The contracts' cadences (../shared/KPI.md):

- daily: the report of day D by 09:30 the next day. It is written once the day's calls have
  ended: at D+1 01:00 JST (``SETTLE`` after midnight), well before the 09:30 deadline;
- weekly (ISO week, Monday to Sunday): on the first business day of the next week — Monday,
  or the next weekday that is neither a Japanese public holiday (振替休日 and 国民の休日
  included, acd/domain/calendar.py) nor in the year-end closure (12/29–1/3, 行政機関の休日),
  at 01:00 JST;
- monthly: on the 1st of the next month, at 01:00 JST.

A report not yet written when it is due (the stack was down, say) is written at the next
pass, as long as its period ended within ``CATCH_UP_DAYS`` and after ``since`` (when the
centre started: its first call, or the first run of the scheduler) — a new installation
does not write weeks of reports about the time before it existed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from acd.domain.calendar import japanese_holidays
from acd.domain.clock import JST, as_jst, day_range, month_range, week_range

SETTLE = timedelta(hours=1)  # calls still in progress at the end of the period have ended
DAILY_DEADLINE = time(9, 30)
CATCH_UP_DAYS = 40
KINDS = ("daily", "weekly", "monthly")

HolidaySource = Callable[[int], Mapping[date, str]]


@dataclass(frozen=True)
class Due:
    kind: str  # daily | weekly | monthly
    start: datetime  # JST, inclusive
    end: datetime  # JST, exclusive
    due_at: datetime  # JST

    @property
    def period(self) -> str:
        """2026-11-20 | 2026-W47 | 2026-11: the period as the file names and the CLI say it."""
        if self.kind == "daily":
            return self.start.date().isoformat()
        if self.kind == "weekly":
            year, week, _ = self.start.date().isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start:%Y-%m}"

    @property
    def name(self) -> str:
        return f"kpi-{self.kind}-{self.period}"


def is_business_day(day: date, holidays: HolidaySource = japanese_holidays) -> bool:
    """Monday to Friday, not a public holiday, not in the year-end closure (12/29–1/3)."""
    if day.weekday() >= 5:
        return False
    if (day.month, day.day) >= (12, 29) or (day.month, day.day) <= (1, 3):
        return False
    return day not in holidays(day.year)


def first_business_day(on_or_after: date, holidays: HolidaySource = japanese_holidays) -> date:
    day = on_or_after
    while not is_business_day(day, holidays):
        day += timedelta(days=1)
    return day


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=JST) + SETTLE


def daily(day: date) -> Due:
    start, end = day_range(day)
    return Due("daily", start, end, _at(day + timedelta(days=1)))


def weekly(monday: date, holidays: HolidaySource = japanese_holidays) -> Due:
    year, week, _ = monday.isocalendar()
    start, end = week_range(year, week)
    return Due("weekly", start, end, _at(first_business_day(end.date(), holidays)))


def monthly(year: int, month: int) -> Due:
    start, end = month_range(year, month)
    return Due("monthly", start, end, _at(end.date()))


def due_reports(now: datetime, done: Collection[str], since: datetime | None = None,
                holidays: HolidaySource = japanese_holidays,
                catch_up_days: int = CATCH_UP_DAYS) -> list[Due]:
    """The reports due at ``now`` (naive = JST) that are not in ``done`` (their names),
    oldest first: every period that has ended within ``catch_up_days`` and after
    ``since``, and whose due time has come."""
    now = as_jst(now)
    since = as_jst(since) if since is not None else None
    today = now.date()
    oldest = today - timedelta(days=catch_up_days)
    candidates: list[Due] = []
    day = oldest
    while day < today:
        candidates.append(daily(day))
        day += timedelta(days=1)
    monday = oldest - timedelta(days=oldest.weekday())
    while monday + timedelta(days=7) <= today:
        candidates.append(weekly(monday, holidays))
        monday += timedelta(days=7)
    first = oldest.replace(day=1)
    while True:
        due = monthly(first.year, first.month)
        if due.end.date() > today:
            break
        candidates.append(due)
        first = due.end.date()
    return sorted((d for d in candidates
                   if d.due_at <= now and d.end.date() >= oldest and d.name not in done
                   and (since is None or d.end > since)),
                  key=lambda d: (d.due_at, KINDS.index(d.kind)))


def next_due_at(now: datetime, holidays: HolidaySource = japanese_holidays) -> datetime:
    """When the next report falls due after ``now`` (for a scheduler to sleep until)."""
    now = as_jst(now)
    today = now.date()
    last_month = today.replace(day=1) - timedelta(days=1)
    times = [daily(today - timedelta(days=1)).due_at, daily(today).due_at,
             monthly(last_month.year, last_month.month).due_at,
             monthly(today.year, today.month).due_at]
    monday = today - timedelta(days=today.weekday())
    times += [weekly(monday - timedelta(days=7), holidays).due_at,
              weekly(monday, holidays).due_at]
    return min(t for t in times if t > now)


__all__ = ["DAILY_DEADLINE", "Due", "daily", "due_reports", "first_business_day",
           "is_business_day", "monthly", "next_due_at", "weekly"]
