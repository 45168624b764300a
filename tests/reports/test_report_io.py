"""The report over HTTP and from the command line, on the synthetic mix of test_kpi."""

from __future__ import annotations

import argparse
import csv
import io

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from acd.cli.reports import add_report_commands
from acd.domain.clock import JST, parse_period
from agent_gateway.auth.middleware import token_only
from agent_gateway.http import error_middleware
from agent_gateway.keys import API_TOKEN, DATABASE
from agent_gateway.routes.reports import setup_report_routes

TOKEN = "t" * 32


@pytest.fixture
async def client(engine):
    app = web.Application(middlewares=[error_middleware, token_only])
    app[API_TOKEN] = TOKEN
    app[DATABASE] = engine
    setup_report_routes(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession(str(server.make_url("/")),
                                     headers={"Authorization": f"Bearer {TOKEN}"}) as session:
        yield session
    await server.close()


async def test_http_reports(client):
    async with client.get("/api/reports/daily?date=2026-11-20") as r:
        assert r.status == 200 and r.content_type == "text/csv"
        body = await r.read()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = {row[0]: row[1:] for row in csv.reader(io.StringIO(body.decode("utf-8-sig"))) if row}
    assert rows["着信件数"][0] == "12" and rows["応答率"][:3] == ["66.7", "≥ 90%", "未達"]
    async with client.get("/api/reports/monthly?month=2026-11&format=html&lang=en") as r:
        assert r.status == 200 and "Answer rate" in await r.text()
    async with client.get("/api/reports/monthly?month=2026-11&format=json") as r:
        data = await r.json()
    assert data["figures"]["offered"] == 14 and data["figures"]["answered"] == 9
    async with client.get("/api/reports/range?from=2026-11-19&to=2026-11-21&format=json") as r:
        data = await r.json()
    assert data["figures"]["offered"] == 14 and len(data["by_day"]) == 3
    async with client.get("/api/reports/range?from=2026-11-19") as r:
        assert r.status == 422 and (await r.json())["error_id"] == "BAD_PERIOD"
    async with client.get("/api/reports/daily?date=2026-10-01&format=html") as r:
        assert "着信なし" in await r.text()
    async with client.get("/api/reports/daily?date=2026-11-20&line=0570000000") as r:
        assert r.status == 404 and (await r.json())["error_id"] == "LINE_UNKNOWN"
    async with client.get("/api/reports/daily?date=20-11") as r:
        assert r.status == 422
    async with client.get("/api/reports/daily", headers={"Authorization": ""}) as r:
        assert r.status == 401


def test_periods_and_parser():
    start, end = parse_period("weekly", "2026-W47")
    assert (start.isoformat(), end.isoformat()) == ("2026-11-16T00:00:00+09:00",
                                                    "2026-11-23T00:00:00+09:00")
    start, end = parse_period("monthly", "2026-12")
    assert (start.date().isoformat(), end.date().isoformat()) == ("2026-12-01", "2027-01-01")
    assert start.tzinfo == JST
    start, end = parse_period("range", "2026-11-01", "2026-11-15")
    assert end.date().isoformat() == "2026-11-16"
    with pytest.raises(ValueError):
        parse_period("monthly", "2026-13")
    parser = argparse.ArgumentParser()
    add_report_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", "daily", "--date", "2026-11-20", "--format", "html",
                              "--lang", "en", "--line", "0570000123"])
    assert (args.report, args.date, args.format, args.lang, args.line) == (
        "daily", "2026-11-20", "html", "en", "0570000123")
