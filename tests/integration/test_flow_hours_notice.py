"""A line whose IVR flow decides the opening hours (a calendar node) plays its recording
notice and starts recording only once the calendar says open: an after-hours caller hears
the closed message and not the notice, and leaves no recording; an open-hours caller hears
the notice, reaches the operator and is recorded."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from acd.domain.clock import TOKYO
from tests.conftest import TEST_PORTS, stack_env
from tests.support.rtp_sniff import RtpSniffer, best_match_in, synthesized_prompt
from tests.support.sipp import SippAgent, free_udp_port, register_agents, run_callers
from tests.support.stack import RunningStack
from tests.support.tables import record_for

pytestmark = pytest.mark.integration

CLOSED_LINE, OPEN_LINE = "0467000810", "0467000820"
NOTICE, CLOSED = "この通話は録音されます。", "本日の受付は終了しました。"


def flows_yaml() -> str:
    today = datetime.now(TOKYO).date()
    return textwrap.dedent(f"""\
        lines:
          - {{did: "{CLOSED_LINE}", name: 時間外, flow: shut, recording: always, notice: notice}}
          - {{did: "{OPEN_LINE}", name: 受付中, flow: open, recording: always, notice: notice}}
        queues:
          - {{name: desk, max_wait: 30, wrapup_seconds: 0}}
        calendars:
          - name: closed-today
            hours: {{daily: ["00:00-24:00"]}}
            holidays: open
            year_end_closure: false
            closed_dates: [{today}, {today + timedelta(days=1)}]
          - name: always-open
            hours: {{daily: ["00:00-24:00"]}}
            holidays: open
            year_end_closure: false
        flows:
          shut:
            start: hours
            nodes:
              hours: {{type: calendar, calendar: closed-today, open: desk, closed: bye}}
              desk: {{type: queue, queue: desk}}
              bye: {{type: hangup, prompts: [closed]}}
          open:
            start: hours
            nodes:
              hours: {{type: calendar, calendar: always-open, open: desk, closed: bye}}
              desk: {{type: queue, queue: desk}}
              bye: {{type: hangup, prompts: [closed]}}
        prompts:
          notice: {{text: {{ja: {NOTICE}}}}}
          closed: {{text: {{ja: {CLOSED}}}}}
        """)


async def test_the_notice_and_the_recording_wait_for_the_flows_calendar(state_dir: Path):
    flows = state_dir / "flows"
    flows.mkdir()
    (flows / "site.yaml").write_text(flows_yaml(), encoding="utf-8")
    url = f"sqlite+aiosqlite:///{state_dir}/db.sqlite"
    sipp = state_dir / "sipp"
    async with RunningStack(stack_env(state_dir, url, MADOGUCHI_FLOWS_DIR=str(flows)),
                            state_dir, TEST_PORTS["gateway_port"]) as stack:
        passwords = await stack.add_agents(["8101"], queues=("desk",))
        contact = {"8101": free_udp_port()}
        await register_agents(list(passwords.items()), TEST_PORTS["sip_port"], contact, sipp)
        # the prompts' first 80 %: a call hung up after its last prompt may lose the tail
        notice, closed = (p[: len(p) * 4 // 5] for p in (synthesized_prompt(state_dir, t)
                                                          for t in (NOTICE, CLOSED)))
        with RtpSniffer("127.0.0.2") as sniffer:
            shut = await run_callers(CLOSED_LINE, TEST_PORTS["sip_port"], 1, 1.0,
                                     sipp / "closed", caller_start="0311112222",
                                     max_seconds=40)
            heard_closed = sniffer.streams()
            sniffer.packets.clear()
            async with SippAgent("8101", contact["8101"], sipp, talk_seconds=4):
                served = await run_callers(OPEN_LINE, TEST_PORTS["sip_port"], 1, 1.0,
                                           sipp / "open", caller_start="0311113333",
                                           max_seconds=40)
            heard_open = sniffer.streams()
    shut.check()
    served.check()
    assert best_match_in(heard_closed, closed) > 0.9
    assert best_match_in(heard_closed, notice) < 0.5  # no notice for a closed line
    assert best_match_in(heard_open, notice) > 0.9

    [after_hours] = await record_for(url, CLOSED_LINE)
    assert (after_hours["outcome"], after_hours["recording_file"]) == ("after_hours", None)
    assert not list((state_dir / "recordings").rglob(f"{after_hours['uniqueid']}*"))
    [answered] = await record_for(url, OPEN_LINE)
    assert answered["outcome"] == "answered" and answered["recording_file"]
