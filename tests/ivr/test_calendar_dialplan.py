"""The calendar compiled to dialplan answers what ``status_at`` answers.

Three levels:
- the compiler's output itself (GotoIfTime syntax, minute ranges, order of checks);
- a small Python model of the dialplan subset the compiler emits, following Asterisk
  22's main/pbx_timing.c (inclusive end minute, cyclic ranges), run over thousands of
  moments against ``status_at`` -- fast, no Asterisk;
- a real Asterisk running the compiled contexts: at fixed moments (the channel variable
  TESTTIME, which GotoIfTime honours) around every boundary of the seed calendars, and
  at its real clock with calendars built around the current Tokyo time.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from acd.domain.calendar import (
    AnnualRange,
    Calendar,
    CalendarStatus,
    MonthDay,
    OpenDate,
    Window,
    day_plan,
    status_at,
)
from acd.domain.clock import TOKYO
from acd.ivr.calendar_dialplan import (
    asterisk_time_range,
    asterisk_weekdays,
    calendar_context,
    compile_calendar,
    compile_calendars,
)
from acd.ivr.calendar_models import CalendarFile
from acd.ivr.yaml_source import load_source
from acd.settings import PROJECT_DIR

EXAMPLES = PROJECT_DIR / "ivr_flows" / "examples" / "calendars.yaml"
YEARS = range(2026, 2029)
S = CalendarStatus


def seed_calendars() -> dict[str, Calendar]:
    return CalendarFile.model_validate(load_source(EXAMPLES).data).by_name()


def tokyo(*args) -> datetime:
    return datetime(*args, tzinfo=TOKYO)


def weekly(**days: list[str]) -> tuple[tuple[Window, ...], ...]:
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return tuple(tuple(Window.parse(w) for w in days.get(n, [])) for n in names)


# --- the compiler's output -----------------------------------------------------------


def test_the_end_minute_is_compiled_one_minute_earlier():
    # pbx_timing.c get_timerange() sets the end minute too: 08:30-17:00 would still
    # match at 17:00:59, so our 17:00 end becomes 16:59.
    assert asterisk_time_range(Window.parse("08:30-17:00")) == "08:30-16:59"
    assert asterisk_time_range(Window.parse("00:00-24:00")) == "00:00-23:59"
    assert asterisk_time_range(Window.parse("10:00-10:01")) == "10:00-10:00"


def test_weekday_sets_use_asterisk_names():
    assert asterisk_weekdays([0, 1, 2, 3, 4]) == "mon-fri"
    assert asterisk_weekdays([5, 6]) == "sat&sun"
    assert asterisk_weekdays([0, 2, 4]) == "mon&wed&fri"
    assert asterisk_weekdays(range(7)) == "*"


def test_gotoiftime_carries_the_time_zone_as_fifth_field():
    lines = compile_calendar(seed_calendars()["kamakura"], "cal-kamakura", YEARS)
    timed = [line for line in lines if "GotoIfTime(" in line]
    assert timed
    for line in timed:
        args = re.search(r"GotoIfTime\(([^?]*)\?", line).group(1)
        assert len(args.split(",")) == 5 and args.split(",")[4] == "Asia/Tokyo", line
    assert " same => n(weekly),GotoIfTime(08:30-16:59,mon-fri,*,*,Asia/Tokyo?open)" \
        "  ; 08:30-17:00" in lines


def test_checks_come_in_the_documented_order():
    calendar = seed_calendars()["example-benefit"]
    lines = compile_calendar(calendar, "cal-x", YEARS)
    assert lines[lines.index("[cal-x]") + 1].startswith("exten => s,1,")
    text = "\n".join(lines)
    order = ["> 20270331]?after_service", "< 20261201]?closed", "= 20270328]?open_20270328",
             "29-31,dec,Asia/Tokyo?year_end", "= 20270210]?closed", "= 20261123]?holiday",
             "(weekly),GotoIfTime"]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)
    # every status has its exit, and every label jumped to exists
    labels = set(re.findall(r"same => n\(([a-z0-9_]+)\)", text))
    targets = set(re.findall(r"\?([a-z0-9_]+)\)", text)) | {"weekly"}
    assert targets <= labels
    for status in S:
        assert f" same => n({status}),Return({status})" in lines


def test_holidays_are_compiled_for_the_years_asked_with_their_names():
    lines = compile_calendar(seed_calendars()["kawagoe"], "cal-kawagoe", range(2026, 2027))
    text = "\n".join(lines)
    assert "= 20260506]?holiday)  ; 振替休日" in text
    assert "= 20260922]?holiday)  ; 国民の休日" in text
    assert "20270111" not in text
    assert "GotoIf($[${TODAY} < 20260101 | ${TODAY} > 20261231]?no_holidays)" in text
    between = compile_calendar(seed_calendars()["kawagoe"], "c",
                               (date(2026, 11, 1), date(2027, 1, 31)))
    dated = [line for line in between if "?holiday)" in line]
    assert [re.search(r"= (\d{8})", line).group(1) for line in dated] == \
        ["20261103", "20261123", "20270101", "20270111"]


def test_holidays_open_compiles_no_holiday_dates():
    lines = compile_calendar(seed_calendars()["shinjuku"], "cal-shinjuku", YEARS)
    assert not any("?holiday" in line for line in lines)
    assert " same => n,GotoIfTime(*,*,1-3,jan,Asia/Tokyo?year_end)" \
        "  ; year-end closure 01-01..01-03" in lines
    assert not any("dec" in line for line in lines)


def test_a_year_end_range_over_a_month_end_is_split_by_month():
    calendar = Calendar("x", weekly(), year_end=AnnualRange(MonthDay(2, 27), MonthDay(3, 2)))
    timed = [line for line in compile_calendar(calendar, "c", YEARS) if "year_end)" in line
             and "GotoIfTime" in line]
    assert [re.search(r"\*,\*,([^,]+,[a-z]+)", line).group(1) for line in timed] == \
        ["27-29,feb", "1-2,mar"]


def test_bad_arguments_are_refused():
    calendar = seed_calendars()["kawagoe"]
    with pytest.raises(ValueError, match="context name"):
        compile_calendar(calendar, "cal kawagoe", YEARS)
    with pytest.raises(ValueError, match="years"):
        compile_calendar(calendar, "c", range(2027, 2026))
    with pytest.raises(ValueError, match="ends before"):
        compile_calendar(calendar, "c", (date(2027, 1, 1), date(2026, 1, 1)))


def test_several_calendars_compile_to_their_own_contexts():
    seeds = seed_calendars()
    lines = compile_calendars([seeds["kamakura"], seeds["kawagoe"]], YEARS)
    assert [line for line in lines if line.startswith("[")] == ["[cal-kamakura]",
                                                                "[cal-kawagoe]"]
    assert lines[lines.index("[cal-kawagoe]") - 4] == ""


def test_a_calendar_spec_compiles_like_its_domain_calendar():
    spec = CalendarFile.model_validate(load_source(EXAMPLES).data).calendars[0]
    assert compile_calendar(spec, "c", YEARS) == compile_calendar(spec.to_domain(), "c", YEARS)


# --- a model of the emitted dialplan, after Asterisk's pbx_timing.c ------------------

_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


@functools.cache
def _range_mask(spec: str, size: int, names: tuple[str, ...] | None) -> frozenset[int]:
    """get_range(): '*' or '&'-joined items and cyclic a-b ranges, 0-based."""
    if spec in ("", "*"):
        return frozenset(range(size))

    def index(text: str) -> int:
        return names.index(text) if names and not text.isdigit() else int(text) - 1

    result: set[int] = set()
    for part in spec.split("&"):
        first, _, last = part.partition("-")
        start, end = index(first), index(last or first)
        result.add(end)
        while start != end:
            result.add(start)
            start = (start + 1) % size
    return frozenset(result)


@functools.cache
def _minute_mask(spec: str) -> frozenset[int]:
    """get_timerange(): from the start minute through the end minute *inclusive*."""
    if spec in ("", "*"):
        return frozenset(range(1440))
    result: set[int] = set()
    for part in spec.split("&"):
        (start_h, start_m), (end_h, end_m) = (map(int, t.split(":")) for t in part.split("-"))
        minute, end = start_h * 60 + start_m, end_h * 60 + end_m
        while minute != end:
            result.add(minute)
            minute = (minute + 1) % 1440
        result.add(minute)
    return frozenset(result)


class DialplanModel:
    """The compiled context run as Asterisk runs it, for the apps the compiler emits."""

    def __init__(self, lines: list[str]) -> None:
        self.steps: list[tuple[str | None, str]] = []
        for line in lines:
            match = re.match(r"^(?:exten => s,1|\s*same => n(?:\(([a-z0-9_]+)\))?),(.*?)"
                             r"(?:\s+;.*)?$", line)
            if match:
                self.steps.append((match.group(1), match.group(2)))
        self.labels = {label: i for i, (label, _) in enumerate(self.steps) if label}

    def run(self, epoch: int) -> str:
        local = datetime.fromtimestamp(epoch, TOKYO)
        today = int(local.strftime("%Y%m%d"))
        pc = 0
        for _ in range(10_000):
            app = self.steps[pc][1]
            pc += 1
            if m := re.fullmatch(r"Return\((\w+)\)", app):
                return m.group(1)
            if m := re.fullmatch(r"Goto\((\w+)\)", app):
                pc = self.labels[m.group(1)]
            elif m := re.fullmatch(r"GotoIf\(\$\[(.*)\]\?(\w+)\)", app):
                truth = False
                for clause in m.group(1).split(" | "):
                    op, value = re.fullmatch(r"\$\{TODAY\} ([<>=]) (\d{8})",
                                             clause.strip()).groups()
                    truth |= {"<": today < int(value), ">": today > int(value),
                              "=": today == int(value)}[op]
                if truth:
                    pc = self.labels[m.group(2)]
            elif m := re.fullmatch(r"GotoIfTime\(([^?]*)\?(\w+)\)", app):
                times, dows, mdays, months, zone = m.group(1).split(",")
                assert zone == "Asia/Tokyo"
                if (local.hour * 60 + local.minute in _minute_mask(times)
                        and (local.weekday() + 1) % 7 in _range_mask(dows, 7, _DAYS)
                        and local.day - 1 in _range_mask(mdays, 31, None)
                        and local.month - 1 in _range_mask(months, 12, _MONTHS)):
                    pc = self.labels[m.group(2)]
            elif not re.match(r"(Set|NoOp|Log)\(", app):
                raise AssertionError(f"the model does not know {app}")
        raise AssertionError("no Return reached")


def run_model(lines: list[str], epoch: int) -> str:
    """Execute the compiled context at ``epoch`` as Asterisk would; the Return value."""
    return DialplanModel(lines).run(epoch)


def boundary_moments(calendar: Calendar, days: list[date]) -> list[datetime]:
    """A second before and at each change of status on ``days``, and noon."""
    moments = []
    for day in days:
        midnight = datetime.combine(day, time(0), tzinfo=TOKYO)
        moments.append(midnight + timedelta(hours=12))
        for minute, _status in day_plan(calendar, day).segments():
            at = midnight + timedelta(minutes=minute)
            moments.extend([at - timedelta(seconds=1), at])
    return sorted(set(moments))


INTERESTING_DAYS = [
    date(2026, 4, 29), date(2026, 5, 3), date(2026, 5, 6), date(2026, 9, 21),
    date(2026, 9, 22), date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22),
    date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 30), date(2026, 12, 1),
    date(2026, 12, 28), date(2026, 12, 29), date(2026, 12, 31), date(2027, 1, 1),
    date(2027, 1, 3), date(2027, 1, 4), date(2027, 2, 10), date(2027, 3, 22),
    date(2027, 3, 27), date(2027, 3, 28), date(2027, 3, 31), date(2027, 4, 1),
]


@pytest.mark.parametrize("name", ["sapporo-payment", "kamakura", "kamakura-env", "shinjuku",
                                  "kawagoe", "example-benefit"])
def test_the_compiled_dialplan_model_agrees_with_status_at(name):
    calendar = seed_calendars()[name]
    model = DialplanModel(compile_calendar(calendar, calendar_context(calendar), YEARS))
    moments = boundary_moments(calendar, INTERESTING_DAYS)
    # and every 20 minutes of two whole weeks around a holiday and the new year
    for start in (tokyo(2026, 11, 16), tokyo(2026, 12, 26)):
        moments += [start + timedelta(minutes=20 * i) for i in range(14 * 72)]
    for when in moments:
        assert model.run(int(when.timestamp())) == status_at(calendar, when), when


def test_the_model_shows_why_the_end_minute_is_moved():
    # compiled naively (end minute as written), 17:00:30 would still be open
    naive = [" same => n,GotoIfTime(08:30-17:00,mon-fri,*,*,Asia/Tokyo?open)",
             " same => n,Return(closed)", " same => n(open),Return(open)"]
    assert run_model(naive, int(tokyo(2026, 11, 24, 17, 0, 30).timestamp())) == "open"
    lines = compile_calendar(seed_calendars()["kamakura"], "c", YEARS)
    assert run_model(lines, int(tokyo(2026, 11, 24, 17, 0, 0).timestamp())) == "closed"
    assert run_model(lines, int(tokyo(2026, 11, 24, 16, 59, 59).timestamp())) == "open"


def test_outside_the_compiled_years_the_weekly_hours_still_decide():
    calendar = seed_calendars()["kamakura"]
    lines = compile_calendar(calendar, "c", range(2026, 2027))
    seijin_2027 = tokyo(2027, 1, 11, 10, 0)  # a holiday the dialplan was not given
    assert status_at(calendar, seijin_2027) == S.HOLIDAY
    assert run_model(lines, int(seijin_2027.timestamp())) == "open"
    assert any(line.startswith(" same => n(no_holidays),Log(WARNING,") for line in lines)
    # yearly rules need no year
    assert run_model(lines, int(tokyo(2030, 12, 30, 10).timestamp())) == "year_end"


# --- a real Asterisk -------------------------------------------------------------------

CAL_PORTS = {"sip_port": 35060, "sip_tls_port": 35061, "ami_port": 35038, "gateway_port": 38080,
             "rtp_start": 36000, "rtp_end": 36999}


def table_source(table: dict[date, str]):
    """A holiday source made of ``table`` (instead of the holidays of Japan)."""
    return lambda year: {day: name for day, name in table.items() if day.year == year}


def realtime_calendars(now: datetime) -> dict[str, tuple[Calendar, dict[date, str]]]:
    """Calendars built around ``now`` (Tokyo) and the holiday table each one uses."""
    today, minute = now.date(), now.hour * 60 + now.minute
    around = Window(max(0, minute - 30), min(1440, minute + 30))
    every_day = tuple((around,) for _ in range(7))
    fake_holiday = {today: "テスト用の祝日"}
    none: dict[date, str] = {}
    cals: dict[str, tuple[Calendar, dict[date, str]]] = {
        "rt-open": (Calendar("rt-open", every_day, year_end=None), none),
        "rt-other-days": (Calendar("rt-other-days", tuple(
            () if d == today.weekday() else (around,) for d in range(7)), year_end=None), none),
        "rt-starts-now": (Calendar("rt-starts-now", tuple(
            (Window(minute, min(1440, minute + 30)),) for _ in range(7)), year_end=None), none),
        "rt-closed-date": (Calendar("rt-closed-date", every_day, year_end=None,
                                    closed_dates=(today,)), none),
        "rt-closed-annually": (Calendar("rt-closed-annually", every_day, year_end=None,
                                        closed_annually=(MonthDay.of(today),)), none),
        "rt-holiday": (Calendar("rt-holiday", every_day, year_end=None), fake_holiday),
        "rt-holiday-hours": (Calendar("rt-holiday-hours", tuple(() for _ in range(7)),
                                      year_end=None, holidays=(around,)), fake_holiday),
        "rt-holiday-open": (Calendar("rt-holiday-open", every_day, year_end=None,
                                     holidays="open"), fake_holiday),
        "rt-year-end": (Calendar("rt-year-end", every_day, year_end=AnnualRange(
            MonthDay.of(today - timedelta(days=1)), MonthDay.of(today + timedelta(days=1)))),
            none),
        "rt-open-date": (Calendar("rt-open-date", tuple(() for _ in range(7)),
                                  year_end=AnnualRange(MonthDay.of(today), MonthDay.of(today)),
                                  open_dates=(OpenDate(today, (around,)),)), none),
        "rt-after-service": (Calendar("rt-after-service", every_day, year_end=None,
                                      service_end=today - timedelta(days=1)), none),
        "rt-last-day": (Calendar("rt-last-day", every_day, year_end=None,
                                 service_end=today), none),
        "rt-before-service": (Calendar("rt-before-service", every_day, year_end=None,
                                       service_start=today + timedelta(days=1)), none),
    }
    if minute >= 1:  # a window that ended at the current minute: closed now
        ended = Window(max(0, minute - 30), minute)
        cals["rt-ended"] = (Calendar("rt-ended", tuple((ended,) for _ in range(7)),
                                     year_end=None), none)
    return cals


@pytest.mark.integration
async def test_dialplan_in_a_real_asterisk_answers_like_status_at(state_dir: Path):
    async with asyncio.timeout(90):
        await _real_asterisk(state_dir)


async def _real_asterisk(state_dir: Path) -> None:
    from acd.adapters.ami.client import AmiClient, RawEvent
    from acd.adapters.asterisk.config import AMI_USER
    from acd.adapters.asterisk.process import AsteriskProcess
    from acd.settings import Settings
    from acd.stack import prepare

    # stay clear of a minute boundary (the real-clock cases are decided to the minute)
    # and of midnight (they use today's date)
    current = datetime.now(TOKYO)
    if current.second >= 45 or (current.hour, current.minute) == (23, 59):
        await asyncio.sleep(61 - current.second)
    now = datetime.now(UTC).astimezone(TOKYO)
    realtime = realtime_calendars(now)
    seeds = seed_calendars()

    lines: list[str] = [""]
    fixed_cases: dict[tuple[str, str], S] = {}
    for name, calendar in seeds.items():
        lines += [""] + compile_calendar(calendar, calendar_context(calendar), YEARS)
        lines += [f"[caltest-{name}]",
                  "exten => _X.,1,Set(TESTTIME=${EXTEN})",
                  f" same => n,Gosub({calendar_context(calendar)},s,1)",
                  f" same => n,UserEvent(CalendarResult,Calendar: {name},Case: ${{EXTEN}},"
                  "Status: ${GOSUB_RETVAL})",
                  " same => n,Hangup()"]
        for when in boundary_moments(calendar, INTERESTING_DAYS):
            fixed_cases[(name, str(int(when.timestamp())))] = status_at(calendar, when)
    for name, (calendar, table) in realtime.items():
        lines += [""] + compile_calendar(calendar, calendar_context(calendar),
                                         (now.date() - timedelta(days=400),
                                          now.date() + timedelta(days=400)),
                                         table_source(table))
        lines += [f"[caltest-{name}]",
                  "exten => now,1,Set(T0=${EPOCH})",
                  f" same => n,Gosub({calendar_context(calendar)},s,1)",
                  f" same => n,UserEvent(CalendarResult,Calendar: {name},Case: now,"
                  "Status: ${GOSUB_RETVAL},Epoch: ${T0})",
                  " same => n,Hangup()"]

    # an empty site: no line, queue or agent -- only the calendars' dialplan matters here
    flows = state_dir / "flows"
    flows.mkdir()
    (flows / "site.yaml").write_text("lines: []\n", encoding="utf-8")
    settings = Settings(state_dir=state_dir, recordings_dir=state_dir / "recordings",
                        flows_dir=flows, **CAL_PORTS)
    deployment = prepare(settings, [])
    installation, secrets, dirs = deployment.installation, deployment.secrets, deployment.dirs
    with open(dirs.etc / "extensions.conf", "a", encoding="utf-8") as conf:
        conf.write("\n".join(lines) + "\n")
    with open(dirs.etc / "modules.conf", "a", encoding="utf-8") as conf:
        conf.write("load = res_clioriginate.so\n")  # 'channel originate' for this test only
    asterisk = AsteriskProcess(installation, dirs.asterisk_conf,
                               [state_dir, settings.recordings_dir], dirs.run / "log" / "out")
    queue: asyncio.Queue = asyncio.Queue()
    results: dict[tuple[str, str], dict[str, str]] = {}
    started = clock.monotonic()
    await asterisk.start()
    try:
        await asterisk.wait_ready("127.0.0.1", settings.ami_port)
        ami = AmiClient("127.0.0.1", settings.ami_port, AMI_USER, secrets.get("ami"), queue)
        runner = asyncio.create_task(ami.run())
        try:
            await ami.wait_connected(15)
            # AMI opens before the PBX accepts channels
            await asterisk.console("core waitfullybooted")

            async def collect() -> None:
                while True:
                    item = await queue.get()
                    if isinstance(item, RawEvent) and \
                            item.message.get("UserEvent") == "CalendarResult":
                        message = item.message
                        results[(message["Calendar"], message["Case"])] = dict(message)

            collector = asyncio.create_task(collect())
            # the real-clock cases first, while the clock is still near `now`
            wanted = [*((name, "now") for name in realtime), *fixed_cases]
            for name, case in wanted:
                await asterisk.console(f"channel originate Local/{case}@caltest-{name} "
                                       "application Wait 1")
            for _ in range(200):
                if all(key in results for key in wanted):
                    break
                await asyncio.sleep(0.1)
            collector.cancel()
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
    finally:
        await asterisk.stop()

    missing = [key for key in wanted if key not in results]
    assert not missing, f"no answer from Asterisk for {missing[:5]}: {asterisk.tail_log()}"
    wrong = [(name, datetime.fromtimestamp(int(case), TOKYO).isoformat(),
              results[(name, case)]["Status"], str(expected))
             for (name, case), expected in fixed_cases.items()
             if results[(name, case)]["Status"] != expected]
    assert not wrong, wrong
    assert len(fixed_cases) > 300, len(fixed_cases)
    print(f"{len(fixed_cases)} fixed moments and {len(realtime)} real-clock cases agree")
    # at its real clock: the same answer as status_at at the instant it decided
    answers = {}
    for name, (calendar, table) in realtime.items():
        message = results[(name, "now")]
        decided = datetime.fromtimestamp(int(message["Epoch"]), UTC)
        assert message["Status"] == status_at(calendar, decided, table_source(table)), \
            (name, message)
        answers[name] = message["Status"]
    expected = {"rt-open": "open", "rt-other-days": "closed", "rt-starts-now": "open",
                "rt-closed-date": "closed", "rt-closed-annually": "closed",
                "rt-holiday": "holiday", "rt-holiday-hours": "open", "rt-holiday-open": "open",
                "rt-year-end": "year_end", "rt-open-date": "open",
                "rt-after-service": "after_service", "rt-last-day": "open",
                "rt-before-service": "closed", "rt-ended": "closed"}
    assert answers == {k: v for k, v in expected.items() if k in answers}
    assert clock.monotonic() - started < 60
