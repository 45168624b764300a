"""Opening-hours calendars: is a line open at a given moment, and if not, why.

Pure: no I/O and no clock. Every moment is a parameter, must be timezone-aware, and is
read in Asia/Tokyo whatever the server's time zone.

A day is decided in this order (the first rule that applies wins; the compiled
dialplan, :mod:`acd.ivr.calendar_dialplan`, checks in the same order):

1. the service period: after its last day -> ``after_service``; before its first day ->
   ``closed`` (a line that has not started yet says "closed": there is no separate
   "before service" message, so ``before_service`` is folded into ``closed``);
2. an extra open date (``open_dates``): open within its hours, ``closed`` outside them
   -- it overrides every closure below;
3. the year-end closure (12/29-1/3 by default, or the range given) -> ``year_end``;
4. a yearly closed day (``closed_annually``, MM-DD) or a closed date -> ``closed``;
5. a Japanese public holiday (including 振替休日 and 国民の休日): ``holidays: closed`` ->
   ``holiday``; ``holidays: open`` -> the weekly hours apply as on any other day;
   holiday hours -> open within them, ``closed`` outside them;
6. the weekly hours of that weekday: open within them, ``closed`` outside them.

Hours are half-open minute ranges: 08:30-17:00 is open from 08:30:00 and closed from
17:00:00. An end of 24:00 means midnight at the end of the day.

Public holidays come from ``holidays`` (python-holidays, country JP), chosen over
``jpholiday`` because it is the most widely used and most actively maintained holiday
library for Python (releases every few weeks, a large test suite per country), it
computes 振替休日 and 国民の休日 by rule and the equinox days astronomically for every
year from 1949 to 2099, it names holidays in Japanese, and it depends only on
python-dateutil. Only the PUBLIC category is used (its BANK category adds 12/31-1/3,
which the year-end closure handles instead). Years outside 1949-2099 are refused rather
than silently treated as having no holidays.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Literal

from acd.domain.clock import TOKYO

TIMEZONE_NAME = "Asia/Tokyo"
MINUTES_PER_DAY = 24 * 60
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()


class CalendarStatus(StrEnum):
    """What a caller hears; the values are what the compiled dialplan returns."""

    OPEN = "open"
    CLOSED = "closed"  # outside hours, a closed date, or before the service period
    HOLIDAY = "holiday"  # a Japanese public holiday (with ``holidays: closed``)
    YEAR_END = "year_end"  # the year-end / new-year closure
    AFTER_SERVICE = "after_service"  # the service period has ended


# --- values -------------------------------------------------------------------------

_HHMM = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def parse_minute(text: str, *, allow_24: bool = False) -> int:
    """'08:30' -> 510. '24:00' only with ``allow_24`` (the end of a day)."""
    match = _HHMM.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a time: write HH:MM, for example 08:30")
    hour, minute = int(match.group(1)), int(match.group(2))
    if allow_24 and hour == 24 and minute == 0:
        return MINUTES_PER_DAY
    if hour > 23 or minute > 59:
        limit = "00:00-24:00" if allow_24 else "00:00-23:59"
        raise ValueError(f"'{text.strip()}' is not a valid time of day ({limit})")
    return hour * 60 + minute


def format_minute(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True, order=True)
class Window:
    """Open from ``start`` (inclusive) to ``end`` (exclusive), in minutes after 00:00."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < MINUTES_PER_DAY or not 0 < self.end <= MINUTES_PER_DAY:
            raise ValueError(f"hours {self} are outside 00:00-24:00")
        if self.end <= self.start:
            raise ValueError(f"hours {self}: the end must be after the start "
                             "(hours cannot run past midnight; split them at 24:00)")

    @classmethod
    def parse(cls, text: str) -> Window:
        """'08:30-17:00' -> Window(510, 1020)."""
        if not isinstance(text, str):
            raise ValueError(f"hours must be a quoted string like \"08:30-17:00\", got {text!r}")
        parts = text.split("-")
        if len(parts) != 2:
            raise ValueError(f"'{text}' is not a range of hours: write HH:MM-HH:MM, "
                             "for example 08:30-17:00")
        start = parse_minute(parts[0])
        end = parse_minute(parts[1], allow_24=True)
        if end <= start:
            raise ValueError(f"hours '{text.strip()}': the end must be after the start "
                             "(hours cannot run past midnight; split them at 24:00)")
        return cls(start, end)

    def __str__(self) -> str:
        return f"{format_minute(self.start)}-{format_minute(self.end)}"

    def contains(self, minute: int) -> bool:
        return self.start <= minute < self.end


def check_windows(windows: Iterable[Window], where: str) -> tuple[Window, ...]:
    """Sorted windows of one day; overlapping windows are an error naming ``where``."""
    ordered = tuple(sorted(windows))
    for before, after in itertools.pairwise(ordered):
        if after.start < before.end:
            raise ValueError(f"{where}: hours {before} and {after} overlap")
    return ordered


_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 2/29 exists some years


@dataclass(frozen=True, order=True)
class MonthDay:
    """A day that comes back every year, like 12-29."""

    month: int
    day: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 1 <= self.day <= _MONTH_DAYS[self.month - 1]:
            raise ValueError(f"{self.month:02d}-{self.day:02d} is not a day of the year")

    @classmethod
    def parse(cls, text: str) -> MonthDay:
        match = re.match(r"^\s*(\d{1,2})[-/](\d{1,2})\s*$", text) if isinstance(text, str) \
            else None
        if not match:
            raise ValueError(f"{text!r} is not a day of the year: write MM-DD in quotes, "
                             "for example \"01-03\"")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: date) -> MonthDay:
        return cls(day.month, day.day)

    def __str__(self) -> str:
        return f"{self.month:02d}-{self.day:02d}"


@dataclass(frozen=True)
class AnnualRange:
    """Every year from ``start`` to ``end`` inclusive; may run over the new year."""

    start: MonthDay
    end: MonthDay

    def contains(self, day: date) -> bool:
        here = MonthDay.of(day)
        if self.start <= self.end:
            return self.start <= here <= self.end
        return here >= self.start or here <= self.end

    def days(self) -> tuple[MonthDay, ...]:
        """Every month-day of the range in order (2/29 included)."""
        result = []
        month, day = self.start.month, self.start.day
        while True:
            result.append(MonthDay(month, day))
            if (month, day) == (self.end.month, self.end.day):
                return tuple(result)
            day += 1
            if day > _MONTH_DAYS[month - 1]:
                month, day = month % 12 + 1, 1

    def __str__(self) -> str:
        return f"{self.start}..{self.end}"


YEAR_END_DEFAULT = AnnualRange(MonthDay(12, 29), MonthDay(1, 3))

HolidayPolicy = Literal["closed", "open"] | tuple[Window, ...]


@dataclass(frozen=True)
class OpenDate:
    """An extra open day (a Sunday opening in the moving season...): its own hours."""

    day: date
    windows: tuple[Window, ...]
    note: str = ""

    def __post_init__(self) -> None:
        if not self.windows:
            raise ValueError(f"open date {self.day}: give its hours")
        object.__setattr__(self, "windows",
                           check_windows(self.windows, f"open date {self.day}"))


@dataclass(frozen=True)
class Calendar:
    """The opening hours of one line. Build it from YAML with
    :class:`acd.ivr.calendar_models.CalendarSpec` or directly; it checks itself."""

    name: str
    weekly: tuple[tuple[Window, ...], ...]  # 7 days, Monday first (date.weekday())
    holidays: HolidayPolicy = "closed"
    year_end: AnnualRange | None = YEAR_END_DEFAULT
    closed_annually: tuple[MonthDay, ...] = ()
    closed_dates: tuple[date, ...] = ()
    open_dates: tuple[OpenDate, ...] = ()
    service_start: date | None = None
    service_end: date | None = None  # the last day of service
    title: str = ""
    _open_by_day: Mapping[date, OpenDate] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.weekly) != 7:
            raise ValueError("weekly hours need 7 days, Monday first")
        object.__setattr__(self, "weekly", tuple(
            check_windows(day, f"hours on {WEEKDAYS[i]}") for i, day in enumerate(self.weekly)))
        if isinstance(self.holidays, tuple):
            object.__setattr__(self, "holidays",
                               check_windows(self.holidays, "hours on public holidays"))
        elif self.holidays not in ("closed", "open"):
            raise ValueError(f"holidays must be 'closed', 'open' or hours, "
                             f"not {self.holidays!r}")
        object.__setattr__(self, "closed_dates", tuple(sorted(self.closed_dates)))
        object.__setattr__(self, "closed_annually", tuple(sorted(self.closed_annually)))
        object.__setattr__(self, "open_dates",
                           tuple(sorted(self.open_dates, key=lambda o: o.day)))
        check_dates(self.closed_dates, self.open_dates, self.service_start, self.service_end)
        object.__setattr__(self, "_open_by_day", {o.day: o for o in self.open_dates})

    def open_date(self, day: date) -> OpenDate | None:
        return self._open_by_day.get(day)


def check_dates(closed_dates: Iterable[date], open_dates: Iterable[OpenDate],
                start: date | None, end: date | None) -> None:
    """The cross-checks of a calendar's dates; each error says what to change."""
    if start is not None and end is not None and end < start:
        raise ValueError(f"service period: end {end} is before start {start}")
    seen: set[date] = set()
    for day in closed_dates:
        if day in seen:
            raise ValueError(f"closed date {day} is listed twice")
        seen.add(day)
    opened: set[date] = set()
    for extra in open_dates:
        if extra.day in opened:
            raise ValueError(f"open date {extra.day} is listed twice")
        opened.add(extra.day)
        if extra.day in seen:
            raise ValueError(f"{extra.day} is both a closed date and an open date; "
                             "remove it from one of the two lists")
        if (start is not None and extra.day < start) or (end is not None and extra.day > end):
            raise ValueError(f"open date {extra.day} is outside the service period "
                             f"({start or '...'} to {end or '...'})")


# --- public holidays ----------------------------------------------------------------

HolidaySource = Callable[[int], Mapping[date, str]]
HOLIDAY_YEARS = range(1949, 2100)


@functools.lru_cache(maxsize=64)
def _japanese_holidays(year: int) -> Mapping[date, str]:
    import holidays as python_holidays

    table = python_holidays.country_holidays("JP", years=year, language="ja")
    return dict(sorted(table.items()))


def japanese_holidays(year: int) -> Mapping[date, str]:
    """The public holidays of Japan in ``year`` (date -> Japanese name), with 振替休日
    and 国民の休日."""
    if year not in HOLIDAY_YEARS:
        raise ValueError(f"the public holidays of Japan are known for "
                         f"{HOLIDAY_YEARS.start}-{HOLIDAY_YEARS.stop - 1} only, not {year}")
    return _japanese_holidays(year)


def holidays_between(first: date, last: date,
                     source: HolidaySource = japanese_holidays) -> dict[date, str]:
    found: dict[date, str] = {}
    for year in range(first.year, last.year + 1):
        found.update((d, n) for d, n in source(year).items() if first <= d <= last)
    return dict(sorted(found.items()))


# --- evaluation ---------------------------------------------------------------------


@dataclass(frozen=True)
class DayPlan:
    """One day: open within ``windows``, ``otherwise`` outside them; ``reason`` says
    which rule decided (for logs and the console)."""

    windows: tuple[Window, ...]
    otherwise: CalendarStatus
    reason: str

    def status(self, minute: int) -> CalendarStatus:
        if any(w.contains(minute) for w in self.windows):
            return CalendarStatus.OPEN
        return self.otherwise

    def segments(self) -> list[tuple[int, CalendarStatus]]:
        """(first minute, status) of each stretch of the day, merged, from 00:00."""
        result: list[tuple[int, CalendarStatus]] = []
        cuts = sorted({0} | {w.start for w in self.windows}
                      | {w.end for w in self.windows if w.end < MINUTES_PER_DAY})
        for minute in cuts:
            status = self.status(minute)
            if not result or result[-1][1] != status:
                result.append((minute, status))
        return result


def day_plan(calendar: Calendar, day: date,
             holidays: HolidaySource = japanese_holidays) -> DayPlan:
    """How ``day`` (a date in Tokyo) is decided; see the module docstring for the order."""
    if calendar.service_end is not None and day > calendar.service_end:
        return DayPlan((), CalendarStatus.AFTER_SERVICE,
                       f"service ended on {calendar.service_end}")
    if calendar.service_start is not None and day < calendar.service_start:
        return DayPlan((), CalendarStatus.CLOSED,
                       f"service starts on {calendar.service_start}")
    extra = calendar.open_date(day)
    if extra is not None:
        return DayPlan(extra.windows, CalendarStatus.CLOSED,
                       f"open date{': ' + extra.note if extra.note else ''}")
    if calendar.year_end is not None and calendar.year_end.contains(day):
        return DayPlan((), CalendarStatus.YEAR_END, f"year-end closure {calendar.year_end}")
    if MonthDay.of(day) in calendar.closed_annually:
        return DayPlan((), CalendarStatus.CLOSED, f"closed every year on {MonthDay.of(day)}")
    if day in calendar.closed_dates:
        return DayPlan((), CalendarStatus.CLOSED, "closed date")
    if calendar.holidays != "open":
        name = holidays(day.year).get(day)
        if name is not None:
            if calendar.holidays == "closed":
                return DayPlan((), CalendarStatus.HOLIDAY, f"public holiday {name}")
            return DayPlan(calendar.holidays, CalendarStatus.CLOSED,
                           f"public holiday {name} (holiday hours)")
    return DayPlan(calendar.weekly[day.weekday()], CalendarStatus.CLOSED,
                   f"weekly hours ({WEEKDAYS[day.weekday()]})")


def in_tokyo(when: datetime) -> datetime:
    """``when`` in Asia/Tokyo; a naive datetime is refused (its zone would be a guess)."""
    if when.tzinfo is None or when.tzinfo.utcoffset(when) is None:
        raise ValueError(f"{when.isoformat()} has no time zone; give an aware datetime "
                         "(for example datetime.now(timezone.utc))")
    return when.astimezone(TOKYO)


def status_at(calendar: Calendar, when: datetime,
              holidays: HolidaySource = japanese_holidays) -> CalendarStatus:
    """The status of ``calendar`` at ``when`` (timezone-aware, any zone)."""
    local = in_tokyo(when)
    return day_plan(calendar, local.date(), holidays).status(local.hour * 60 + local.minute)


def next_change(calendar: Calendar, when: datetime,
                holidays: HolidaySource = japanese_holidays,
                horizon_days: int = 800) -> datetime | None:
    """The first moment after ``when`` at which the status differs from the status at
    ``when`` (in Asia/Tokyo), or None if it never changes within ``horizon_days`` (after
    the service period it never does)."""
    local = in_tokyo(when)
    previous = status_at(calendar, local, holidays)
    day = local.date()
    for _ in range(horizon_days):
        plan = day_plan(calendar, day, holidays)
        for minute, status in plan.segments():
            moment = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=TOKYO)
            if moment <= local:
                continue
            if status != previous:
                return moment
        if plan.otherwise is CalendarStatus.AFTER_SERVICE and not plan.windows:
            return None
        previous = plan.segments()[-1][1]
        day += timedelta(days=1)
    return None
