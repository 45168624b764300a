"""Staffing plans over HTTP: sized from the history in the database, in JSON, CSV, XLSX
and SVG; bad parameters are 4xx with an error id; an agent may not read them."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
from openpyxl import load_workbook
from sqlalchemy import insert

from acd.adapters.db.schema import call_records
from acd.domain.clock import JST
from tests.support.gateway import TOKEN, Gateway

AUTH = {"Authorization": f"Bearer {TOKEN}"}
LINE = "0570000123"
PERIOD = "from=2026-11-24&to=2026-11-27"  # Tuesday (after a holiday) to Friday


def _calls() -> list[dict]:
    """Every working day 10:00-10:30: 40 calls of 120 s, 5 of them abandoned after 30 s."""
    rows = []
    for day in (24, 25, 26, 27):
        t0 = datetime(2026, 11, day, 10, 0, 10, tzinfo=JST).timestamp()
        for i in range(40):
            at, answered = t0 + i * 45, i % 8 != 0
            rows.append({
                "uniqueid": f"p{day}-{i}", "line": LINE, "queue": "main", "caller": "0312345678",
                "agent": "1001" if answered else None, "entered_at": at - 3,
                "queue_joined_at": at, "answered_at": at + 5 if answered else None,
                "ended_at": at + 125 if answered else at + 30,
                "wait_seconds": 5.0 if answered else 30.0,
                "talk_seconds": 120.0 if answered else None,
                "outcome": "answered" if answered else "abandoned", "agents_rung": 1,
                "close_reason": "hangup", "congestion_seconds": 0.0})
    return rows


@pytest.fixture
async def api(state_dir: Path):
    async with Gateway(f"sqlite+aiosqlite:///{state_dir}/db.sqlite", state_dir) as gateway:
        async with gateway.engine.begin() as conn:
            await conn.execute(insert(call_records), _calls())
        async with aiohttp.ClientSession(base_url=gateway.base, headers=AUTH) as http:
            yield http


async def test_a_plan_is_sized_from_the_history_in_every_format(api):
    target = "answer_rate=0.9,quick_answer=0.8@20,min_agents=2"
    async with api.get(f"/api/reports/plan?{PERIOD}&line={LINE}&target={target}") as r:
        assert r.status == 200
        plan = await r.json()
    assert plan["days"] == {"after_holiday": 1, "weekday": 3}
    rows = {(x["day_type"], x["slot"]): x for x in plan["rows"]}
    assert set(rows) == {("after_holiday", "10:00"), ("weekday", "10:00")}
    weekday = rows[("weekday", "10:00")]
    assert weekday["calls"] == 40 and weekday["handle_seconds"] == 120
    assert weekday["agents"] >= 3 and weekday["answer_rate"] >= 0.9
    assert weekday["quick_answer_rate"] >= 0.8 and weekday["lines"] >= weekday["agents"]
    assert plan["patience_seconds"] == pytest.approx((35 * 5 + 5 * 30) / 5)
    assert plan["summary"]["weekday"]["peak_agents"] == weekday["agents"]

    async with api.get(f"/api/reports/plan?{PERIOD}&line={LINE}&agents=2") as r:
        fewer = {(x["day_type"], x["slot"]): x for x in (await r.json())["rows"]}
    assert fewer[("weekday", "10:00")]["agents"] == 2
    assert fewer[("weekday", "10:00")]["answer_rate"] < weekday["answer_rate"]

    async with api.get(f"/api/reports/plan?{PERIOD}&format=csv&lang=ja") as r:
        assert r.status == 200 and "attachment" in r.headers["Content-Disposition"]
        text = (await r.read()).decode("utf-8-sig")
    assert text.splitlines()[1].startswith("曜日区分,時間帯")
    async with api.get(f"/api/reports/plan?{PERIOD}&format=xlsx") as r:
        book = load_workbook(io.BytesIO(await r.read()))
    assert book.active is not None and book.active.cell(3, 6).value == "必要オペレーター数"
    async with api.get(f"/api/reports/plan?{PERIOD}&format=svg&day_type=weekday") as r:
        assert r.status == 200 and r.headers["Content-Type"] == "image/svg+xml"
        assert (await r.read()).startswith(b"<?xml")


@pytest.mark.parametrize(("query", "status", "error_id"), [
    ("from=2026-11-01", 422, "BAD_PERIOD"),
    ("from=2026-13-01&to=2026-12-01", 422, "BAD_PERIOD"),
    (f"{PERIOD}&target=answer_rate=1.5", 422, "BAD_TARGET"),
    (f"{PERIOD}&target=quick_answer=0.9@nan", 422, "BAD_TARGET"),
    (f"{PERIOD}&target=min_agents=99999", 422, "BAD_TARGET"),
    (f"{PERIOD}&agents=-1", 422, "BAD_TARGET"),
    (f"{PERIOD}&agents=1e9", 422, "BAD_TARGET"),
    (f"{PERIOD}&format=pdf", 422, "BAD_FORMAT"),
    (f"{PERIOD}&format=svg&day_type=saturday", 404, "DAY_TYPE_EMPTY"),
])
async def test_bad_plan_parameters_are_4xx_with_an_error_id(api, query, status, error_id):
    async with api.get(f"/api/reports/plan?{query}") as r:
        assert (r.status, (await r.json())["error_id"]) == (status, error_id)
