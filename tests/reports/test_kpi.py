"""KPIs from a known synthetic mix (tests/support/kpi_mix.py) written straight into the
database, on SQLite and PostgreSQL. Every expected figure below is counted by hand from the
mix, not by the code."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import insert, text

import acd.adapters.db.migrate
from acd.adapters.db.engine import make_engine
from acd.adapters.db.schema import call_records, dispositions
from acd.domain.clock import JST, day_range
from acd.reports.figures import UnknownLineError, UnknownQueueError
from acd.reports.intervals import intervals_from_events, parse_state_change
from acd.reports.kpi import compute_kpis
from acd.reports.queries import hour_index_sql
from acd.reports.render import render_csv, render_html
from tests.support.kpi_mix import (
    DAY,
    FAR_FUTURE,
    LINE,
    LINE2,
    at,
    disposition,
    record,
    state,
)


def approx(value):
    return pytest.approx(value, abs=1e-9)


async def test_every_figure_of_the_day(engine):
    start, end = day_range(DAY)
    k = await compute_kpis(engine, start, end, None, None, now=FAR_FUTURE)
    o = k.overall
    assert not k.empty
    assert (o.offered, o.after_hours, o.event_info, o.answered) == (12, 2, 1, 8)
    assert o.answer_rate == approx(100 * 8 / 12)
    assert (o.abandoned, o.abandoned_in_queue, o.abandoned_mean_wait) == (2, 1, 30.0)
    assert (o.overflow, o.voicemail) == (2, 1)
    assert o.quick_answered == 6  # A1 A2(10.0) A5 A6 A7 C1; not A3, A4(10.5)
    assert o.quick_answer_rate == approx(75.0)
    # 平均応答時間: the answered calls' waits A1-A7, C1; the longest wait: O1's 600 s
    assert o.average_speed_of_answer == approx((5 + 10 + 45 + 10.5 + 3 + 2 + 8 + 4) / 8)
    assert o.longest_wait == approx(600.0)
    assert k.by_hour[10].longest_wait == approx(30.0)  # B1 (hour 10), not A1/A2
    assert (o.dispositions, o.completed, o.handed_over, o.transferred, o.escalated,
            o.other) == (7, 3, 1, 1, 1, 1)
    assert o.first_contact_resolution == approx(100 * 3 / 7)
    assert (o.faq_prescribed, o.faq_followed) == (7, 5)  # every fixture call: FAQ-prescribed
    assert o.first_response_rate == approx(100 * 5 / 7)
    assert o.transfer_rate == approx(12.5)
    assert o.aht_completed == approx((100 + 60 + 30) / 3)
    assert o.aht_transferred == approx((200 + 300) / 2)
    assert o.aht == approx((100 + 200 + 300 + 50 + 20 + 60 + 40 + 30) / 8)
    assert k.by_category == {"税金": 4, "子育て": 2, None: 1}
    assert k.complaints == 1
    assert [(e.uniqueid, e.agent, e.outcome, e.escalation) for e in k.escalations] == [
        ("A4", "1002", "エスカレーション", True)]

    # by hour (JST)
    assert (k.by_hour[10].offered, k.by_hour[10].answered, k.by_hour[10].abandoned) == (3, 2, 1)
    assert k.by_hour[11].answered == 2 and k.by_hour[11].quick_answered == 0
    assert (k.by_hour[0].after_hours, k.by_hour[0].offered) == (1, 0)
    assert k.by_hour[7].after_hours == 1 and k.by_hour[9].event_info == 1
    assert (k.by_hour[13].overflow, k.by_hour[13].voicemail) == (2, 1)
    assert k.by_hour[23].answered == 1 and k.by_hour[22].calls == 0
    assert sum(f.offered for f in k.by_hour.values()) == 12
    assert list(k.by_day) == [DAY] and k.by_day[DAY].offered == 12
    # by line and queue
    assert (k.by_line[LINE].offered, k.by_line[LINE2].offered) == (11, 1)
    assert (k.by_queue["main"].answered, k.by_queue["tax"].answered) == (7, 1)

    # agents: states from the event log, calls from the records
    a1, a2, a3 = k.agents["1001"], k.agents["1002"], k.agents["1003"]
    assert (a1.logged_in_seconds, a1.on_call_seconds, a1.wrapup_seconds) == (28800, 600, 300)
    assert a1.away_seconds == {"break": 3600} and a1.ready_seconds == 24300
    assert a1.occupancy == approx(100 * 900 / 28800)
    assert (a2.logged_in_seconds, a2.on_call_seconds, a2.wrapup_seconds) == (37800, 1200, 300)
    assert a2.occupancy == approx(100 * 1500 / 37800)
    assert (a3.logged_in_seconds, a3.ready_seconds, a3.away_seconds) == (
        32400, 28800, {"meeting": 3600})
    assert (a1.calls, a2.calls, a3.calls) == (5, 3, 0)
    assert a1.talk_seconds == 100 + 300 + 20 + 40 + 30
    assert k.occupancy == approx(100 * 2400 / 99000)
    # staffing: 2 agents 00-10, 1.5 in 10-11 (1002 leaves 10:30), 1 until 17, then none
    assert k.staffing.max == 2
    assert k.staffing.mean == approx(99000 / (3600 * 17))
    assert (k.staffing_by_hour[3].mean, k.staffing_by_hour[3].max) == (2.0, 2)
    assert (k.staffing_by_hour[9].mean, k.staffing_by_hour[9].max) == (2.0, 2)
    assert (k.staffing_by_hour[10].mean, k.staffing_by_hour[10].max) == (1.5, 2)
    assert (k.staffing_by_hour[16].mean, k.staffing_by_hour[16].max) == (1.0, 1)
    assert (k.staffing_by_hour[17].mean, k.staffing_by_hour[17].max) == (0.0, 0)


async def test_days_split_at_jst_midnight(engine):
    start = datetime(2026, 11, 19, tzinfo=JST)
    end = datetime(2026, 11, 22, tzinfo=JST)
    k = await compute_kpis(engine, start, end, None, None, now=FAR_FUTURE)
    assert list(k.by_day) == [date(2026, 11, 19), DAY, date(2026, 11, 21)]
    previous, day, following = k.by_day.values()
    assert (previous.offered, previous.abandoned) == (1, 1)  # C0 at 23:59:59.5
    assert (day.offered, day.answered) == (12, 8)  # C1 at 23:50
    assert (following.offered, following.answered, following.transferred) == (1, 1, 1)
    assert k.by_hour[23].offered == 2 and k.by_hour[0].offered == 1  # C1+C0, C2
    assert k.overall.offered == 14 and k.overall.aht_transferred == approx((200 + 300 + 90) / 3)
    # a one-day range on the following day sees only C2
    k2 = await compute_kpis(engine, *day_range(DAY + timedelta(days=1)), None, None,
                            now=FAR_FUTURE)
    assert (k2.overall.offered, k2.overall.answered, k2.by_hour[0].answered) == (1, 1, 1)


async def test_line_and_queue_filters(engine):
    k = await compute_kpis(engine, *day_range(DAY), LINE2, None, now=FAR_FUTURE)
    assert (k.overall.offered, k.overall.answered, k.overall.quick_answered,
            k.overall.dispositions) == (1, 1, 1, 0)
    assert k.overall.first_contact_resolution is None  # no disposition: "—", not 0 %
    assert k.overall.first_response_rate is None  # no disposition: no rate
    k = await compute_kpis(engine, *day_range(DAY), LINE, "main", now=FAR_FUTURE)
    assert (k.overall.offered, k.overall.answered, k.overall.after_hours) == (11, 7, 2)
    assert k.by_category == {"税金": 4, "子育て": 2, None: 1}


async def test_empty_range_and_unknown_line(engine):
    k = await compute_kpis(engine, *day_range(date(2026, 10, 1)), None, None, now=FAR_FUTURE)
    assert k.empty and k.overall.offered == 0 and k.overall.answer_rate is None
    assert all(f.calls == 0 for f in k.by_hour.values()) and k.by_category == {}
    # a known line without calls in the range is fine; a configured one too
    k = await compute_kpis(engine, *day_range(date(2026, 10, 1)), LINE, None)
    assert k.empty
    k = await compute_kpis(engine, *day_range(DAY), "0570111111", None,
                           known_lines={"0570111111"})
    assert k.empty
    with pytest.raises(UnknownLineError, match="0570000000"):
        await compute_kpis(engine, *day_range(DAY), "0570000000", None)
    with pytest.raises(UnknownQueueError):
        await compute_kpis(engine, *day_range(DAY), None, "nope")


async def test_csv_with_bom_parses_back_and_html_shows_targets(engine):
    k = await compute_kpis(engine, *day_range(DAY), None, None, now=FAR_FUTURE)
    data = render_csv(k)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    summary = {r[0]: r[1:] for r in rows if len(r) >= 2}
    assert summary["着信件数"][0] == "12"
    assert summary["応答件数"][0] == "8"
    assert summary["応答率"][0] == "66.7"
    assert summary["即応率"][0] == "75.0"
    assert summary["一次完結率"][0] == "42.9"
    assert summary["転送率"][0] == "12.5"
    assert summary["放棄呼"][0] == "2" and summary["あふれ呼"][0] == "2"
    english = render_csv(k, lang="en").decode("utf-8-sig")
    assert "Answer rate" in english and "応答率" not in english

    html = render_html(k, "ja").decode()
    assert "応答率" in html and "≥ 90" in html
    assert 'class="missed"' in html and 'class="met"' in html  # 66.7 < 90; FCR 42.9 ≥ 40
    assert "未達" in html and "達成" in html
    assert "着信なし" not in html
    empty = await compute_kpis(engine, *day_range(date(2026, 10, 1)), None, None)
    assert "着信なし" in render_html(empty, "ja").decode()
    assert "no calls" in render_html(empty, "en").decode()
    assert "着信なし" in render_csv(empty).decode("utf-8-sig")


def test_agent_intervals_from_payloads_in_any_json_layout():

    t0 = at(9, 0)
    controller = [state(t0, "1001", "ready", "logged_out"),
                  state(t0 + 60, "1001", "away", "ready", "会議"),
                  state(t0 + 120, "1001", "logged_out", "away"),
                  state(t0 + 200, "1001", "ready", "logged_out")]
    other_layout = [{"occurred_at": r["occurred_at"], "payload": json.dumps(
        dict(reversed(list(json.loads(r["payload"]).items()))))} for r in controller]
    for rows in (controller, other_layout):
        changes = [parse_state_change(r["occurred_at"], r["payload"]) for r in rows]
        assert [(i.status, i.reason, i.started_at - t0, i.ended_at and i.ended_at - t0,
                 i.login_at - t0) for i in intervals_from_events(changes)] == [
            ("ready", None, 0, 60, 0), ("away", "会議", 60, 120, 0),
            ("ready", None, 200, None, 200)]
    # a log that starts in mid-session: the first interval starts at midnight JST
    mid = intervals_from_events([parse_state_change(t0, state(t0, "1003", "away", "ready",
                                                                 "meeting")["payload"])])
    assert [(i.status, i.reason, i.started_at, i.ended_at, i.login_at) for i in mid] == [
        ("ready", None, at(0, 0), t0, at(0, 0)), ("away", "meeting", t0, None, at(0, 0))]
    # a change after a logout that claims otherwise opens a session at that change
    late = intervals_from_events([parse_state_change(r["occurred_at"], r["payload"]) for r in (
        state(t0, "1005", "ready", "logged_out"), state(t0 + 60, "1005", "logged_out", "ready"),
        state(t0 + 600, "1005", "ready", "wrapup"))])
    assert [(i.status, i.started_at - t0, i.login_at - t0) for i in late] == [
        ("ready", 0, 0), ("ready", 600, 600)]


async def test_hour_floor_sql_is_exact_on_both_databases(database_url):
    """CAST rounds on PostgreSQL and truncates on SQLite: the floor must hold on both,
    just before, at and just after an hour boundary."""


    engine = make_engine(database_url)
    boundary = at(11, 0)
    expression = str(hour_index_sql("t"))
    try:
        async with engine.connect() as conn:
            for offset, expected_hour in ((-0.4, 10), (-0.6, 10), (-1e-3, 10), (0.0, 11),
                                          (0.5, 11), (3599.5, 11), (3599.999, 11)):
                value = (await conn.execute(text(
                    f"SELECT {expression} FROM (SELECT CAST(:t AS DOUBLE PRECISION) AS t) AS x"),
                    {"t": boundary + offset})).scalar_one()
                assert int(value) % 24 == expected_hour, offset
    finally:
        await engine.dispose()


async def test_first_response_counts_only_calls_whose_handling_the_faq_prescribes(
        database_url):
    """一次対応率 (KPI.md): handled as the FAQ prescribes / FAQ-prescribed; a transfer made
    because the operator could not find the answer is not FAQ-prescribed."""
    await acd.adapters.db.migrate.upgrade(database_url)
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(call_records), [
                record(f"F{i}", "answered", at(10, i), wait=1.0, talk=30.0, agent="1001")
                for i in range(5)])
            await conn.execute(insert(dispositions), [
                disposition("F0", "1001", "完了", "税金"),
                disposition("F1", "1001", "転送", "税金"),
                disposition("F2", "1001", "転送", "税金", faq=False),  # could not find it
                disposition("F3", "1001", "エスカレーション", "税金", escalation=True),
                disposition("F4", "1001", "その他", None, faq=False)])
        start, end = day_range(DAY)
        o = (await compute_kpis(engine, start, end, None, None, now=FAR_FUTURE)).overall
    finally:
        await engine.dispose()
    assert (o.dispositions, o.faq_prescribed, o.faq_followed) == (5, 3, 2)
    assert o.first_response_rate == approx(100 * 2 / 3)
