"""The calendar YAML an admin writes, as strict pydantic models.

Example (see ivr_flows/examples/calendars.yaml for the seed municipalities)::

    calendars:
      - name: kawagoe-main              # the dialplan context is cal-kawagoe-main
        title: 川越市 コールセンター
        hours:                          # weekly opening hours
          weekdays: ["08:30-17:15"]     # mon-fri; also weekends, daily, mon..sun,
                                        # a range like mon-thu or a list like mon,wed
        holidays: closed                # closed | open | ["08:15-17:00", ...]
        year_end_closure: true          # 12/29-1/3 (default); false; or {start, end}
        closed_annually: ["06-01"]      # MM-DD, closed every year
        closed_dates: [2026-08-13]      # YYYY-MM-DD
        open_dates:                     # extra open days, overriding every closure
          - {date: 2027-03-28, hours: ["08:30-17:15"], note: 日曜開庁}
        service_period: {start: 2026-04-01, end: 2029-03-31}

Hours are "HH:MM-HH:MM", open from the start, closed from the end (17:00 is closed in
"08:30-17:00"); "24:00" ends a day. Several ranges a day are allowed; they must not
overlap. The semantics of each key are those of :mod:`acd.domain.calendar`.
Validators raise ValueError with the problem in words; the loader adds file:line:column.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    field_validator,
    model_validator,
)

from acd.domain.calendar import (
    WEEKDAYS,
    YEAR_END_DEFAULT,
    AnnualRange,
    Calendar,
    MonthDay,
    OpenDate,
    Window,
    check_dates,
    check_windows,
)

NAME = r"^[a-z][a-z0-9_-]{0,39}$"

_DAY_ALIASES = {
    "weekdays": (0, 1, 2, 3, 4),
    "weekends": (5, 6),
    "daily": (0, 1, 2, 3, 4, 5, 6),
    "everyday": (0, 1, 2, 3, 4, 5, 6),
}
_DAY_HELP = ("use mon, tue, wed, thu, fri, sat, sun, a range like mon-fri, a list like "
             "mon,wed,fri, or weekdays, weekends, daily")


def parse_days(key: str) -> tuple[int, ...]:
    """'weekdays' -> (0..4); 'mon-wed' -> (0, 1, 2); 'sat,sun' -> (5, 6); Monday is 0."""
    text = str(key).strip().lower()
    if text in _DAY_ALIASES:
        return _DAY_ALIASES[text]
    days: list[int] = []
    for part in text.split(","):
        part = part.strip()
        ends = part.split("-")
        if len(ends) > 2 or any(e.strip() not in WEEKDAYS for e in ends):
            raise ValueError(f"unknown day '{key}': {_DAY_HELP}")
        first, last = WEEKDAYS.index(ends[0].strip()), WEEKDAYS.index(ends[-1].strip())
        day = first
        while True:  # ranges may wrap: fri-mon is fri, sat, sun, mon
            if day not in days:
                days.append(day)
            if day == last:
                break
            day = (day + 1) % 7
    return tuple(sorted(days))


def _window(value: object) -> Window:
    if isinstance(value, Window):
        return value
    if isinstance(value, int):  # YAML 1.1 reads an unquoted 8:30 as 510 (base 60)
        raise ValueError(f"hours must be a quoted range like \"08:30-17:00\", got {value!r}")
    return Window.parse(value)  # type: ignore[arg-type]


def _month_day(value: object) -> MonthDay:
    if isinstance(value, MonthDay):
        return value
    return MonthDay.parse(value)  # type: ignore[arg-type]


def _day(value: object) -> object:
    """A date as YYYY-MM-DD (a YAML date or a string); anything else gets a clear error."""
    if isinstance(value, datetime):
        raise ValueError(f"{value.isoformat()} has a time; give a date as YYYY-MM-DD")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}$", value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"'{value}' is not a date of the calendar") from None
    raise ValueError(f"{value!r} is not a date: write YYYY-MM-DD, for example 2026-08-13")


# parsed into domain values; dumped back as the admin writes them ("08:30-17:00", "01-03")
WindowField = Annotated[Window, PlainValidator(_window, json_schema_input_type=str),
                        PlainSerializer(str, return_type=str)]
MonthDayField = Annotated[MonthDay, PlainValidator(_month_day, json_schema_input_type=str),
                          PlainSerializer(str, return_type=str)]
DateField = Annotated[date, BeforeValidator(_day)]


def _day_key(key: str) -> str:
    parse_days(key)  # checked per key, so an error points at the key
    return key


DaysKey = Annotated[str, AfterValidator(_day_key)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServicePeriod(Strict):
    """The days the line is in service, both included. Before ``start`` the line says
    "closed"; after ``end`` it says "service has ended" (after_service)."""

    start: DateField | None = None
    end: DateField | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ServicePeriod:
        if self.start is None and self.end is None:
            raise ValueError("a service period needs a start, an end, or both")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"the service period ends ({self.end}) before it starts "
                             f"({self.start})")
        return self


class YearEndRange(Strict):
    """A year-end closure other than 12/29-1/3, for example start "01-01", end "01-03"."""

    start: MonthDayField
    end: MonthDayField


class OpenDateSpec(Strict):
    date: DateField
    hours: list[WindowField] = Field(min_length=1)
    note: str = ""

    @field_validator("hours")
    @classmethod
    def _no_overlap(cls, hours: list[Window]) -> list[Window]:
        check_windows(hours, "hours of this open date")
        return hours


def _holidays(value: object) -> str | tuple[Window, ...]:
    if value in ("closed", "open"):
        return value
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError("holiday hours are empty: write 'closed' instead")
        return check_windows((_window(v) for v in value), "hours on public holidays")
    raise ValueError(f"holidays must be closed, open, or the hours of holidays like "
                     f"[\"08:15-17:00\"], not {value!r}")


def _year_end(value: object) -> bool | AnnualRange:
    if isinstance(value, (bool, AnnualRange)):
        return value
    if isinstance(value, dict) and set(value) == {"start", "end"}:
        return AnnualRange(_month_day(value["start"]), _month_day(value["end"]))
    raise ValueError(f"year_end_closure must be true (12/29-1/3), false, or a range like "
                     f"{{start: \"01-01\", end: \"01-03\"}}, not {value!r}")


def _dump_holidays(value: str | tuple[Window, ...]) -> str | list[str]:
    return value if isinstance(value, str) else [str(w) for w in value]


def _dump_year_end(value: bool | AnnualRange) -> bool | dict[str, str]:
    return value if isinstance(value, bool) else {"start": str(value.start),
                                                  "end": str(value.end)}


HolidaysField = Annotated[Literal["closed", "open"] | tuple[Window, ...],
                          PlainValidator(_holidays, json_schema_input_type=str | list[str]),
                          PlainSerializer(_dump_holidays, return_type=str | list[str])]
YearEndField = Annotated[bool | AnnualRange,
                         PlainValidator(_year_end, json_schema_input_type=bool | YearEndRange),
                         PlainSerializer(_dump_year_end, return_type=bool | dict[str, str])]


class CalendarSpec(Strict):
    """One calendar; lines refer to it by ``name``. Fields are checked in this order, so
    the date cross-checks are reported at ``open_dates``."""

    name: str = Field(pattern=NAME, description="lower-case id; the dialplan context is "
                      "cal-<name>")
    title: str = Field(default="", description="what the admin calls it (Japanese is fine)")
    hours: dict[DaysKey, list[WindowField]] = Field(
        description="weekly hours by days: weekdays, weekends, daily, mon..sun, mon-fri, "
        "mon,wed ...")
    holidays: HolidaysField = Field(
        default="closed", description="on Japanese public holidays: closed (the holiday "
        "message), open (the weekly hours apply), or the hours of holidays")
    year_end_closure: YearEndField = Field(
        default=True, description="true: closed 12/29-1/3 (year_end); false: no closure; "
        "or {start: MM-DD, end: MM-DD}")
    closed_annually: list[MonthDayField] = Field(
        default=[], description="MM-DD closed every year (status closed)")
    closed_dates: list[DateField] = Field(default=[], description="YYYY-MM-DD closed")
    service_period: ServicePeriod | None = None
    open_dates: list[OpenDateSpec] = Field(
        default=[], description="extra open days with their hours, overriding closures")

    @field_validator("hours")
    @classmethod
    def _weekly(cls, hours: dict[str, list[Window]]) -> dict[str, list[Window]]:
        by_day: list[list[tuple[Window, str]]] = [[] for _ in WEEKDAYS]
        for key, windows in hours.items():
            for day in parse_days(key):
                by_day[day].extend((w, key) for w in windows)
        for day, entries in enumerate(by_day):
            entries.sort(key=lambda entry: entry[0])
            for (before, key1), (after, key2) in zip(entries, entries[1:], strict=False):
                if after.start < before.end:
                    keys = f" (from '{key1}')" if key1 == key2 else \
                        f" (from '{key1}' and '{key2}')"
                    raise ValueError(f"hours on {WEEKDAYS[day]}: hours {before} and {after} "
                                     f"overlap{keys}")
        return hours

    @field_validator("closed_annually")
    @classmethod
    def _annual_unique(cls, days: list[MonthDay]) -> list[MonthDay]:
        seen: set[MonthDay] = set()
        for day in days:
            if day in seen:
                raise ValueError(f"{day} is listed twice")
            seen.add(day)
        return days

    @field_validator("closed_dates")
    @classmethod
    def _closed_unique(cls, days: list[date]) -> list[date]:
        check_dates(days, (), None, None)
        return days

    @field_validator("open_dates")
    @classmethod
    def _open_dates(cls, open_dates: list[OpenDateSpec], info: ValidationInfo
                    ) -> list[OpenDateSpec]:
        period = info.data.get("service_period")
        check_dates(info.data.get("closed_dates", ()),
                    [OpenDate(o.date, tuple(o.hours)) for o in open_dates],
                    period.start if period else None, period.end if period else None)
        return open_dates

    def weekly(self) -> tuple[tuple[Window, ...], ...]:
        by_day: list[list[Window]] = [[] for _ in WEEKDAYS]
        for key, windows in self.hours.items():
            for day in parse_days(key):
                by_day[day].extend(windows)
        return tuple(tuple(sorted(day)) for day in by_day)

    def to_domain(self) -> Calendar:
        if isinstance(self.year_end_closure, AnnualRange):
            year_end: AnnualRange | None = self.year_end_closure
        else:
            year_end = YEAR_END_DEFAULT if self.year_end_closure else None
        return Calendar(
            name=self.name,
            title=self.title,
            weekly=self.weekly(),
            holidays=self.holidays,
            year_end=year_end,
            closed_annually=tuple(self.closed_annually),
            closed_dates=tuple(self.closed_dates),
            open_dates=tuple(OpenDate(o.date, tuple(o.hours), o.note) for o in self.open_dates),
            service_start=self.service_period.start if self.service_period else None,
            service_end=self.service_period.end if self.service_period else None,
        )


class CalendarFile(Strict):
    """A YAML file of calendars (``calendars:`` at the top)."""

    calendars: list[CalendarSpec] = []

    @field_validator("calendars")
    @classmethod
    def _unique_names(cls, calendars: list[CalendarSpec]) -> list[CalendarSpec]:
        seen: set[str] = set()
        for calendar in calendars:
            if calendar.name in seen:
                raise ValueError(f"calendar '{calendar.name}' is defined twice")
            seen.add(calendar.name)
        return calendars

    def by_name(self) -> dict[str, Calendar]:
        return {c.name: c.to_domain() for c in self.calendars}
