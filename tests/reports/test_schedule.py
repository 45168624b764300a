"""What is due when (pure, fixed clocks), and the scheduler writing and listing the files."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import acd.adapters.db.migrate
from acd.adapters.db.engine import make_engine
from acd.domain.clock import JST
from acd.reports.schedule import (
    daily,
    due_reports,
    first_business_day,
    monthly,
    next_due_at,
    weekly,
)
from acd.reports.scheduler import ReportScheduler, find_file, list_files
from agent_gateway.auth.middleware import token_only
from agent_gateway.http import error_middleware
from agent_gateway.keys import API_TOKEN, DATABASE, REPORTS_DIR
from agent_gateway.routes.reports import setup_report_routes


def jst(*args) -> datetime:
    return datetime(*args, tzinfo=JST)


def test_daily_is_written_after_the_day_and_before_0930():
    due = daily(date(2026, 11, 20))
    assert due.name == "kpi-daily-2026-11-20"
    assert due.due_at == jst(2026, 11, 21, 1, 0)
    assert due.due_at < jst(2026, 11, 21, 9, 30)
    assert [d.name for d in due_reports(jst(2026, 11, 21, 0, 59), (), jst(2026, 11, 20))] == []
    assert [d.name for d in due_reports(jst(2026, 11, 21, 1, 0), (), jst(2026, 11, 20))] == [
        "kpi-daily-2026-11-20"]
    # written already: nothing more to do
    assert due_reports(jst(2026, 11, 21, 9, 0), {"kpi-daily-2026-11-20"},
                       jst(2026, 11, 20)) == []


@pytest.mark.parametrize(("monday", "first_business"), [
    (date(2026, 11, 9), date(2026, 11, 16)),   # an ordinary Monday
    (date(2026, 11, 16), date(2026, 11, 24)),  # Mon 11/23 勤労感謝の日 -> Tuesday
    (date(2026, 4, 27), date(2026, 5, 7)),     # 5/4 みどりの日, 5/5 こどもの日, 5/6 振替休日
    (date(2026, 12, 21), date(2026, 12, 28)),  # 12/28 is still open
    (date(2026, 12, 28), date(2027, 1, 4)),    # the year-end closure ends on 1/3
    (date(2027, 9, 13), date(2027, 9, 21)),    # 9/20 敬老の日
])
def test_weekly_on_the_first_business_day_of_the_next_week(monday, first_business):
    due = weekly(monday)
    assert due.start == jst(monday.year, monday.month, monday.day)
    assert due.end.date().weekday() == 0 and (due.end.date() - monday).days == 7
    assert due.due_at == jst(first_business.year, first_business.month, first_business.day, 1)
    assert first_business_day(due.end.date()) == first_business
    before = due_reports(due.due_at.replace(minute=0, hour=0), (), due.start)
    assert due.name not in [d.name for d in before]
    assert due.name in [d.name for d in due_reports(due.due_at, (), due.start)]


def test_weekly_name_is_the_iso_week():
    assert weekly(date(2026, 11, 16)).name == "kpi-weekly-2026-W47"
    assert weekly(date(2026, 12, 28)).name == "kpi-weekly-2026-W53"


def test_monthly_on_the_first_even_on_a_sunday():
    due = monthly(2026, 10)  # 2026-11-01 is a Sunday
    assert due.name == "kpi-monthly-2026-10"
    assert due.due_at == jst(2026, 11, 1, 1, 0)
    assert monthly(2026, 12).due_at == jst(2027, 1, 1, 1, 0)


def test_catch_up_in_order_since_the_start_only():
    now = jst(2026, 11, 24, 2, 0)  # Tuesday after the holiday Monday
    since = jst(2026, 11, 18, 10, 0)  # the centre's first call
    names = [d.name for d in due_reports(now, (), since)]
    assert names == ["kpi-daily-2026-11-18", "kpi-daily-2026-11-19", "kpi-daily-2026-11-20",
                     "kpi-daily-2026-11-21", "kpi-daily-2026-11-22", "kpi-daily-2026-11-23",
                     "kpi-weekly-2026-W47"]
    # no start known: every period of the catch-up window (40 days), months included
    names = [d.name for d in due_reports(now, ())]
    assert "kpi-monthly-2026-10" in names and "kpi-daily-2026-10-15" in names
    assert "kpi-daily-2026-10-14" not in names and "kpi-weekly-2026-W41" not in names


def test_next_due_at():
    assert next_due_at(jst(2026, 11, 20, 12, 0)) == jst(2026, 11, 21, 1, 0)
    assert next_due_at(jst(2026, 11, 23, 0, 30)) == jst(2026, 11, 23, 1, 0)
    assert next_due_at(jst(2026, 11, 23, 1, 0)) == jst(2026, 11, 24, 1, 0)


# ------------------------------------------------------------------ files (both databases)

async def test_scheduler_writes_each_report_once_and_a_day_without_calls(engine,
                                                                         state_dir: Path):
    clock = [jst(2026, 11, 21, 2, 0).timestamp()]
    directory = state_dir / "reports"
    scheduler = ReportScheduler(engine, directory, ("csv", "xlsx"), clock=lambda: clock[0])
    written = await scheduler.run_once()
    # the first call (C0) was at 23:59:59.5 on the 19th: reports start with that day
    assert sorted(p.relative_to(directory).as_posix() for p in written) == [
        "daily/kpi-daily-2026-11-19.csv", "daily/kpi-daily-2026-11-19.xlsx",
        "daily/kpi-daily-2026-11-20.csv", "daily/kpi-daily-2026-11-20.xlsx"]
    rows = {r[0]: r[1:] for r in csv.reader(io.StringIO(
        (directory / "daily/kpi-daily-2026-11-20.csv").read_text("utf-8-sig"))) if r}
    assert rows["着信件数"][0] == "12" and rows["応答件数"][0] == "8"
    assert await scheduler.run_once() == []  # written once
    clock[0] = jst(2026, 11, 23, 1, 0).timestamp()  # Monday, a holiday: no weekly yet
    written = await scheduler.run_once()
    assert [p.name for p in written] == ["kpi-daily-2026-11-21.csv", "kpi-daily-2026-11-21.xlsx",
                                         "kpi-daily-2026-11-22.csv", "kpi-daily-2026-11-22.xlsx"]
    text = (directory / "daily/kpi-daily-2026-11-22.csv").read_text("utf-8-sig")
    assert "着信なし" in text and "この期間の着信はありません" in text
    assert "着信なし" not in (directory / "daily/kpi-daily-2026-11-21.csv").read_text("utf-8-sig")
    clock[0] = jst(2026, 11, 24, 1, 0).timestamp()
    assert [p.name for p in await scheduler.run_once()] == [
        "kpi-daily-2026-11-23.csv", "kpi-daily-2026-11-23.xlsx",
        "kpi-weekly-2026-W47.csv", "kpi-weekly-2026-W47.xlsx"]
    # a lost file is written again at the next pass
    (directory / "daily/kpi-daily-2026-11-19.xlsx").unlink()
    assert [p.name for p in await scheduler.run_once()] == ["kpi-daily-2026-11-19.xlsx"]
    assert [f.name for f in list_files(directory)][:3] == [
        "kpi-daily-2026-11-23.xlsx", "kpi-daily-2026-11-23.csv", "kpi-daily-2026-11-22.xlsx"]
    assert find_file(directory, "daily", "../daily/kpi-daily-2026-11-21.csv") is None
    assert find_file(directory, "weekly", "kpi-daily-2026-11-21.csv") is None


async def test_a_fresh_installation_writes_nothing_about_the_past(database_url,
                                                                  state_dir: Path):

    await acd.adapters.db.migrate.upgrade(database_url)
    engine = make_engine(database_url)
    try:
        clock = [jst(2026, 11, 21, 2, 0).timestamp()]
        scheduler = ReportScheduler(engine, state_dir / "r", ("csv",), clock=lambda: clock[0])
        assert await scheduler.run_once() == []
        clock[0] = jst(2026, 11, 22, 1, 0).timestamp()  # the first day since: no calls
        assert [p.name for p in await scheduler.run_once()] == ["kpi-daily-2026-11-21.csv"]
    finally:
        await engine.dispose()


async def test_files_over_http(engine, state_dir: Path):
    directory = state_dir / "reports"
    clock = jst(2026, 11, 21, 2, 0).timestamp()
    await ReportScheduler(engine, directory, ("csv",), clock=lambda: clock).run_once()
    app = web.Application(middlewares=[error_middleware, token_only])
    app[API_TOKEN] = "t" * 32
    app[DATABASE] = engine
    app[REPORTS_DIR] = directory
    setup_report_routes(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession(str(server.make_url("/")), headers={
                "Authorization": f"Bearer {'t' * 32}"}) as client:
            async with client.get("/api/reports/files") as r:
                files = (await r.json())["files"]
            assert [(f["kind"], f["period"], f["format"]) for f in files] == [
                ("daily", "2026-11-20", "csv"), ("daily", "2026-11-19", "csv")]
            async with client.get(files[0]["url"]) as r:
                assert r.status == 200 and r.content_type == "text/csv"
                assert "kpi-daily-2026-11-20.csv" in r.headers["Content-Disposition"]
                assert (await r.read()).startswith(b"\xef\xbb\xbf")
            for bad in ("/api/reports/files/daily/..%2Fsecrets.json",
                        "/api/reports/files/daily/kpi-daily-2026-11-01.csv"):
                async with client.get(bad) as r:
                    assert r.status == 404
                    assert (await r.json())["error_id"] == "REPORT_FILE_UNKNOWN"
    finally:
        await server.close()
