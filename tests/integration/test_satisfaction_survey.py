"""The caller satisfaction survey on a real Asterisk: once the operator (a SIPp agent)
hangs up, the caller hears the question and answers with a key (RFC 2833 DTMF). Three
callers: one presses 5, one 3, one hangs up without answering. The report shows 80 of
100 (the mean 4 scaled), 2 responses, a response rate of 2/3, per line and per operator;
the caller who hung up counts as no response, never as a low score."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from acd.domain.clock import JST, day_range
from tests.conftest import TEST_PORTS, stack_env
from tests.support.flows import write_flows
from tests.support.sipp import SippAgent, dial, free_udp_port, register_agents
from tests.support.stack import RunningStack
from tests.support.tables import kpis_on_both_databases, record_for

pytestmark = pytest.mark.integration

LINE = "0467000930"
AGENT = "3901"


def flows_yaml() -> str:
    return textwrap.dedent(f"""\
        lines:
          - did: "{LINE}"
            name: 市民相談
            queue: desk
            recording: "off"
            survey: {{questions: [satisfaction], thanks_prompt: thanks}}
        queues:
          - {{name: desk, max_wait: 30, wrapup_seconds: 0}}
        prompts:
          satisfaction: {{text: {{ja: 本日の対応の満足度を、1から5の数字で押してください。}}}}
          thanks: {{text: {{ja: ご協力ありがとうございました。}}}}
        """)


async def test_three_callers_answer_five_three_and_nothing(state_dir: Path,
                                                          postgres_admin_url: str):
    url = f"sqlite+aiosqlite:///{state_dir}/db.sqlite"
    flows = state_dir / "flows"
    write_flows(flows, flows_yaml())
    sipp = state_dir / "sipp"
    async with RunningStack(stack_env(state_dir, url, MADOGUCHI_FLOWS_DIR=str(flows)),
                            state_dir, TEST_PORTS["gateway_port"]) as stack:
        passwords = await stack.add_agents([AGENT], queues=("desk",))
        port = free_udp_port()
        await register_agents(list(passwords.items()), TEST_PORTS["sip_port"], {AGENT: port},
                              sipp)
        # the operator talks 2 s and hangs up; the question then plays (~4 s) and waits
        # 6 s for the key: a key 6.5 s after the answer falls inside
        async with SippAgent(AGENT, port, sipp, ring_seconds=0.3, talk_seconds=2.0):
            five = await dial(LINE, state_dir, "five", [(6.5, "5")], wait=20)
            three = await dial(LINE, state_dir, "three", [(6.5, "3")], wait=20)
            gone = await dial(LINE, state_dir, "gone", [], wait=4.5, hang_up=True)
        for result in (five, three):
            assert result.successful == 1 and result.remote_hangups == 1, result.describe()
        assert gone.successful == 1 and gone.local_hangups == 1, gone.describe()

        records = await record_for(url, LINE, 3)
        assert [(r["outcome"], r["agent"], r["survey_offered"], r["survey_answer_sum"],
                 r["survey_answer_count"]) for r in records] == [
            ("answered", AGENT, True, 5, 1), ("answered", AGENT, True, 3, 1),
            ("answered", AGENT, True, 0, 0)]
        day = datetime.fromtimestamp(records[0]["entered_at"], JST).date()
        report = await stack.api("GET", f"/api/reports/daily?date={day}&format=json")
        figures = report["figures"]
        assert figures["satisfaction"] == pytest.approx(80.0)
        assert figures["survey_responses"] == 2
        assert figures["survey_response_rate"] == pytest.approx(100 * 2 / 3)

    # the same rows on PostgreSQL give the same figures
    for kpis in await kpis_on_both_databases(url, postgres_admin_url, *day_range(day)):
        survey = kpis.agents[AGENT].survey  # per operator
        assert (survey.satisfaction, survey.survey_responses, survey.survey_offered) == \
            (80.0, 2, 3)
        assert kpis.by_line[LINE].satisfaction == pytest.approx(80.0)  # per line
        assert kpis.overall.survey_response_rate == pytest.approx(100 * 2 / 3)
    print(f"\nsurvey: answers 5 and 3 and one hang-up -> satisfaction "
          f"{figures['satisfaction']:.0f}/100, {figures['survey_responses']} responses, "
          f"response rate {figures['survey_response_rate']:.1f} %")
