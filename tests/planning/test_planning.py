"""Sizing from the centre's history, on SQLite and PostgreSQL: a month of calls made by a
known queue (simulated) is read back into a forecast with the known arrivals, handle time
and patience; the plan sized from it, replayed against the same month, predicts the KPIs
it was sized for; forecast files and plan CSVs are read with file:line / row:column errors."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

import acd.adapters.db.migrate
from acd.adapters.db.engine import make_engine
from acd.adapters.db.schema import agent_intervals, call_records
from acd.cli.plan import add_plan_commands
from acd.domain.clock import JST
from acd.domain.sizing.plan import SizingTargets, day_type, size, working_days
from acd.domain.sizing.replay import Caller, StaffingStep, replay
from acd.planning.check import plan_staffing, replay_check
from acd.planning.forecast_file import ForecastError, load_forecast
from acd.planning.history import read_history
from acd.planning.outputs import PlanFileError, read_plan_csv, render_csv, render_table

LINE, QUEUE = "0492240000", "general"
RATE, HANDLE, PATIENCE, AGENTS = 30 / 1800, 240.0, 90.0, 6  # 30 calls per half-hour, 4 E
WORKING = working_days(None)


def _month_of_calls(seed: int = 7) -> tuple[list[dict], list[dict]]:
    """November 2026, weekdays 09:00-17:00: Poisson arrivals, exponential handle times
    (talk; no wrap-up) and patience, 6 operators; the call records and wrap-up intervals."""
    rng = random.Random(seed)
    callers, day = [], date(2026, 11, 1)
    while day.month == 11:
        if WORKING(day):
            t = datetime.combine(day, time(9), JST).timestamp()
            close = t + 8 * 3600
            while (t := t + rng.expovariate(RATE)) < close:
                callers.append(Caller(t, rng.expovariate(1 / HANDLE),
                                      rng.expovariate(1 / PATIENCE)))
        day += timedelta(days=1)
    result = replay(callers, [StaffingStep(callers[0].arrived_at - 1, AGENTS)])
    records = []
    for i, call in enumerate(result.calls):
        c = call.caller
        answered = call.answered_at
        records.append({
            "uniqueid": f"u{i}", "line": LINE, "queue": QUEUE, "caller": "0312345678",
            "agent": "1001" if answered else None, "entered_at": c.arrived_at - 5,
            "queue_joined_at": c.arrived_at, "answered_at": answered,
            "ended_at": (answered + c.handle_seconds) if answered else c.arrived_at
            + c.patience_seconds, "wait_seconds": call.wait_seconds,
            "talk_seconds": c.handle_seconds if answered else None,
            "outcome": "answered" if answered else "abandoned", "agents_rung": 1,
            "close_reason": "hangup", "congestion_seconds": 0.0})
    return records, []


@pytest.fixture
async def month(database_url):
    await acd.adapters.db.migrate.upgrade(database_url)
    records, intervals = _month_of_calls()
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(insert(call_records), records)
        if intervals:
            await conn.execute(insert(agent_intervals), intervals)
    yield engine, records
    await engine.dispose()


async def test_the_history_gives_back_the_traffic_and_the_plan_meets_its_targets(month):
    engine, records = month
    start = datetime(2026, 11, 1, tzinfo=JST)
    history = await read_history(engine, start, datetime(2026, 12, 1, tzinfo=JST), LINE)
    assert len(history.calls) == len(records)
    assert history.handle_seconds == pytest.approx(HANDLE, rel=0.05)
    assert history.patience_seconds == pytest.approx(PATIENCE, rel=0.1)

    forecast = history.forecast(WORKING)
    days = dict(forecast.days)
    # November 2026: 19 working weekdays (3rd and 23rd are holidays), of which the days
    # after a weekend or holiday (Mondays, the 4th, the 24th) are after_holiday
    assert days["weekday"] + days["after_holiday"] == 19 and days["after_holiday"] == 6
    slots = [s for s in forecast.slots if s.day_type == "weekday"]
    assert [s.slot for s in slots] == list(range(9 * 60, 17 * 60, 30))
    assert sum(s.calls for s in slots) / len(slots) == pytest.approx(30, rel=0.06)

    targets = SizingTargets(answer_rate=0.9, quick_answer_rate=0.8, answer_within=20)
    rows = size(forecast, targets)
    assert all(r.prediction.answer_rate >= 0.9 and r.prediction.quick_answer_rate >= 0.8
               for r in rows)
    assert {r.agents for r in rows} <= {5, 6, 7, 8}
    text = render_table(forecast, targets, rows, "ja")
    assert "必要オペレーター数" in text and "平日" in text

    # the plan, replayed against the month's real arrivals, meets the targets too
    plan = {(r.forecast.day_type, r.forecast.slot): r.agents for r in rows}
    check = await replay_check(engine, start, datetime(2026, 12, 1, tzinfo=JST), line=LINE,
                               plan=plan, working=WORKING, answer_within=20)
    assert check.replayed.offered == len(records)
    assert check.replayed.answer_rate is not None and check.replayed.answer_rate >= 0.88
    planned = sum(r.prediction.answer_rate * r.forecast.calls for r in rows) / sum(
        r.forecast.calls for r in rows)
    assert abs(check.replayed.answer_rate - planned) < 0.03, (check.replayed.answer_rate,
                                                              planned)
    # with one operator fewer everywhere, the plan's predicted miss shows in the replay
    fewer = {key: agents - 1 for key, agents in plan.items()}
    short = await replay_check(engine, start, datetime(2026, 12, 1, tzinfo=JST), line=LINE,
                               plan=fewer, working=WORKING, answer_within=20)
    assert short.replayed.answer_rate is not None
    assert short.replayed.answer_rate < check.replayed.answer_rate - 0.02


def test_day_types_follow_the_calendar():
    assert day_type(date(2026, 11, 23), WORKING) == "sunday_holiday"  # 勤労感謝の日
    assert day_type(date(2026, 11, 24), WORKING) == "after_holiday"
    assert day_type(date(2026, 11, 25), WORKING) == "weekday"
    assert day_type(date(2026, 11, 28), WORKING) == "saturday"
    assert day_type(date(2026, 11, 30), WORKING) == "after_holiday"  # a Monday
    assert day_type(date(2027, 1, 4), WORKING) == "after_holiday"


def test_a_forecast_file_is_sized_and_its_errors_say_where(tmp_path: Path):
    good = tmp_path / "forecast.yaml"
    good.write_text("name: 川越市 総合案内\npatience_seconds: 60\ndays:\n  weekday:\n"
                    "    calls: 125\n    handle_seconds: 300\n    hours: \"08:30-17:15\"\n",
                    encoding="utf-8")
    forecast = load_forecast(good)
    assert sum(s.calls for s in forecast.slots) == pytest.approx(125)
    assert forecast.slots[-1].slot == 17 * 60 and forecast.slots[-1].calls == pytest.approx(
        125 * 15 / 525)
    rows = size(forecast, SizingTargets(answer_rate=0.9, quick_answer_rate=None,
                                        minimum_agents=2))
    assert min(r.agents for r in rows) == 2

    bad = tmp_path / "bad.yaml"
    bad.write_text("days:\n  weekday:\n    calls: -3\n    handle_seconds: 300\n"
                   "    hours: \"08:30-17:15\"\n  sunday:\n    calls: 1\n", encoding="utf-8")
    with pytest.raises(ForecastError) as caught:
        load_forecast(bad)
    text = str(caught.value)
    assert f"{bad}:3:" in text and "days.weekday.calls" in text
    assert f"{bad}:6:" in text and "sunday" in text


def test_a_plan_csv_is_read_back_and_a_bad_cell_is_named(tmp_path: Path):
    forecast = load_forecast_text(tmp_path, "days:\n  weekday:\n    calls: 200\n"
                                  "    handle_seconds: 180\n    hours: \"09:00-12:00\"\n")
    rows = size(forecast, SizingTargets())
    path = tmp_path / "plan.csv"
    path.write_bytes(render_csv(rows))
    assert path.read_bytes().startswith("\ufeff".encode())
    plan = read_plan_csv(path)
    assert plan == {("weekday", r.forecast.slot): r.agents for r in rows}
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    cells = lines[3].split(",")
    cells[5] = "many"
    lines[3] = ",".join(cells)
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(PlanFileError, match=r"row 4, column 6: 'many'"):
        read_plan_csv(path)
    staffing = plan_staffing(plan, datetime(2026, 11, 25, tzinfo=JST),
                             datetime(2026, 11, 26, tzinfo=JST), WORKING)
    nine = datetime(2026, 11, 25, 9, tzinfo=JST).timestamp()
    assert [s.agents for s in staffing if s.starts_at == nine] == [plan[("weekday", 540)]]
    assert staffing[-1].agents == 0 and not math.isnan(staffing[-1].starts_at)


def load_forecast_text(tmp_path: Path, text: str):
    path = tmp_path / "f.yaml"
    path.write_text(text, encoding="utf-8")
    return load_forecast(path)


def _acd(argv: list[str]) -> int:
    """`acd plan ...` with ``argv``, in this process; its exit status."""
    parser = argparse.ArgumentParser(prog="acd")
    add_plan_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_the_commands_plan_from_history_and_replay_the_plan(tmp_path: Path, monkeypatch,
                                                           capsys):
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"

    async def fill() -> None:
        await acd.adapters.db.migrate.upgrade(url)
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.execute(insert(call_records), _month_of_calls()[0])
        await engine.dispose()

    asyncio.run(fill())
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("MADOGUCHI_STATE_DIR", str(tmp_path))
    plan = tmp_path / "plan.csv"
    period = ["--from", "2026-11-01", "--to", "2026-11-30", "--line", LINE]
    assert _acd(["plan", *period, "--target", "answer_rate=0.9,quick_answer=0.8@20",
                 "--format", "csv", "--out", str(plan)]) == 0
    assert read_plan_csv(plan)[("weekday", 600)] in (5, 6, 7, 8)
    capsys.readouterr()
    assert _acd(["plan", "replay", "--plan", str(plan), *period,
                 "--target", "quick_answer=0.8@20", "--format", "json"]) == 0
    replayed = json.loads(capsys.readouterr().out)
    assert replayed["staffing"] == str(plan) and replayed["replay"]["answer_rate"] >= 88
    assert replayed["report"]["offered"] == replayed["queue_calls"] > 3000

    plan.write_text("day_type,slot,agents\nweekday,09:15,3\n", encoding="utf-8")
    assert _acd(["plan", "replay", "--plan", str(plan), *period]) == 1
    assert "row 2, column 2" in capsys.readouterr().err
    assert _acd(["plan", "--from", "2026-11-30", "--to", "2026-11-01"]) == 1
    assert "is not after" in capsys.readouterr().err


def test_shrinkage_turns_operators_on_the_phones_into_operators_to_schedule(tmp_path: Path):
    forecast = load_forecast_text(tmp_path, "days:\n  weekday:\n    calls: 200\n"
                                  "    handle_seconds: 180\n    hours: \"09:00-12:00\"\n")
    targets = SizingTargets.parse("answer_rate=0.9,shrinkage=0.3")
    assert targets.shrinkage == 0.3 and "shrinkage=0.3" in str(targets)
    rows = size(forecast, targets)
    assert all(r.scheduled == math.ceil(r.agents / 0.7 - 1e-9) for r in rows)
    assert any(r.scheduled > r.agents for r in rows)
    assert [r.scheduled for r in size(forecast, SizingTargets())] == [
        r.agents for r in size(forecast, SizingTargets())]
    with pytest.raises(ValueError, match="shrinkage=1.2"):
        SizingTargets.parse("shrinkage=1.2")
    assert "to schedule" in render_table(forecast, targets, rows, "en")
