"""Calendars in the flows: `calendars:` in any file, `calendar:` and the closed prompts
on a line, every mistake reported as file:line:column; the rendered dialplan."""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from acd.adapters.asterisk.config import calendar_years, render
from acd.adapters.asterisk.process import AsteriskInstallation
from acd.adapters.secrets import SecretStore
from acd.cli.main import main
from acd.domain.calendar import CalendarStatus
from acd.ivr.loader import FlowError, live_change_problems, load_site
from acd.settings import PROJECT_DIR, Settings

QUEUES_AND_PROMPTS = """\
queues:
  - name: main
prompts:
  closed: {text: {ja: 本日の受付は終了しました。}}
  holiday: {text: {ja: 本日は祝日のため休業しております。}}
"""

CALENDAR = """\
calendars:
  - name: city
    title: 市役所
    hours:
      weekdays: ["08:30-17:15"]
    holidays: closed
    year_end_closure: true
"""


def flows(tmp_path: Path, **files: str) -> Path:
    directory = tmp_path / "flows"
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return directory


def problems(directory: Path) -> list[str]:
    with pytest.raises(FlowError) as caught:
        load_site(directory)
    return caught.value.problems


def line(*extra: str, did: str = "0570000500") -> str:
    body = "".join(f"    {e}\n" for e in extra)
    return (f"lines:\n  - did: \"{did}\"\n    name: 市役所代表\n    queue: main\n"
            f"    recording: off\n{body}")


def test_a_calendar_in_one_file_serves_a_line_in_another(tmp_path):
    site = load_site(flows(tmp_path, calendars=CALENDAR, site=line(
        "calendar: city", "closed_prompt: closed", "holiday_prompt: holiday")
        + QUEUES_AND_PROMPTS))
    [the_line] = site.lines
    assert the_line.calendar == "city"
    assert [c.name for c in site.calendars] == ["city"]
    assert site.domain_calendars()["city"].title == "市役所"
    assert the_line.closed_prompts() == {           # a status without its own prompt
        CalendarStatus.CLOSED: "closed",            # falls back to closed_prompt
        CalendarStatus.HOLIDAY: "holiday",
        CalendarStatus.YEAR_END: "closed",
        CalendarStatus.AFTER_SERVICE: "closed",
    }


def test_a_line_without_calendar_is_always_open(tmp_path):
    site = load_site(flows(tmp_path, site=line() + QUEUES_AND_PROMPTS))
    assert site.lines[0].calendar is None and site.lines[0].closed_prompts() == {}


def test_a_line_with_a_calendar_needs_a_closed_prompt(tmp_path):
    directory = flows(tmp_path, site=line("calendar: city", "holiday_prompt: holiday")
                      + QUEUES_AND_PROMPTS + CALENDAR)
    assert problems(directory) == [
        f"{directory / 'site.yaml'}:6:5: a line with a calendar needs 'closed_prompt', "
        "played when calendar 'city' says the line is not open"]


def test_an_unknown_calendar_is_named_with_the_known_ones(tmp_path):
    directory = flows(tmp_path, site=line("calendar: citty", "closed_prompt: closed")
                      + QUEUES_AND_PROMPTS + CALENDAR)
    [problem] = problems(directory)
    assert problem.startswith(f"{directory / 'site.yaml'}:6:15: unknown calendar 'citty' "
                              "(known: city;")


def test_unknown_closed_prompts_are_reported_where_they_are_written(tmp_path):
    directory = flows(tmp_path, site=line(
        "calendar: city", "closed_prompt: closd", "holiday_prompt: holiday",
        "year_end_prompt: nenmatsu", "after_service_prompt: owari") + QUEUES_AND_PROMPTS
        + CALENDAR)
    path = directory / "site.yaml"
    assert problems(directory) == [
        f"{path}:7:20: unknown prompt 'closd' (known: closed, holiday)",
        f"{path}:9:22: unknown prompt 'nenmatsu' (known: closed, holiday)",
        f"{path}:10:27: unknown prompt 'owari' (known: closed, holiday)",
    ]


def test_closed_prompts_without_a_calendar_are_refused(tmp_path):
    directory = flows(tmp_path, site=line("closed_prompt: closed") + QUEUES_AND_PROMPTS)
    assert problems(directory) == [
        f"{directory / 'site.yaml'}:6:5: 'closed_prompt' is only played on a line with a "
        "'calendar': add the calendar or remove the prompt"]


def test_a_calendar_defined_in_two_files_is_reported_at_the_second(tmp_path):
    directory = flows(tmp_path, a=CALENDAR, b=CALENDAR, site=line() + QUEUES_AND_PROMPTS)
    assert problems(directory) == [
        f"{directory / 'b.yaml'}:2:11: calendar 'city' is defined twice "
        f"(first at {directory / 'a.yaml'}:2:11)"]


def test_mistakes_inside_a_calendar_point_at_the_value(tmp_path):
    directory = flows(tmp_path, site=line() + QUEUES_AND_PROMPTS + """\
calendars:
  - name: City Hall
    hours:
      weekdays: ["08:30-17:75", 830]
      mon-fry: ["09:00-10:00"]
    holidays: sometimes
    closed_dates: [2026-02-30]
    colour: blue
""")
    path = directory / "site.yaml"
    found = problems(directory)
    expected = [
        (f"{path}:12:11:", "calendars.0.name", "should match pattern"),
        (f"{path}:14:18:", "calendars.0.hours.weekdays.0", "'17:75' is not a valid time"),
        (f"{path}:14:33:", "calendars.0.hours.weekdays.1", "quoted range"),
        (f"{path}:15:7:", "calendars.0.hours.mon-fry", "unknown day 'mon-fry'"),
        (f"{path}:16:15:", "calendars.0.holidays", "holidays must be closed, open"),
        (f"{path}:17:20:", "calendars.0.closed_dates.0", "'2026-02-30' is not a date"),
        (f"{path}:18:5:", "calendars.0.colour", "Extra inputs are not permitted"),
    ]
    assert len(found) == len(expected), found
    for (where, loc, words), problem in zip(expected, found, strict=False):
        assert problem.startswith(f"{where} {loc}: ") and words in problem, problem


def test_a_wrong_calendar_overlap_is_reported_at_the_hours(tmp_path):
    directory = flows(tmp_path, site=line() + QUEUES_AND_PROMPTS + """\
calendars:
  - name: city
    hours:
      weekdays: ["08:30-17:15"]
      mon: ["17:00-19:00"]
""")
    [problem] = problems(directory)
    assert problem.startswith(f"{directory / 'site.yaml'}:14:7: calendars.0.hours: ")
    assert "hours on mon: hours 08:30-17:15 and 17:00-19:00 overlap" in problem


def test_acd_ivr_validate_prints_file_line_column(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MADOGUCHI_FLOWS_DIR", raising=False)
    directory = flows(tmp_path, site=line("calendar: nowhere", "closed_prompt: closed")
                      + QUEUES_AND_PROMPTS)
    assert main(["ivr", "validate", str(directory)]) == 1
    err = capsys.readouterr().err
    assert f"{directory / 'site.yaml'}:6:15: unknown calendar 'nowhere' (known: none;" in err
    (directory / "site.yaml").write_text(
        line("calendar: city", "closed_prompt: closed") + QUEUES_AND_PROMPTS + CALENDAR)
    assert main(["ivr", "validate", str(directory)]) == 0
    assert "ok (1 lines, 1 queues, 2 prompts)" in capsys.readouterr().out


def test_the_shipped_site_and_examples_are_valid():
    site = load_site(PROJECT_DIR / "ivr_flows")
    main_line = next(line for line in site.lines if line.did == "0570000123")
    assert main_line.calendar in {c.name for c in site.calendars}
    assert main_line.closed_prompt and main_line.holiday_prompt and main_line.year_end_prompt
    load_site(PROJECT_DIR / "ivr_flows" / "examples")  # the calendar examples alone


# --- the rendered dialplan -----------------------------------------------------------------


def rendered(tmp_path: Path, directory: Path, now: datetime) -> str:
    site = load_site(directory)
    prompts = {name: {"ja": f"/sounds/{name}"} for name in site.prompts}
    settings = Settings(state_dir=tmp_path / "state", flows_dir=directory)
    files = render(settings, site, AsteriskInstallation(None, "Asterisk 22.0.0", "/m", "/d"),
                   SecretStore(tmp_path / "secrets.json"), prompts, [], now=now)
    return files["extensions.conf"]


def context(text: str, name: str) -> list[str]:
    body = text.split(f"[{name}]\n", 1)[1]
    return body.split("\n\n", 1)[0].splitlines()


def test_a_line_with_a_calendar_decides_after_answer_and_before_the_notice(tmp_path):
    directory = flows(tmp_path, calendars=CALENDAR, site=line(
        "calendar: city", "closed_prompt: closed", "holiday_prompt: holiday",
        "notice: closed") + line(did="0570000600").removeprefix("lines:\n")
        + QUEUES_AND_PROMPTS)
    text = rendered(tmp_path, directory, datetime(2026, 12, 31, 15, 30, tzinfo=UTC))
    steps = context(text, "line-0570000500")
    apps = [re.sub(r"^(exten => \w+,1| same => n(\(\w+\))?),", "", s).split("(")[0]
            for s in steps]
    s_end = apps.index("Hangup") + 1
    assert apps[:s_end] == ["Set", "Set", "Set", "Set", "UserEvent", "QueueLog", "NoOp",
                            "NoOp", "Answer", "Gosub", "Gosub", "Playback", "NoOp", "Set",
                            "NoOp", "Gosub", "Hangup"]
    assert steps[9] == " same => n,Gosub(mdg-emergency,s,1(0570000500))"
    assert steps[10] == " same => n,Gosub(calendar,1)"
    calendar = [step for step in steps[s_end:] if not step.startswith(";")]
    assert calendar[0] == "exten => calendar,1,Gosub(cal-city,s,1)"
    assert " same => n,UserEvent(MadoguchiCalendar,Status: ${CALSTATUS})" in calendar
    assert " same => n(closed),Playback(/sounds/closed)" in calendar
    assert " same => n(holiday),Playback(/sounds/holiday)" in calendar
    assert " same => n(year_end),Playback(/sounds/closed)" in calendar
    assert " same => n(after_service),Playback(/sounds/closed)" in calendar
    assert calendar[-1] == " same => n(open),Return()"
    # the other line has no calendar, but the same priorities up to the queue
    other = context(text, "line-0570000600")
    assert len(other) == s_end and other[10] == " same => n,NoOp(no calendar: always open)"
    # the calendar's subroutine, with the public holidays of this year and the next two
    # in Tokyo (15:30 UTC on 12/31 is already 2027 in Tokyo)
    assert "[cal-city]" in text
    assert "20270101]?holiday)  ; 元日" in text and "20290101]?holiday)  ; 元日" in text
    assert "20300101]" not in text and "20260101]" not in text


def test_calendar_years_follow_tokyo():
    assert calendar_years(datetime(2026, 12, 31, 14, 59, tzinfo=UTC)) == \
        range(2026, 2029)
    assert calendar_years(datetime(2026, 12, 31, 15, 0, tzinfo=UTC)) == \
        range(2027, 2030)  # 2027-01-01 00:00 in Tokyo


def test_live_changes_that_need_a_restart_are_named(tmp_path):
    before = load_site(flows(tmp_path, site=line() + QUEUES_AND_PROMPTS))
    after = load_site(flows(tmp_path, site=line("calendar: city", "closed_prompt: closed")
                           + QUEUES_AND_PROMPTS.replace("  - name: main\n", "  - name: main\n"
                                                        "    wrapup_seconds: 30\n"
                                                        "  - name: tax\n") + CALENDAR))
    assert live_change_problems(before, after) == [
        "queue 'tax' is new: restart the stack (acd up) to apply it",
        "queue 'main': wrapup_seconds changed from 60 to 30: restart the stack (acd up) to "
        "apply it"]
    calendar_only = load_site(flows(tmp_path, site=line("calendar: city",
                                                        "closed_prompt: closed")
                                    + QUEUES_AND_PROMPTS + CALENDAR))
    assert live_change_problems(before, calendar_only) == []


def test_a_file_and_the_calendars_it_uses_are_validated_together(capsys):
    examples = PROJECT_DIR / "ivr_flows" / "examples"
    assert main(["ivr", "validate", str(examples / "kamakura.yaml")]) == 1
    assert "acd ivr validate FILE calendars.yaml" in capsys.readouterr().err
    assert main(["ivr", "validate", str(examples / "kamakura.yaml"),
                 str(examples / "calendars.yaml")]) == 0
    assert "ok (2 lines" in capsys.readouterr().out
