"""Compile a calendar into an Asterisk dialplan subroutine, so the open/closed decision
stays right while the Python controller is down.

The context is a Gosub subroutine: ``Gosub(cal-<name>,s,1)`` and then
``${GOSUB_RETVAL}`` is one of open, closed, holiday, year_end, after_service -- the same
answer as :func:`acd.domain.calendar.status_at`, checked in the same order (service
period, open dates, year-end and yearly closures, closed dates, public holidays, weekly
hours).

Asterisk facts this relies on (read in Asterisk 22's main/pbx_timing.c and
main/pbx_builtins.c):

- ``GotoIfTime(<times>,<weekdays>,<mdays>,<months>[,<timezone>]?<label>)``: the time
  zone is honoured only as the 5th comma-separated field (``ast_build_timing`` keeps
  the text after the last comma when there are exactly 5 fields).
- A time range ``HH:MM-HH:MM`` sets one bit per minute from the start minute through
  the end minute *inclusive* (``get_timerange`` "Do the last one"), and seconds are not
  looked at. So our half-open ``08:30-17:00`` is compiled as ``08:30-16:59``: open at
  16:59:59, closed at 17:00:00. ``24:00`` becomes ``23:59``.
- Weekday, day-of-month and month ranges are cyclic (``sat-sun`` works); the year is
  not a field at all. Dated rules (closed dates, open dates, the public holidays of
  given years) therefore compare ``YYYYMMDD`` computed with
  ``STRFTIME(<epoch>,Asia/Tokyo,%Y%m%d)``.
- GotoIfTime evaluates the channel variable ``TESTTIME`` (epoch seconds) instead of the
  clock when it is set (the ``TESTTIME()`` function sets it for tests). The subroutine
  pins one instant on entry -- ``LOCAL(TESTTIME)``, the caller's TESTTIME if it has
  one, else ``${EPOCH}`` -- so every check of one call sees the same moment (no wrong
  answer at midnight) and tests can ask about any moment. ``LOCAL`` is undone by
  ``Return``.

Public holidays are compiled as dates for the ``years`` asked (the stack renders the
current year and the next two). On a day outside them the subroutine logs a warning
and decides without holidays (the weekly hours still apply, the yearly closures too):
re-rendering with current years fixes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from acd.domain.calendar import (
    TIMEZONE_NAME,
    WEEKDAYS,
    AnnualRange,
    Calendar,
    CalendarStatus,
    HolidaySource,
    Window,
    format_minute,
    holidays_between,
    japanese_holidays,
)

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def calendar_context(calendar: Calendar) -> str:
    return calendar_context_of(calendar.name)


def calendar_context_of(name: str) -> str:
    """The subroutine deciding the calendar called ``name``."""
    return f"cal-{name}"


def asterisk_time_range(window: Window) -> str:
    """Our half-open window as GotoIfTime's inclusive minute range: 08:30-17:00 ->
    08:30-16:59."""
    return f"{format_minute(window.start)}-{format_minute(window.end - 1)}"


def asterisk_weekdays(days: Iterable[int]) -> str:
    """Monday-first day numbers -> 'mon-fri', 'sat&sun', 'mon&wed&fri', '*'."""
    chosen = sorted(set(days))
    if len(chosen) == 7:
        return "*"
    runs: list[list[int]] = []
    for day in chosen:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{WEEKDAYS[run[0]]}-{WEEKDAYS[run[-1]]}")
        else:
            parts.extend(WEEKDAYS[d] for d in run)
    return "&".join(parts)


def gotoiftime(times: str, weekdays: str, mdays: str, months: str, label: str) -> str:
    return f"GotoIfTime({times},{weekdays},{mdays},{months},{TIMEZONE_NAME}?{label})"


def _annual_checks(closure: AnnualRange) -> list[tuple[str, str]]:
    """(mdays, month) pairs covering the range, one per month it touches."""
    by_month: dict[int, list[int]] = {}
    order: list[int] = []
    for md in closure.days():
        if md.month not in by_month:
            by_month[md.month] = []
            order.append(md.month)
        by_month[md.month].append(md.day)
    checks = []
    for month in order:
        days = by_month[month]
        mdays = str(days[0]) if len(days) == 1 else f"{days[0]}-{days[-1]}"
        checks.append((mdays, _MONTHS[month - 1]))
    return checks


def _ymd(day: date) -> str:
    return day.strftime("%Y%m%d")


def _holiday_span(years: range | tuple[date, date]) -> tuple[date, date]:
    if isinstance(years, range):
        if len(years) == 0 or years.step != 1:
            raise ValueError(f"years must be a non-empty range of consecutive years, "
                             f"not {years!r}")
        return date(years[0], 1, 1), date(years[-1], 12, 31)
    first, last = years
    if last < first:
        raise ValueError(f"holiday span {first}..{last} ends before it starts")
    return first, last


def _comment(text: str) -> str:
    return " ".join(text.replace(";", ",").split())


def compile_calendar(calendar: Calendar, context_name: str,
                     years: range | tuple[date, date],
                     holidays: HolidaySource = japanese_holidays) -> list[str]:
    """The lines of the extensions.conf context ``[context_name]`` deciding
    ``calendar``; public holidays are those within ``years`` (a range of years, or the
    first and last dates)."""
    if hasattr(calendar, "to_domain"):  # a CalendarSpec straight from the YAML model
        calendar = calendar.to_domain()
    if not context_name or any(c in context_name for c in "[]; ,\t\n"):
        raise ValueError(f"'{context_name}' cannot be an Asterisk context name")
    first, last = _holiday_span(years)
    s = CalendarStatus
    head = [
        f"; calendar {calendar.name}" + (f": {_comment(calendar.title)}" if calendar.title
                                         else ""),
        "; generated by Madoguchi from the calendar YAML -- do not edit.",
        "; Gosub here; ${GOSUB_RETVAL} is open, closed, holiday, year_end or after_service.",
        f"[{context_name}]",
        "exten => s,1,Set(LOCAL(TESTTIME)=${IF($[${LEN(${TESTTIME})} > 0]"
        "?${TESTTIME}:${EPOCH})})",
        f" same => n,Set(LOCAL(TODAY)=${{STRFTIME(${{TESTTIME}},{TIMEZONE_NAME},%Y%m%d)}})",
    ]
    body: list[str] = []
    tail: list[str] = []

    def step(app: str, comment: str = "", label: str = "") -> None:
        body.append(f" same => n{f'({label})' if label else ''},{app}"
                    + (f"  ; {_comment(comment)}" if comment else ""))

    # 1. service period
    if calendar.service_end is not None:
        step(f"GotoIf($[${{TODAY}} > {_ymd(calendar.service_end)}]?{s.AFTER_SERVICE})",
             f"service ended on {calendar.service_end}")
    if calendar.service_start is not None:
        step(f"GotoIf($[${{TODAY}} < {_ymd(calendar.service_start)}]?{s.CLOSED})",
             f"service starts on {calendar.service_start}")
    # 2. extra open dates, with their own hours
    for extra in calendar.open_dates:
        label = f"open_{_ymd(extra.day)}"
        step(f"GotoIf($[${{TODAY}} = {_ymd(extra.day)}]?{label})",
             f"open date {extra.day} {extra.note}".strip())
        tail.append(f" same => n({label}),NoOp(open date {extra.day})")
        tail.extend(f" same => n,{gotoiftime(asterisk_time_range(w), '*', '*', '*', s.OPEN)}"
                    f"  ; {w}" for w in extra.windows)
        tail.append(f" same => n,Return({s.CLOSED})")
    # 3. year-end closure, then 4. yearly closed days and closed dates
    if calendar.year_end is not None:
        for mdays, month in _annual_checks(calendar.year_end):
            step(gotoiftime("*", "*", mdays, month, s.YEAR_END),
                 f"year-end closure {calendar.year_end}")
    for md in calendar.closed_annually:
        step(gotoiftime("*", "*", str(md.day), _MONTHS[md.month - 1], s.CLOSED),
             f"closed every year on {md}")
    for day in calendar.closed_dates:
        step(f"GotoIf($[${{TODAY}} = {_ymd(day)}]?{s.CLOSED})", f"closed date {day}")
    # 5. public holidays of the compiled years
    if calendar.holidays != "open":
        target = s.HOLIDAY.value if calendar.holidays == "closed" else "holiday_hours"
        step(f"GotoIf($[${{TODAY}} < {_ymd(first)} | ${{TODAY}} > {_ymd(last)}]"
             f"?no_holidays)")
        for day, name in holidays_between(first, last, holidays).items():
            step(f"GotoIf($[${{TODAY}} = {_ymd(day)}]?{target})", name)
        step("Goto(weekly)")
        step(f"Log(WARNING,calendar {calendar.name}: public holidays are compiled for "
             f"{first} to {last} only -- re-render the configuration)", label="no_holidays")
        if isinstance(calendar.holidays, tuple):
            tail.append(" same => n(holiday_hours),NoOp(public holiday: holiday hours)")
            tail.extend(f" same => n,{gotoiftime(asterisk_time_range(w), '*', '*', '*', s.OPEN)}"
                        f"  ; {w}" for w in calendar.holidays)
            tail.append(f" same => n,Return({s.CLOSED})")
    # 6. weekly hours: one GotoIfTime per window, shared by the days that have it
    days_of: dict[Window, list[int]] = {}
    for weekday, windows in enumerate(calendar.weekly):
        for window in windows:
            days_of.setdefault(window, []).append(weekday)
    weekly = sorted(days_of.items(), key=lambda item: (min(item[1]), item[0]))
    if not weekly:
        step("NoOp(no weekly hours)", label="weekly")
    for index, (window, days) in enumerate(weekly):
        step(gotoiftime(asterisk_time_range(window), asterisk_weekdays(days), "*", "*", s.OPEN),
             f"{window}", label="weekly" if index == 0 else "")
    step(f"Return({s.CLOSED})")
    exits = [f" same => n({status}),Return({status})" for status in
             (s.OPEN, s.CLOSED, s.HOLIDAY, s.YEAR_END, s.AFTER_SERVICE)]
    return head + body + tail + exits


def compile_calendars(calendars: Iterable[Calendar], years: range | tuple[date, date],
                      holidays: HolidaySource = japanese_holidays) -> list[str]:
    """Every calendar as its ``cal-<name>`` context, separated by blank lines."""
    lines: list[str] = []
    for calendar in calendars:
        if lines:
            lines.append("")
        lines.extend(compile_calendar(calendar, calendar_context(calendar), years, holidays))
    return lines
