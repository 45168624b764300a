"""The KPI report's every figure equals what the traffic sent makes it, on a real Asterisk.

One `acd up`, SIPp callers from the carrier address and one SIPp agent. The mix, each
call's class decided by this test's own schedule (never read back from the product's log):

- V  the line's queue has nobody logged in: no-agents message, voicemail; the caller
     speaks (SIPp's audio)                                           -> overflow, voicemail
- H  a line whose service period has ended                           -> after hours
- E  the event-information line (no events today)                    -> counted apart
- M  the menu line: the caller hangs up during the menu              -> abandoned in the menu
- Q1-Q3  the agent is ready: answered at once                        -> answered quickly
- C  the agent is away: the caller hears the congestion message (L s), then the agent
     becomes ready L + 4 s after the call: answered about L + 5 s after arriving but
     after ~5 s in the queue                       -> quick (the message is not waiting)
- S  the same, the agent ready L + 14 s after the call: ~14 s in the queue   -> not quick
- B  the agent away: the caller hangs up L + 5 s after the answer, ~5 s in the queue
                                                                     -> abandoned in queue
- O  another queue (max wait 10 s) of the same away agent: the caller waits it out and
     says nothing after the overflow's voicemail prompt              -> overflow
Dispositions through the HTTP API: Q1 完了/税金, Q2 完了/子育て + complaint, Q3 転送/税金,
C その他 (no category), S エスカレーション/子育て + escalation.

The report (HTTP JSON, and computed again on PostgreSQL from a copy of the rows) must give
exactly these counts and rates; times (talk, waits, away) within the test's own clock.

Ports: TEST_PORTS (``MDG_PORT_BASE`` moves them). About 2 minutes.
"""

from __future__ import annotations

import asyncio
import textwrap
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from acd.adapters.db.engine import make_engine
from acd.adapters.db.schema import call_records
from acd.domain.clock import JST, day_range
from acd.reports.render import SUMMARY, value
from tests.conftest import TEST_PORTS, stack_env
from tests.support.flows import write_flows
from tests.support.rtp_sniff import prompt_seconds
from tests.support.sipp import SippAgent, free_udp_port, register_agents, run_callers
from tests.support.stack import RunningStack
from tests.support.tables import kpis_on_both_databases

pytestmark = pytest.mark.integration
SIP = TEST_PORTS["sip_port"]
LINE, CLOSED, EVENTS, MENU, SHORT = ("0570000710", "0570000711", "0570000712", "0570000713",
                                     "0570000714")
AGENT = "3701"
CONGESTION = ("ただいま電話が大変混み合っております。このままお待ちいただくか、"
              "しばらくたってからおかけ直しください。")
STATUSES = ["held", "cancelled", "next_day", "postponed", "venue_changed", "time_changed",
            "full", "registration_closed", "rain_or_shine", "undecided"]


def flows_yaml() -> str:
    statuses = "".join(f"  {s}: status\n" for s in STATUSES)
    return textwrap.dedent(f"""\
        lines:
          - {{did: "{LINE}", name: 総合案内, queue: kpi, recording: "off"}}
          - {{did: "{SHORT}", name: 短時間, queue: short, recording: "off"}}
          - did: "{CLOSED}"
            name: 終了した回線
            queue: kpi
            recording: "off"
            calendar: ended
            closed_prompt: closed
          - did: "{EVENTS}"
            name: イベント案内
            events: city-events
            intro_prompt: intro
            no_events_prompt: none_today
          - {{did: "{MENU}", name: 代表, flow: main, recording: "off"}}
        queues:
          - name: kpi
            ring_timeout: 10
            max_wait: 60
            wrapup_seconds: 60
            congestion_prompt: congestion
            no_agents_prompt: nobody
            overflow: {{to: voicemail, prompt: leave_message}}
          - name: short
            ring_timeout: 10
            max_wait: 10
            wrapup_seconds: 60
            congestion_prompt: congestion
            no_agents_prompt: nobody
            overflow: {{to: voicemail, prompt: leave_message}}
        calendars:
          - name: ended
            hours: {{daily: ["00:00-24:00"]}}
            holidays: open
            year_end_closure: false
            service_period: {{start: 2020-04-01, end: 2021-03-31}}
        flows:
          main:
            start: menu
            nodes:
              menu:
                type: menu
                prompt: menu
                choices: {{"1": kpi}}
                timeout: 15
                retries: 0
                default: kpi
              kpi: {{type: queue, queue: kpi}}
        event_statuses:
        """) + statuses + textwrap.dedent(f"""\
        prompts:
          congestion: {{text: {{ja: {CONGESTION}}}}}
          nobody: {{text: {{ja: 担当者がおりません。}}}}
          leave_message: {{text: {{ja: どうぞ。}}}}
          closed: {{text: {{ja: この番号の受付は終了しました。}}}}
          menu: {{text: {{ja: ご用件の番号を押してください。}}}}
          intro: {{text: {{ja: 本日のイベントです。}}}}
          none_today: {{text: {{ja: 本日のイベントはありません。}}}}
          status: {{text: {{ja: 状態です。}}}}
        """)


class Agent:
    """The test's view of its one agent: state changes through the API, away time by reason
    measured on the test's own clock."""

    def __init__(self, stack: RunningStack) -> None:
        self.stack = stack
        self.away: dict[str, float] = {}
        self._away_since: tuple[str, float] | None = None

    async def state(self) -> dict:
        return next(a for a in await self.stack.api("GET", "/api/agents") if a["id"] == AGENT)

    async def go_away(self, reason: str) -> None:
        await self.stack.api("POST", f"/api/agents/{AGENT}/away", {"reason": reason})
        self._away_since = (reason, time.time())

    def _back(self) -> None:
        reason, since = self._away_since
        self.away[reason] = self.away.get(reason, 0.0) + time.time() - since
        self._away_since = None

    async def ready(self) -> None:
        await self.stack.api("POST", f"/api/agents/{AGENT}/ready")
        self._back()

    async def logout(self) -> None:
        await self.stack.api("POST", f"/api/agents/{AGENT}/logout")
        if self._away_since:
            self._back()

    async def dispose(self, outcome: str, category: str | None, *, complaint: bool = False,
                      escalation: bool = False, faq: bool = True) -> str:
        """The disposition of the call the agent is wrapping up; its uniqueid."""
        for _ in range(300):  # the call still to be offered, talked and ended: ample time
            state = await self.state()
            if state["status"] == "wrapup":
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"agent not in wrap-up: {state}")
        body = {"uniqueid": state["call"], "outcome": outcome, "category": category,
                "complaint": complaint, "escalation": escalation, "note": "テスト",
                "faq_prescribed": faq}
        if outcome == "エスカレーション":  # the city calls back
            body["callback"] = {"name": "山田", "number": "0312345678",
                                "question": "児童手当の支給日", "department": "子育て支援課"}
        await self.stack.api("POST", f"/api/agents/{AGENT}/disposition", body)
        return state["call"]


def caller(did: str, workdir: Path, number: str, **options):
    return run_callers(did, SIP, 1, 1.0, workdir / number, caller_start=number,
                       max_seconds=options.pop("max_seconds", 60), **options)


async def test_every_figure_of_the_report_equals_the_traffic_sent(state_dir: Path,
                                                                   postgres_admin_url: str):
    url = f"sqlite+aiosqlite:///{state_dir}/db.sqlite"
    flows = state_dir / "flows"
    write_flows(flows, flows_yaml())
    sipp = state_dir / "sipp"
    env = stack_env(state_dir, url, MADOGUCHI_FLOWS_DIR=str(flows))
    async with RunningStack(env, state_dir, TEST_PORTS["gateway_port"]) as stack:
        congestion = prompt_seconds(state_dir, CONGESTION)
        assert congestion >= 6.5, f"the congestion message must be long: {congestion:.1f} s"
        started = time.time()

        # --- nobody logged in: voicemail; after hours; event line; menu abandoned
        results = await asyncio.gather(
            caller(LINE, sipp, "0300000001", hangup_after=12),  # V
            caller(CLOSED, sipp, "0300000002"),  # H
            caller(EVENTS, sipp, "0300000003"),  # E
            caller(MENU, sipp, "0300000004", hangup_after=3))  # M
        for result in results:
            assert result.successful == 1, result.describe()

        # --- the agent logs in; three calls answered at once
        passwords = await stack.add_agents([AGENT], queues=("kpi", "short"))
        port = free_udp_port()
        await register_agents(list(passwords.items()), SIP, {AGENT: port}, sipp)
        sipp_agent = SippAgent(AGENT, port, sipp, talk_seconds=2.0)
        await sipp_agent.start()
        agent = Agent(stack)
        try:
            for number, disposition in (("0300000011", ("完了", "税金", {})),
                                        ("0300000012", ("完了", "子育て", {"complaint": True})),
                                        # transferred: the answer was not found
                                        ("0300000013", ("転送", "税金", {"faq": False}))):
                placed = asyncio.create_task(caller(LINE, sipp, number))
                outcome, category, flags = disposition
                await agent.dispose(outcome, category, **flags)
                assert (await placed).successful == 1

            # --- congestion: answered after the message, quickly (C), then slowly (S)
            for number, ready_after, disposition in (
                    ("0300000021", congestion + 4, ("その他", None, {"faq": False})),
                    ("0300000022", congestion + 14,
                     ("エスカレーション", "子育て", {"escalation": True}))):
                await agent.go_away("break" if number.endswith("1") else "meeting")
                placed = asyncio.create_task(caller(LINE, sipp, number))
                await asyncio.sleep(ready_after)
                await agent.ready()
                outcome, category, flags = disposition
                await agent.dispose(outcome, category, **flags)
                assert (await placed).successful == 1

            # --- the agent away: abandoned in the queue (B), overflow after max wait (O)
            await agent.go_away("break")
            results = await asyncio.gather(
                caller(LINE, sipp, "0300000031", hangup_after=congestion + 5),  # B
                caller(SHORT, sipp, "0300000032", hangup_after=congestion + 20))  # O
            for result in results:
                assert result.successful == 1, result.describe()
            await agent.logout()
        finally:
            await sipp_agent.stop()
        finished = time.time()

        # every call has its record (the last ones are written as their channels close)
        engine = make_engine(url)
        try:
            for _ in range(50):
                async with engine.connect() as conn:
                    n = len((await conn.execute(select(call_records.c.uniqueid))).all())
                if n == 11:
                    break
                await asyncio.sleep(0.2)
        finally:
            await engine.dispose()
        assert n == 11
        # the days of the test (it may run over midnight)
        first, last = (datetime.fromtimestamp(t, JST).date() for t in (started, time.time()))
        report = await stack.api("GET", f"/api/reports/range?from={first}&to={last}"
                                 "&format=json")
        assert not report["empty"]
        assert report["by_category"] == {"税金": 2, "子育て": 2, "": 1}
        check_figures(report["figures"], congestion)
        # the service level per half-hour: the answered calls of each interval add up,
        # and each interval's level is its own quick share
        halves = report["by_half_hour"].values()
        assert sum(h["answered"] for h in halves) == 5
        assert sum(h["quick_answered"] for h in halves) == 4
        for h in halves:
            assert h["service_level"] == (None if not h["answered"] else pytest.approx(
                100 * h["quick_answered"] / h["answered"]))
        assert report["abandoned_waits"] == ABANDONED_WAITS
        assert [(c["agent"], c["category"], c["note"]) for c in report["complaints"]] == [
            (AGENT, "子育て", "テスト")]  # Q2

    # the same rows on PostgreSQL give the same report
    for k in await kpis_on_both_databases(url, postgres_admin_url, day_range(first)[0],
                                          day_range(last)[1]):
        check_figures({key: value(k, key) for key, *_ in SUMMARY}, congestion)
        assert k.by_category == {"税金": 2, "子育て": 2, None: 1}
        assert sum(f.offered for f in k.by_hour.values()) == 9
        assert [(e.outcome, e.category, e.escalation) for e in k.escalations] == [
            ("エスカレーション", "子育て", True)]
        assert [(c.outcome, c.category) for c in k.complaint_calls] == [("完了", "子育て")]
        assert k.overall.abandoned_waits == ABANDONED_WAITS
        assert sum(f.quick_answered for f in k.by_half_hour.values()) == 4
        [a] = k.agents.values()
        assert (a.agent, a.calls) == (AGENT, 5)
        assert a.talk_seconds == pytest.approx(5 * 2.0, abs=2.5)
        assert set(a.away_seconds) == {"break", "meeting"}
        for reason, seconds in agent.away.items():
            assert a.away_seconds[reason] == pytest.approx(seconds, abs=1.5), reason
        assert a.logged_in_seconds < finished - started
        assert 0 < a.occupancy < 100
    assert stack.returncode == 0


#: Counted from the mix above.
EXPECTED = {
    "offered": 9,  # V M Q1 Q2 Q3 C S B O
    "after_hours": 1, "event_info": 1,
    "answered": 5, "quick_answered": 4,  # Q1 Q2 Q3 C
    "abandoned": 2, "abandoned_in_queue": 1, "abandoned_in_menu": 1,
    "overflow": 2, "voicemail": 1,
    "dispositions": 5, "completed": 2, "handed_over": 0, "transferred": 1, "escalated": 1,
    "other": 1, "complaints": 1,
    "faq_prescribed": 3, "faq_followed": 2,  # Q1 Q2 S; Q1 Q2 (S was escalated)
}
#: B waited about 5 s in the queue; M left in the menu (no queue wait: not in the buckets)
ABANDONED_WAITS = {"0_10": 1, "10_30": 0, "30_60": 0, "60_120": 0, "over_120": 0}
RATES = {"answer_rate": 100 * 5 / 9, "quick_answer_rate": 80.0,
         "first_contact_resolution": 50.0,  # 完了 2 / (answered 5 - その他 1)
         "first_response_rate": 100 * 2 / 3,  # FAQ-prescribed 3, handled so 2
         "transfer_rate": 20.0}


def check_figures(figures: dict, congestion: float) -> None:
    """``figures``: the report's summary (key -> value), over HTTP or computed."""
    got = {key: figures[key] for key in EXPECTED}
    assert got == EXPECTED
    for key, rate in RATES.items():
        assert figures[key] == pytest.approx(rate, abs=1e-9), key
    assert figures["unanswered"] == 4
    assert figures["escalation_count"] == 1 and figures["staffing_max"] == 1
    # B waited in the queue from the end of the message until it hung up (~5 s)
    assert 3.0 <= figures["abandoned_mean_wait"] <= 6.0
    assert figures["aht"] == pytest.approx(2.0, abs=1.0)
    assert figures["aht_completed"] == pytest.approx(2.0, abs=1.0)
    # 平均応答時間 and the longest wait (the guidance excluded): Q1-Q3 at once, C after
    # 4 s, S after 14 s (the agent ready again that long after the message)
    assert figures["average_speed_of_answer"] == pytest.approx((4 + 14) / 5, abs=1.0)
    assert figures["longest_wait"] == pytest.approx(14.0, abs=2.0)
