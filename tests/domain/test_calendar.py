"""Opening-hours calendars with fixed clocks: the seed municipalities, holidays of Japan,
the year-end closure, extra dates, the service period, time zones, and the YAML model's
validation messages."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from acd.domain.calendar import (
    AnnualRange,
    Calendar,
    CalendarStatus,
    DayPlan,
    MonthDay,
    OpenDate,
    Window,
    day_plan,
    japanese_holidays,
    next_change,
    status_at,
)
from acd.domain.clock import TOKYO
from acd.ivr.calendar_models import CalendarFile, CalendarSpec, parse_days
from acd.ivr.yaml_source import load_source
from acd.settings import PROJECT_DIR

S = CalendarStatus
EXAMPLES = PROJECT_DIR / "ivr_flows" / "examples" / "calendars.yaml"


@pytest.fixture(scope="module")
def cal() -> dict[str, Calendar]:
    return CalendarFile.model_validate(load_source(EXAMPLES).data).by_name()


def jst(*args) -> datetime:
    return datetime(*args, tzinfo=TOKYO)


def spec(**fields) -> CalendarSpec:
    return CalendarSpec.model_validate({"name": "t", "hours": {"weekdays": ["08:30-17:00"]},
                                        **fields})


# --- the seed municipalities -------------------------------------------------------------


def test_sapporo_payment_line(cal):
    sapporo = cal["sapporo-payment"]
    assert status_at(sapporo, jst(2026, 11, 24, 12, 0)) is S.OPEN  # Tuesday, noon window
    assert status_at(sapporo, jst(2026, 11, 24, 14, 0)) is S.CLOSED  # between the windows
    assert status_at(sapporo, jst(2026, 11, 24, 16, 30)) is S.OPEN
    assert status_at(sapporo, jst(2026, 11, 24, 20, 29, 59)) is S.OPEN
    assert status_at(sapporo, jst(2026, 11, 24, 20, 30)) is S.CLOSED
    assert status_at(sapporo, jst(2026, 11, 28, 10, 0)) is S.OPEN  # Saturday
    assert status_at(sapporo, jst(2026, 11, 28, 12, 0)) is S.OPEN
    assert status_at(sapporo, jst(2026, 11, 28, 16, 0)) is S.CLOSED
    assert status_at(sapporo, jst(2026, 11, 29, 9, 59)) is S.CLOSED  # Sunday, before 10:00
    assert status_at(sapporo, jst(2026, 11, 23, 12, 0)) is S.HOLIDAY  # 勤労感謝の日 (Mon)
    assert status_at(sapporo, jst(2026, 5, 6, 12, 0)) is S.HOLIDAY  # 振替休日
    assert status_at(sapporo, jst(2026, 9, 22, 12, 0)) is S.HOLIDAY  # 国民の休日
    assert status_at(sapporo, jst(2027, 3, 21, 12, 0)) is S.HOLIDAY  # 春分の日 on a Sunday
    assert status_at(sapporo, jst(2027, 3, 22, 12, 0)) is S.HOLIDAY  # its 振替休日
    assert status_at(sapporo, jst(2026, 12, 30, 12, 0)) is S.YEAR_END
    assert status_at(sapporo, jst(2026, 12, 28, 12, 0)) is S.OPEN  # last working day
    assert status_at(sapporo, jst(2027, 1, 3, 12, 0)) is S.YEAR_END  # a Sunday, still closed
    assert status_at(sapporo, jst(2027, 1, 4, 12, 0)) is S.OPEN


def test_kamakura_city_hall_boundaries(cal):
    kamakura = cal["kamakura"]
    assert status_at(kamakura, jst(2026, 11, 24, 8, 29, 59)) is S.CLOSED
    assert status_at(kamakura, jst(2026, 11, 24, 8, 30, 0)) is S.OPEN
    assert status_at(kamakura, jst(2026, 11, 24, 16, 59, 59, 999999)) is S.OPEN
    assert status_at(kamakura, jst(2026, 11, 24, 17, 0, 0)) is S.CLOSED
    assert status_at(kamakura, jst(2026, 11, 28, 10, 0)) is S.CLOSED  # Saturday
    assert status_at(kamakura, jst(2026, 11, 23, 10, 0)) is S.HOLIDAY


def test_kamakura_environment_centre_opens_earlier_and_on_holidays(cal):
    env = cal["kamakura-env"]
    assert status_at(env, jst(2026, 11, 24, 8, 15)) is S.OPEN  # before the city hall
    assert status_at(env, jst(2026, 11, 24, 8, 14, 59)) is S.CLOSED
    assert status_at(env, jst(2026, 11, 23, 8, 20)) is S.OPEN  # 勤労感謝の日
    assert status_at(env, jst(2026, 11, 23, 8, 14)) is S.CLOSED  # outside holiday hours
    assert status_at(env, jst(2026, 11, 23, 17, 0)) is S.CLOSED
    assert status_at(env, jst(2026, 5, 3, 10, 0)) is S.OPEN  # 憲法記念日, a Sunday
    assert status_at(env, jst(2026, 11, 22, 10, 0)) is S.CLOSED  # a plain Sunday
    assert status_at(env, jst(2026, 12, 30, 10, 0)) is S.YEAR_END
    assert status_at(env, jst(2027, 1, 1, 10, 0)) is S.YEAR_END  # 元日: year-end first


def test_shinjuku_every_day_but_new_year(cal):
    shinjuku = cal["shinjuku"]
    assert status_at(shinjuku, jst(2026, 12, 30, 12, 0)) is S.OPEN
    assert status_at(shinjuku, jst(2026, 12, 31, 21, 59, 59)) is S.OPEN
    assert status_at(shinjuku, jst(2027, 1, 1, 12, 0)) is S.YEAR_END
    assert status_at(shinjuku, jst(2027, 1, 2, 12, 0)) is S.YEAR_END
    assert status_at(shinjuku, jst(2027, 1, 3, 21, 0)) is S.YEAR_END
    assert status_at(shinjuku, jst(2027, 1, 4, 7, 59, 59)) is S.CLOSED
    assert status_at(shinjuku, jst(2027, 1, 4, 8, 0)) is S.OPEN
    assert status_at(shinjuku, jst(2026, 11, 23, 12, 0)) is S.OPEN  # holidays: open
    assert status_at(shinjuku, jst(2026, 11, 22, 21, 59)) is S.OPEN  # Sunday
    assert status_at(shinjuku, jst(2026, 11, 22, 22, 0)) is S.CLOSED


def test_kawagoe(cal):
    kawagoe = cal["kawagoe"]
    assert status_at(kawagoe, jst(2026, 11, 24, 8, 30)) is S.OPEN
    assert status_at(kawagoe, jst(2026, 11, 24, 17, 14, 59)) is S.OPEN
    assert status_at(kawagoe, jst(2026, 11, 24, 17, 15)) is S.CLOSED
    assert status_at(kawagoe, jst(2026, 9, 22, 10, 0)) is S.HOLIDAY


def test_service_period_open_and_closed_dates(cal):
    benefit = cal["example-benefit"]
    assert status_at(benefit, jst(2026, 11, 30, 10, 0)) is S.CLOSED  # not started yet
    assert status_at(benefit, jst(2026, 12, 1, 9, 0)) is S.OPEN  # first day
    assert status_at(benefit, jst(2027, 2, 10, 10, 0)) is S.CLOSED  # closed date
    assert status_at(benefit, jst(2027, 3, 27, 16, 59)) is S.OPEN  # Saturday hours
    assert status_at(benefit, jst(2027, 3, 28, 10, 0)) is S.OPEN  # the Sunday open date
    assert status_at(benefit, jst(2027, 3, 28, 17, 0)) is S.CLOSED
    assert status_at(benefit, jst(2027, 3, 31, 18, 59, 59)) is S.OPEN  # the last day
    assert status_at(benefit, jst(2027, 3, 31, 19, 0)) is S.CLOSED
    assert status_at(benefit, jst(2027, 4, 1, 0, 0)) is S.AFTER_SERVICE
    assert status_at(benefit, jst(2027, 4, 5, 10, 0)) is S.AFTER_SERVICE
    assert status_at(benefit, jst(2031, 1, 1, 10, 0)) is S.AFTER_SERVICE


def test_open_dates_override_year_end_holidays_and_closed_annually():
    calendar = spec(open_dates=[
        {"date": "2026-12-29", "hours": ["09:00-12:00"], "note": "年末の臨時窓口"},
        {"date": date(2026, 11, 23), "hours": ["10:00-12:00", "13:00-15:00"]}],
        closed_annually=["11-23"]).to_domain()
    assert status_at(calendar, jst(2026, 12, 29, 9, 0)) is S.OPEN
    assert status_at(calendar, jst(2026, 12, 29, 12, 0)) is S.CLOSED
    assert status_at(calendar, jst(2026, 12, 30, 10, 0)) is S.YEAR_END
    assert status_at(calendar, jst(2026, 11, 23, 12, 30)) is S.CLOSED
    assert status_at(calendar, jst(2026, 11, 23, 14, 0)) is S.OPEN
    assert status_at(calendar, jst(2027, 11, 23, 10, 0)) is S.CLOSED  # closed_annually wins
    assert day_plan(calendar, date(2026, 12, 29)).reason == "open date: 年末の臨時窓口"


def test_holidays_open_means_the_weekly_hours_apply():
    calendar = spec(holidays="open").to_domain()
    assert status_at(calendar, jst(2026, 11, 23, 10, 0)) is S.OPEN
    assert status_at(calendar, jst(2026, 11, 23, 18, 0)) is S.CLOSED


def test_a_window_may_end_at_midnight():
    calendar = spec(hours={"daily": ["20:00-24:00"]}, year_end_closure=False,
                    holidays="open").to_domain()
    assert status_at(calendar, jst(2026, 11, 24, 23, 59, 59)) is S.OPEN
    assert status_at(calendar, jst(2026, 11, 25, 0, 0)) is S.CLOSED


# --- time zones ------------------------------------------------------------------------


def test_a_naive_datetime_is_refused(cal):
    with pytest.raises(ValueError, match="no time zone"):
        status_at(cal["kamakura"], datetime(2026, 11, 24, 12, 0))
    with pytest.raises(ValueError, match="no time zone"):
        next_change(cal["kamakura"], datetime(2026, 11, 24, 12, 0))


def test_any_zone_is_read_in_tokyo_whatever_the_servers_zone(cal, monkeypatch):
    kamakura = cal["kamakura"]
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    clock.tzset()
    try:
        # 23:30 UTC on Monday 11/23 is 08:30 on Tuesday 11/24 in Tokyo
        assert status_at(kamakura, datetime(2026, 11, 23, 23, 30, tzinfo=UTC)) \
            is S.OPEN
        assert status_at(kamakura, datetime(2026, 11, 23, 23, 29, tzinfo=UTC)) \
            is S.CLOSED
        # 15:30 UTC on Sunday 11/22 is already 勤労感謝の日 in Tokyo
        assert status_at(kamakura, datetime(2026, 11, 22, 15, 30, tzinfo=UTC)) \
            is S.HOLIDAY
        new_york = datetime(2026, 11, 23, 18, 30, tzinfo=ZoneInfo("America/New_York"))
        assert status_at(kamakura, new_york) is S.OPEN  # 08:30 JST on 11/24
        assert next_change(kamakura, new_york) == jst(2026, 11, 24, 17, 0)
    finally:
        monkeypatch.undo()
        clock.tzset()


# --- next_change -----------------------------------------------------------------------


def test_next_change(cal):
    kamakura = cal["kamakura"]
    assert next_change(kamakura, jst(2026, 11, 24, 12, 0)) == jst(2026, 11, 24, 17, 0)
    assert next_change(kamakura, jst(2026, 11, 24, 17, 0)) == jst(2026, 11, 25, 8, 30)
    assert next_change(kamakura, jst(2026, 11, 24, 7, 0)) == jst(2026, 11, 24, 8, 30)
    # Friday evening -> Monday morning
    assert next_change(kamakura, jst(2026, 11, 27, 18, 0)) == jst(2026, 11, 30, 8, 30)
    # Saturday before a holiday Monday: closed -> holiday at midnight -> open Tuesday
    assert next_change(kamakura, jst(2026, 11, 21, 10, 0)) == jst(2026, 11, 23, 0, 0)
    assert next_change(kamakura, jst(2026, 11, 23, 10, 0)) == jst(2026, 11, 24, 0, 0)
    assert next_change(kamakura, jst(2026, 12, 28, 17, 30)) == jst(2026, 12, 29, 0, 0)
    assert next_change(kamakura, jst(2026, 12, 30, 10, 0)) == jst(2027, 1, 4, 0, 0)
    shinjuku = cal["shinjuku"]
    assert next_change(shinjuku, jst(2026, 12, 31, 21, 0)) == jst(2026, 12, 31, 22, 0)
    assert next_change(shinjuku, jst(2026, 12, 31, 22, 0)) == jst(2027, 1, 1, 0, 0)
    benefit = cal["example-benefit"]
    assert next_change(benefit, jst(2027, 3, 31, 20, 0)) == jst(2027, 4, 1, 0, 0)
    assert next_change(benefit, jst(2027, 4, 1, 0, 0)) is None
    assert next_change(benefit, jst(2026, 10, 1, 0, 0)) == jst(2026, 12, 1, 9, 0)
    never_open = Calendar("never", tuple(() for _ in range(7)), holidays="open",
                          year_end=None)
    assert next_change(never_open, jst(2026, 11, 24, 12, 0), horizon_days=30) is None


def test_day_plan_segments(cal):
    plan = day_plan(cal["sapporo-payment"], date(2026, 11, 24))
    assert plan.segments() == [(0, S.CLOSED), (690, S.OPEN), (810, S.CLOSED),
                               (990, S.OPEN), (1230, S.CLOSED)]
    assert DayPlan((), S.HOLIDAY, "x").segments() == [(0, S.HOLIDAY)]
    touching = DayPlan((Window.parse("08:00-12:00"), Window.parse("12:00-13:00")),
                       S.CLOSED, "x")
    assert touching.segments() == [(0, S.CLOSED), (480, S.OPEN), (780, S.CLOSED)]


# --- public holidays of Japan --------------------------------------------------------------


def test_japanese_holidays_include_substitute_and_citizens_holidays():
    h2026 = japanese_holidays(2026)
    assert h2026[date(2026, 5, 6)] == "振替休日"
    assert h2026[date(2026, 9, 22)] == "国民の休日"
    assert h2026[date(2026, 11, 23)] == "勤労感謝の日"
    assert date(2026, 12, 31) not in h2026  # banks' 12/31 is not a public holiday
    assert japanese_holidays(2027)[date(2027, 3, 22)] == "振替休日"
    with pytest.raises(ValueError, match="1949-2099"):
        japanese_holidays(2100)


def test_a_holiday_table_can_be_given():
    calendar = spec(holidays="closed").to_domain()
    table = {2026: {date(2026, 11, 24): "開庁記念日"}}
    assert status_at(calendar, jst(2026, 11, 24, 10, 0),
                     lambda year: table.get(year, {})) is S.HOLIDAY
    assert status_at(calendar, jst(2026, 11, 23, 10, 0),
                     lambda year: table.get(year, {})) is S.OPEN


# --- values and validation -------------------------------------------------------------------


def test_window_and_day_parsing():
    assert Window.parse("8:30-17:00") == Window(510, 1020)
    assert str(Window.parse("08:30-24:00")) == "08:30-24:00"
    assert parse_days("weekdays") == (0, 1, 2, 3, 4)
    assert parse_days("sat,sun") == (5, 6)
    assert parse_days("mon-wed") == (0, 1, 2)
    assert parse_days("fri-mon") == (0, 4, 5, 6)
    assert MonthDay.parse("01-03") == MonthDay(1, 3)
    assert AnnualRange(MonthDay(12, 29), MonthDay(1, 3)).contains(date(2027, 1, 3))
    assert not AnnualRange(MonthDay(12, 29), MonthDay(1, 3)).contains(date(2027, 1, 4))


def errors_of(**fields) -> str:
    with pytest.raises(ValidationError) as caught:
        spec(**fields)
    return "\n".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                     for e in caught.value.errors())


@pytest.mark.parametrize("fields, message", [
    ({"hours": {"weekdays": ["08:30-12:00", "11:30-13:30"]}},
     "hours on mon: hours 08:30-12:00 and 11:30-13:30 overlap"),
    ({"hours": {"daily": ["08:00-22:00"], "sat": ["21:00-23:00"]}},
     "hours on sat: hours 08:00-22:00 and 21:00-23:00 overlap (from 'daily' and 'sat')"),
    ({"hours": {"weekdays": ["17:00-08:30"]}}, "the end must be after the start"),
    ({"hours": {"weekdays": ["08:30-08:30"]}}, "the end must be after the start"),
    ({"hours": {"weekdays": ["08:30-25:00"]}}, "'25:00' is not a valid time of day"),
    ({"hours": {"weekdays": ["24:00-24:00"]}}, "'24:00' is not a valid time of day"),
    ({"hours": {"weekdays": ["08:60-17:00"]}}, "'08:60' is not a valid time of day"),
    ({"hours": {"weekdays": ["8h30-17h"]}}, "is not a time: write HH:MM"),
    ({"hours": {"weekdays": [510]}}, "quoted range like \"08:30-17:00\""),
    ({"hours": {"monday": ["08:30-17:00"]}}, "unknown day 'monday'"),
    ({"holidays": ["08:00-12:00", "11:00-13:00"]}, "hours on public holidays"),
    ({"holidays": "sometimes"}, "holidays: Value error, holidays must be closed, open, or "
     "the hours of holidays"),
    ({"holidays": []}, "holiday hours are empty"),
    ({"closed_dates": ["2026-12-01"], "open_dates": [
        {"date": "2026-12-01", "hours": ["09:00-12:00"]}]},
     "open_dates: Value error, 2026-12-01 is both a closed date and an open date"),
    ({"closed_dates": ["2026-12-01", "2026-12-01"]}, "closed date 2026-12-01 is listed twice"),
    ({"closed_dates": ["2026-02-30"]}, "'2026-02-30' is not a date"),
    ({"closed_dates": ["12/01"]}, "is not a date: write YYYY-MM-DD"),
    ({"closed_annually": ["13-01"]}, "13-01 is not a day of the year"),
    ({"open_dates": [{"date": "2026-12-01", "hours": []}]}, "at least 1 item"),
    ({"open_dates": [{"date": "2026-12-01", "hours": ["09:00-12:00", "10:00-11:00"]}]},
     "hours 09:00-12:00 and 10:00-11:00 overlap"),
    ({"service_period": {"start": "2027-04-01", "end": "2027-03-31"}},
     "the service period ends (2027-03-31) before it starts (2027-04-01)"),
    ({"service_period": {}}, "a service period needs a start, an end, or both"),
    ({"service_period": {"end": "2027-03-31"},
      "open_dates": [{"date": "2027-04-05", "hours": ["09:00-12:00"]}]},
     "open_dates: Value error, open date 2027-04-05 is outside the service period"),
    ({"year_end_closure": {"start": "12-29"}},
     "year_end_closure: Value error, year_end_closure must be true (12/29-1/3), false, or a "
     "range like {start: \"01-01\", end: \"01-03\"}"),
    ({"year_end_closure": {"start": "12-29", "end": "02-30"}}, "02-30 is not a day of the year"),
    ({"closed_annually": ["01-05", "1-5"]}, "01-05 is listed twice"),
    ({"opening": "soon"}, "opening: Extra inputs are not permitted"),
])
def test_validation_messages(fields, message):
    assert message in errors_of(**fields)


def test_duplicate_calendar_names_are_refused():
    with pytest.raises(ValidationError, match="calendar 't' is defined twice"):
        CalendarFile.model_validate({"calendars": [{"name": "t", "hours": {}},
                                                   {"name": "t", "hours": {}}]})


def test_the_domain_checks_itself_too():
    empty = tuple(() for _ in range(7))
    with pytest.raises(ValueError, match="overlap"):
        Calendar("x", ((Window(0, 60), Window(30, 90)),) + empty[1:])
    with pytest.raises(ValueError, match="both a closed date and an open date"):
        Calendar("x", empty, closed_dates=(date(2026, 1, 5),),
                 open_dates=(OpenDate(date(2026, 1, 5), (Window(0, 60),)),))
    with pytest.raises(ValueError, match="7 days"):
        Calendar("x", empty[:5])
    with pytest.raises(ValueError, match="end must be after the start"):
        Window(600, 600)


def test_a_calendar_file_dumps_as_the_admin_writes_it():
    loaded = CalendarFile.model_validate(load_source(EXAMPLES).data)
    dumped = loaded.model_dump(mode="json")
    shinjuku = next(c for c in dumped["calendars"] if c["name"] == "shinjuku")
    assert shinjuku["hours"] == {"daily": ["08:00-22:00"]}
    assert shinjuku["year_end_closure"] == {"start": "01-01", "end": "01-03"}
    assert CalendarFile.model_validate(dumped) == loaded


def test_models_are_frozen_and_strict():
    calendar = spec()
    with pytest.raises(ValidationError):
        calendar.name = "other"  # type: ignore[misc]
    assert calendar.model_config["extra"] == "forbid"


def test_the_examples_file_holds_the_seed_municipalities(cal):
    assert set(cal) == {"sapporo-payment", "kamakura", "kamakura-env", "shinjuku", "kawagoe",
                        "example-benefit"}
    assert cal["shinjuku"].year_end == AnnualRange(MonthDay(1, 1), MonthDay(1, 3))
    assert cal["kamakura-env"].holidays == (Window.parse("08:15-17:00"),)
    assert cal["sapporo-payment"].weekly[5] == (Window.parse("10:00-16:00"),)
    assert all(c.title for c in cal.values())


def test_status_is_stable_across_a_whole_year(cal):
    """Every quarter hour of a year decides without error, and holidays only fall on
    public holidays."""
    kamakura = cal["kamakura"]
    start = jst(2026, 1, 1)
    holidays = set(japanese_holidays(2026))
    for step in range(0, 365 * 96, 7):
        when = start + timedelta(minutes=15 * step)
        status = status_at(kamakura, when)
        if status is S.HOLIDAY:
            assert when.date() in holidays
