"""XLSX, PDF and HTML with charts, on the synthetic KPI mix; over HTTP with roles."""

from __future__ import annotations

import io
import subprocess
from datetime import date, timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from openpyxl import load_workbook

from acd.domain.actor import Actor
from acd.domain.clock import day_range
from acd.reports.kpi import compute_kpis
from acd.reports.pdf import render_pdf
from acd.reports.render import render_html
from acd.reports.xlsx import render_xlsx
from agent_gateway.auth.middleware import enforce_access
from agent_gateway.auth.principal import PRINCIPAL_KEY
from agent_gateway.http import error_middleware
from agent_gateway.keys import DATABASE
from agent_gateway.routes.reports import setup_report_routes
from tests.support.kpi_mix import DAY, FAR_FUTURE
from tests.support.pdf import pdf_text


async def test_xlsx_has_a_sheet_per_breakdown_with_numbers(engine):
    k = await compute_kpis(engine, *day_range(DAY), now=FAR_FUTURE)
    wb = load_workbook(io.BytesIO(render_xlsx(k)))
    assert wb.sheetnames == ["概要", "日別", "時間帯別", "30分間隔別サービスレベル", "回線別",
                             "キュー別", "カテゴリ別問合せ件数", "放棄呼の待ち時間分布",
                             "オペレーター別", "エスカレーション一覧", "苦情一覧"]
    halves = list(wb["30分間隔別サービスレベル"].iter_rows(values_only=True))
    assert len(halves) == 49 and halves[0][4] == "サービスレベル（10秒以内応答率）"
    by_interval = {row[0]: row[1:] for row in halves[1:]}
    # A1 (5 s) and A2 (exactly 10 s) quick; B1 abandoned at 10:59:59.6; A3 45 s, A4 10.5 s
    assert by_interval["10:00-10:30"] == (2, 2, 2, 1.0, 0)
    assert by_interval["10:30-11:00"] == (1, 0, 0, None, 1)
    assert by_interval["11:00-11:30"][:4] == (1, 1, 0, 0.0)
    assert by_interval["23:30-00:00"][:3] == (1, 1, 1)  # C1
    waits = list(wb["放棄呼の待ち時間分布"].iter_rows(values_only=True))
    # B1 waited 30 s; B2 left in the menu (no queue wait); C0 was the day before
    assert [row[:2] for row in waits[1:]] == [("0～10秒", 0), ("10～30秒", 1), ("30～60秒", 0),
                                              ("60～120秒", 0), ("120秒超", 0)]
    assert waits[2][2] == 1.0
    complaints = list(wb["苦情一覧"].iter_rows(values_only=True))
    assert complaints[1:] == [("2026-11-20 10:20:00", "0570000123", "1002", "税金",
                               "note A2", "A2")]
    summary = {row[0]: row[1:] for row in wb["概要"].iter_rows(values_only=True) if row[0]}
    assert summary["着信件数"][0] == 12 and summary["応答件数"][0] == 8
    assert summary["応答率"][0] == pytest.approx(8 / 12) and summary["応答率"][1] == 0.9
    assert summary["応答率"][2] == "未達" and summary["一次完結率"][2] == "達成"
    hours = list(wb["時間帯別"].iter_rows(values_only=True))
    assert hours[0][:3] == ("時間帯", "着信件数", "応答件数") and len(hours) == 25
    assert hours[11][:3] == ("10:00-11:00", 3, 2)
    days = list(wb["日別"].iter_rows(values_only=True))
    assert days[1][0].date() == DAY and days[1][1] == 12
    agents = {r[0]: r for r in wb["オペレーター別"].iter_rows(values_only=True)}
    head = agents["オペレーター"]
    assert "離席（休憩）" in head and "離席（会議）" in head
    a1 = dict(zip(head, agents["1001"], strict=False))
    # durations are Excel times ([h]:mm:ss), read back as timedelta
    assert a1["応答件数"] == 5 and a1["ログイン時間"] == timedelta(hours=8)
    assert a1["離席（休憩）"] == timedelta(hours=1)
    assert dict(zip(head, agents["1003"], strict=False))["離席（会議）"] == timedelta(hours=1)
    categories = dict(list(wb["カテゴリ別問合せ件数"].iter_rows(values_only=True))[1:])
    assert categories == {"税金": 4, "子育て": 2, "未分類": 1}
    english = load_workbook(io.BytesIO(render_xlsx(k, "en")))
    assert english.sheetnames[:3] == ["Summary", "By day", "By hour"]
    empty = await compute_kpis(engine, *day_range(date(2026, 10, 1)), now=FAR_FUTURE)
    rows = [r for r in load_workbook(io.BytesIO(render_xlsx(empty)))["概要"]
            .iter_rows(values_only=True)]
    assert ("着信なし", "この期間の着信はありません") in [r[:2] for r in rows]


async def test_pdf_and_html_carry_figures_targets_and_charts(engine, state_dir):
    k = await compute_kpis(engine, *day_range(DAY), now=FAR_FUTURE)
    data = render_pdf(k)
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    for words in ("KPIレポート", "2026年11月20日（金）", "応答率", "66.7%", "≧ 90%", "未達",
                  "達成", "カテゴリ別問合せ件数", "オペレーター別", "エスカレーション一覧",
                  "ページ 1"):
        assert words in text, words
    (state_dir / "day.pdf").write_bytes(data)
    listing = subprocess.run(["pdfimages", "-list", str(state_dir / "day.pdf")],  # noqa: ASYNC221
                             capture_output=True, check=True, timeout=60).stdout.decode()
    kinds = [line.split()[2] for line in listing.splitlines()[2:]]
    assert kinds.count("image") == 2  # the charts: by hour, by category
    assert "Answer rate" in pdf_text(render_pdf(k, "en"))
    empty = await compute_kpis(engine, *day_range(date(2026, 10, 1)), now=FAR_FUTURE)
    assert "着信なし: この期間の着信はありません" in pdf_text(render_pdf(empty))

    html = render_html(k).decode()
    assert html.count("<svg") == 2  # by hour, by category (one day: no by-day chart)
    assert 'aria-label="時間帯別 着信件数・応答率"' in html and "66.7%" in html
    week = await compute_kpis(engine, *day_range(DAY)[:1], day_range(date(2026, 11, 22))[1],
                              now=FAR_FUTURE)
    assert render_html(week).decode().count("<svg") == 3


@web.middleware
async def role_from_header(request, handler):
    request[PRINCIPAL_KEY] = Actor(user="u", role=request.headers["X-Role"])
    return await handler(request)


@pytest.fixture
async def client(engine):
    app = web.Application(middlewares=[error_middleware, role_from_header, enforce_access])
    app[DATABASE] = engine
    setup_report_routes(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession(str(server.make_url("/"))) as session:
        yield session
    await server.close()


async def test_formats_over_http_for_readers_only(client):
    url = "/api/reports/daily?date=2026-11-20&format="
    async with client.get(url + "xlsx", headers={"X-Role": "viewer"}) as r:
        assert r.status == 200 and r.content_type.endswith("spreadsheetml.sheet")
        assert 'filename="kpi-daily-20261120.xlsx"' in r.headers["Content-Disposition"]
        assert load_workbook(io.BytesIO(await r.read()))["概要"]["A1"].value.startswith(
            "KPIレポート")
    async with client.get(url + "pdf&lang=en", headers={"X-Role": "supervisor"}) as r:
        assert r.status == 200 and r.content_type == "application/pdf"
        assert "Answer rate" in pdf_text(await r.read())
    async with client.get(url + "html", headers={"X-Role": "admin"}) as r:
        assert r.status == 200 and "<svg" in await r.text()
    async with client.get(url + "pdf", headers={"X-Role": "agent"}) as r:
        assert r.status == 403 and (await r.json())["error_id"] == "FORBIDDEN"
    async with client.get(url + "docx", headers={"X-Role": "viewer"}) as r:
        assert r.status == 422 and (await r.json())["error_id"] == "BAD_FORMAT"


async def test_a_figure_with_nothing_to_judge_reads_a_dash_in_every_format(engine):
    from acd.reports.render import render_csv
    from tests.support.kpi_mix import LINE2

    k = await compute_kpis(engine, *day_range(DAY), LINE2, None, now=FAR_FUTURE)
    assert k.overall.answered == 1 and k.overall.dispositions == 0  # answered, not disposed
    csv_row = next(line for line in render_csv(k).decode("utf-8-sig").splitlines()
                   if line.startswith("一次完結率"))
    assert "—" in csv_row and "未達" not in csv_row
    wb = load_workbook(io.BytesIO(render_xlsx(k)))
    summary = {row[0]: row[1:] for row in wb["概要"].iter_rows(values_only=True) if row[0]}
    assert summary["一次完結率"][0] == "—" and summary["一次完結率"][2] is None
    html = render_html(k).decode()
    assert "未達" not in html.split("一次完結率", 1)[1].split("</tr>", 1)[0]
    pdf_line = next(line for line in pdf_text(render_pdf(k)).splitlines() if "一次完結率" in line)
    assert pdf_line.split("一次完結率")[1].split()[0] in ("—", "－")
