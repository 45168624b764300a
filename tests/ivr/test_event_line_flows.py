"""Event-information lines in the flows: `events:` instead of `queue:`, the intro and
"no events today" prompts, at least 10 `event_statuses`, each error with file:line:column;
the rendered dialplan reads today's events from the global variables the controller
pushes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from acd.adapters.asterisk.config import render
from acd.adapters.asterisk.process import AsteriskInstallation
from acd.adapters.secrets import SecretStore
from acd.ivr.loader import FlowError, load_site
from acd.ivr.models import Line
from acd.settings import PROJECT_DIR, Settings
from tests.support.flows import STATUS_IDS, flows, site_text


def problems(directory: Path) -> list[str]:
    with pytest.raises(FlowError) as caught:
        load_site(directory)
    return caught.value.problems


def test_an_event_line_with_ten_statuses_loads(tmp_path):
    site = load_site(flows(tmp_path, site_text()))
    [line] = site.lines
    assert (line.queue, line.events, line.is_event_line) == (None, "city-events", True)
    assert list(site.event_statuses) == STATUS_IDS
    assert site.event_lines() == {"city-events": line}


def test_the_shipped_site_has_an_event_line_with_at_least_ten_statuses():
    site = load_site(PROJECT_DIR / "ivr_flows")
    assert "city-events" in site.event_lines()
    assert len(site.event_statuses) >= 10
    assert {"held", "cancelled", "next_day", "postponed", "venue_changed", "time_changed",
            "full", "registration_closed", "rain_or_shine", "undecided",
            "partly_cancelled"} <= set(site.event_statuses)


def test_fewer_than_ten_statuses_is_an_error_at_the_line(tmp_path):
    directory = flows(tmp_path, site_text(STATUS_IDS[:9]))
    assert problems(directory) == [(
        f"{directory / 'site.yaml'}:4:13: an event line needs at least 10 statuses under "
        "'event_statuses:' (status id: prompt), there are 9")]


def test_a_status_with_an_unknown_prompt_is_an_error(tmp_path):
    directory = flows(tmp_path, site_text(status_prompt="nosuch"))
    found = problems(directory)
    assert len(found) == 10
    assert found[0].startswith(f"{directory / 'site.yaml'}:10:9: unknown prompt 'nosuch'")


def test_a_bad_status_id_is_an_error(tmp_path):
    directory = flows(tmp_path, site_text(STATUS_IDS[:9] + ["開催"]))
    [problem] = problems(directory)
    assert problem.startswith(f"{directory / 'site.yaml'}:19:3: event_statuses.開催: ")
    assert "should match pattern" in problem


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"queue": "main", "events": "x", "intro_prompt": "i", "no_events_prompt": "n"},
     "exactly one of 'queue'"),
    ({}, "exactly one of 'queue'"),
    ({"events": "x", "intro_prompt": "i"}, "needs 'no_events_prompt'"),
    ({"events": "x", "intro_prompt": "i", "no_events_prompt": "n", "recording": "always"},
     "an event line is not recorded"),
    ({"events": "x", "intro_prompt": "i", "no_events_prompt": "n", "calendar": "c"},
     "'calendar' is not used on an event line"),
    ({"queue": "main", "recording": "off", "intro_prompt": "i"},
     "'intro_prompt' is only for an event line"),
])
def test_line_kinds_are_checked(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        Line(did="0467000800", name="x", **kwargs)


def test_an_event_line_needs_no_notice_and_is_not_recorded():
    line = Line(did="0467000800", name="x", events="x", intro_prompt="i",
                no_events_prompt="n")
    assert line.notice is None


def test_the_dialplan_of_an_event_line_reads_the_pushed_globals_and_announces_each_item(tmp_path):
    directory = flows(tmp_path, site_text())
    site = load_site(directory)
    prompts = {name: {"ja": f"/sounds/{name}"} for name in site.prompts}
    settings = Settings(state_dir=tmp_path / "state", flows_dir=directory)
    files = render(settings, site, AsteriskInstallation(None, "Asterisk 22.0.0", "/m", "/d"),
                   SecretStore(tmp_path / "secrets.json"), prompts, [],
                   now=datetime(2026, 11, 22, tzinfo=UTC))
    text = files["extensions.conf"]
    body = text.split("[line-0467000800]\n", 1)[1].split("\n\n", 1)[0]
    assert "UserEvent(MadoguchiEventLineEnter,Line: 0467000800,Events: city-events," in body
    assert "Set(EVFAM=EV_city-events_${STRFTIME(${EPOCH},Asia/Tokyo,%Y%m%d)}_)" in body
    assert "Set(EVCOUNT=${GLOBAL(${EVFAM}count)})" in body
    assert "Playback(/sounds/intro)" in body and "Playback(/sounds/none_today)" in body
    assert "Playback(${EVTITLE})" in body and "Playback(${EVSTATUS})" in body
    assert "UserEvent(MadoguchiEventItem,Events: city-events,Position: ${EVN}," in body
    assert "Queue(" not in body and "MixMonitor" not in body
    assert "exten => 0467000800,1,Goto(line-0467000800,s,1)" in text
    # Setvar needs only the 'call' write class: the controller's login has no 'command'
    manager = files["manager.conf"]
    assert "\nwrite = system,call,agent,user,reporting,originate\n" in manager
