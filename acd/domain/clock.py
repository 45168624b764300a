"""Time in Japan, once: the JST offset, the Tokyo zone, days and periods, and the dates
people type (CLI options, HTTP query strings).

Japan has had no daylight-saving time since 1951, so a fixed +09:00 offset (``JST``) and
the IANA zone (``TOKYO``) give the same wall clock; ``JST`` is used where SQL needs a
constant offset, ``TOKYO`` where a calendar reads dates. Pure: nothing here reads the
system clock except where a caller passes no ``today``/``now``.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

JST = timezone(timedelta(hours=9), "JST")
JST_OFFSET = 9 * 3600
TOKYO = ZoneInfo("Asia/Tokyo")


def tokyo_today(now: datetime | None = None) -> date:
    """Today's date in Tokyo (of ``now`` when given)."""
    return (now or datetime.now(TOKYO)).astimezone(TOKYO).date()


def tokyo_day(epoch: float) -> str:
    """The Tokyo date of an epoch moment, as ``YYYY-MM-DD``."""
    return datetime.fromtimestamp(epoch, TOKYO).date().isoformat()


def as_jst(moment: datetime) -> datetime:
    """A naive datetime is taken as JST."""
    return moment.replace(tzinfo=JST) if moment.tzinfo is None else moment.astimezone(JST)


def jst_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=JST)


def jst_day_start(day: date) -> float:
    """Midnight JST of ``day``, as epoch seconds."""
    return jst_midnight(day).timestamp()


def jst_iso(epoch: float | None) -> str | None:
    """An epoch moment as an ISO date-time in JST; ``None`` stays ``None``."""
    return None if epoch is None else datetime.fromtimestamp(epoch, JST).isoformat()


def utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def day_range(day: date) -> tuple[datetime, datetime]:
    return jst_midnight(day), jst_midnight(day + timedelta(days=1))


def week_range(year: int, week: int) -> tuple[datetime, datetime]:
    monday = date.fromisocalendar(year, week, 1)
    return jst_midnight(monday), jst_midnight(monday + timedelta(days=7))


def month_range(year: int, month: int) -> tuple[datetime, datetime]:
    following = date(year + (month == 12), month % 12 + 1, 1)
    return jst_midnight(date(year, month, 1)), jst_midnight(following)


# ------------------------------------------------------------------ what people type

def parse_when(text: str | None, *, end: bool = False) -> float | None:
    """A time given by a person, as epoch seconds; ``None`` for empty.

    ``YYYY-MM-DD`` is a day in JST: its start, or with ``end=True`` the start of the next
    day (so that ``--to 2026-04-30`` includes the whole of that day: bounds are
    half-open). An ISO date-time without a zone is JST; a plain number is epoch seconds.
    Raises :class:`ValueError` with a readable message (also for a time the calendar
    cannot hold, or a number that is not finite).
    """
    if text is None or str(text).strip() == "":
        return None
    text = str(text).strip()
    try:
        return _parse_when(text, end)
    except OverflowError:
        raise ValueError(f"{text!r} is outside the calendar") from None


def _parse_when(text: str, end: bool) -> float:
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ValueError(f"{text!r} is not a time")
        return seconds
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return jst_day_start(day + timedelta(days=1) if end else day)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD), a date-time "
                         "(YYYY-MM-DDTHH:MM[:SS], JST unless a zone is given) or epoch "
                         "seconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=JST)
    return moment.timestamp()


#: The days a report may cover: the service's years (a date outside is a typing error).
FIRST_REPORT_DAY, LAST_REPORT_DAY = date(2000, 1, 1), date(2099, 12, 31)
#: The longest range report (a fiscal year, leap day included).
MAX_RANGE_DAYS = 366


def parse_period(kind: str, value: str | None, until: str | None = None,
                 today: date | None = None) -> tuple[datetime, datetime]:
    """[start, end) of a daily/weekly/monthly/range report; ValueError when malformed,
    outside 2000-2099, or (a range) longer than :data:`MAX_RANGE_DAYS`.
    Without a value: yesterday, last week, last month (as of ``today``, JST)."""
    outside = ValueError(f"reports cover {FIRST_REPORT_DAY.year}-{LAST_REPORT_DAY.year}")
    try:
        start, end = _period(kind, value, until, today or datetime.now(JST).date())
    except OverflowError:
        raise outside from None
    if start.date() < FIRST_REPORT_DAY or end.date() > LAST_REPORT_DAY + timedelta(days=1):
        raise outside
    return start, end


def _period(kind: str, value: str | None, until: str | None, today: date
            ) -> tuple[datetime, datetime]:
    if kind == "daily":
        day = date.fromisoformat(value) if value else today - timedelta(days=1)
        return day_range(day)
    if kind == "weekly":
        if value:
            match = re.fullmatch(r"(\d{4})-?W(\d{1,2})", value.strip(), re.IGNORECASE)
            if not match:
                raise ValueError(f"week {value!r}: use YYYY-Www, e.g. 2026-W47")
            return week_range(int(match[1]), int(match[2]))
        year, week, _ = (today - timedelta(days=7)).isocalendar()
        return week_range(year, week)
    if kind == "monthly":
        if value:
            match = re.fullmatch(r"(\d{4})-(\d{1,2})(?:-\d{1,2})?", value.strip())
            if not match or not 1 <= int(match[2]) <= 12:
                raise ValueError(f"month {value!r}: use YYYY-MM, e.g. 2026-11")
            return month_range(int(match[1]), int(match[2]))
        last = today.replace(day=1) - timedelta(days=1)
        return month_range(last.year, last.month)
    if kind == "range":
        if not value or not until:
            raise ValueError("range needs --from and --to (YYYY-MM-DD, --to inclusive)")
        first, last = date.fromisoformat(value), date.fromisoformat(until)
        if last < first:
            raise ValueError("--to is before --from")
        if (last - first).days >= MAX_RANGE_DAYS:
            raise ValueError(f"a range report covers at most {MAX_RANGE_DAYS} days")
        return day_range(first)[0], day_range(last)[1]
    raise ValueError(f"unknown report {kind!r}")
