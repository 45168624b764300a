"""Targets from the flows: a line's own ``targets:``, the site default ``report_targets:``,
the contract figures; met / missed judged against the targets of the report in every
format. The figures are those of the synthetic mix of test_kpi (counted by hand there)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from openpyxl import load_workbook
from pydantic import ValidationError

from acd.domain.actor import Actor
from acd.domain.clock import day_range
from acd.ivr.loader import FlowError, load_site
from acd.ivr.models import Line
from acd.reports.figures import Targets
from acd.reports.kpi import compute_kpis
from acd.reports.pdf import render_pdf
from acd.reports.render import render_csv, render_html
from acd.reports.targets import targets_for
from acd.reports.xlsx import render_xlsx
from agent_gateway import keys
from agent_gateway.auth.middleware import enforce_access
from agent_gateway.auth.principal import PRINCIPAL_KEY
from agent_gateway.http import error_middleware
from agent_gateway.keys import DATABASE
from agent_gateway.routes.reports import setup_report_routes
from tests.support.kpi_mix import DAY, FAR_FUTURE, LINE, LINE2
from tests.support.pdf import pdf_text

SITE = f"""\
lines:
  - did: "{LINE}"
    name: 市民相談
    queue: main
    recording: off
    targets:
      answer_rate: 0.6
      quick_answer_rate: 0.95
      quick_answer_seconds: 45
      first_contact_resolution: 0.5
      first_response_rate: 0.7
  - did: "{LINE2}"
    name: 税
    queue: tax
    recording: off
queues:
  - name: main
  - name: tax
report_targets:
  answer_rate: 0.65
prompts:
  unused: {{text: {{ja: テスト}}}}
"""


@pytest.fixture
def site(tmp_path: Path):
    path = tmp_path / "site.yaml"
    path.write_text(SITE, encoding="utf-8")
    return load_site(path)


def test_targets_come_from_the_line_then_the_site_then_the_contract(site):
    own = targets_for(site, LINE)
    assert own == Targets(60.0, 95.0, 50.0, 70.0, 45, "line")
    # a line without targets and the overall report: the site default, else the contract's
    assert targets_for(site, LINE2) == Targets(answer_rate=65.0, source="site")
    assert targets_for(site, None) == Targets(answer_rate=65.0, source="site")
    assert targets_for(None, LINE) == Targets()
    assert targets_for(site.model_copy(update={"report_targets": None}), None) == Targets()


@pytest.mark.parametrize(("targets", "expected"), [
    ("{answer_rate: 90}",
     ":6:28: lines.0.targets.answer_rate: Input should be less than or equal to 1"),
    ("{answer: 0.9}", ":6:15: lines.0.targets.answer: Extra inputs are not permitted"),
    ("{quick_answer_seconds: 0}",
     ":6:37: lines.0.targets.quick_answer_seconds: Input should be greater than or equal to 1"),
])
def test_bad_targets_are_reported_with_file_line_column(tmp_path: Path, targets, expected):
    path = tmp_path / "site.yaml"
    path.write_text(f"""\
lines:
  - did: "{LINE}"
    name: 市民相談
    queue: main
    recording: off
    targets: {targets}
queues: [{{name: main}}]
""", encoding="utf-8")
    with pytest.raises(FlowError) as raised:
        load_site(path)
    assert [p.removeprefix(str(path)) for p in raised.value.problems] == [expected]


def test_an_event_line_has_no_targets():
    with pytest.raises(ValidationError, match="'targets' is not used on an event line"):
        Line(did="0467000800", name="イベント案内", events="kamakura", intro_prompt="intro",
             no_events_prompt="none", recording="off", targets={"answer_rate": 0.9})


def test_report_targets_twice_is_an_error(tmp_path: Path):
    (tmp_path / "a.yaml").write_text(SITE, encoding="utf-8")
    (tmp_path / "b.yaml").write_text("report_targets: {first_response_rate: 0.9}\n",
                                     encoding="utf-8")
    with pytest.raises(FlowError) as raised:
        load_site(tmp_path)
    [problem] = raised.value.problems
    assert problem.startswith(f"{tmp_path / 'b.yaml'}:1:1: 'report_targets:' is defined twice")


async def test_a_line_is_judged_against_its_own_targets(engine, site):
    kpis = await compute_kpis(engine, *day_range(DAY), LINE, None, now=FAR_FUTURE,
                              targets=targets_for(site, LINE))
    o = kpis.overall
    # answered 7 of 11; within 45 s all 7 (within 10 s only 5); FCR 3/(7-1); FRR 5/7
    assert (o.offered, o.answered, o.quick_answered) == (11, 7, 7)
    assert o.first_contact_resolution == pytest.approx(50.0)
    assert o.first_response_rate == pytest.approx(100 * 5 / 7)

    rows = list(csv.reader(io.StringIO(render_csv(kpis).decode("utf-8-sig"))))
    summary = {r[0]: r[1:] for r in rows if len(r) >= 2}
    # every rate met against the line's targets (the contract's would miss 3 of them)
    assert summary["応答率"] == ["63.6", "≥ 60%", "達成"]
    assert summary["45秒以内応答件数"][0] == "7"
    assert summary["即応率"] == ["100.0", "≥ 95%", "達成"]
    assert summary["一次完結率"] == ["50.0", "≥ 50%", "達成"]
    assert summary["一次対応率"] == ["71.4", "≥ 70%", "達成"]
    assert summary["目標値"] == [f"回線 {LINE} の設定（targets）"]

    html = render_html(kpis, "en", with_charts=False).decode()
    assert f"Targets: line {LINE}&#39;s own (targets)" in html
    assert html.count('class="met"') == 4 and 'class="missed"' not in html

    wb = load_workbook(io.BytesIO(render_xlsx(kpis)))
    cells = {r[0]: r[1:4] for r in wb["概要"].iter_rows(values_only=True) if r[0]}
    assert cells["一次対応率"][1:] == (0.7, "達成")
    assert cells["目標値"][0] == f"回線 {LINE} の設定（targets）"

    text = pdf_text(render_pdf(kpis))
    assert f"目標値: 回線 {LINE} の設定（targets）" in text and "未達" not in text

    # the same figures against the contract's targets
    contract = await compute_kpis(engine, *day_range(DAY), LINE, None, now=FAR_FUTURE)
    rows = list(csv.reader(io.StringIO(render_csv(contract).decode("utf-8-sig"))))
    summary = {r[0]: r[1:] for r in rows if len(r) >= 2}
    assert summary["応答率"] == ["63.6", "≥ 90%", "未達"]
    assert summary["即応率"] == ["71.4", "≥ 90%", "未達"]
    assert summary["一次対応率"] == ["71.4", "≥ 95%", "未達"]
    assert summary["目標値"] == ["契約の標準値（report_targets の設定なし）"]


async def test_the_overall_report_says_it_uses_the_site_default(engine, site):
    kpis = await compute_kpis(engine, *day_range(DAY), now=FAR_FUTURE,
                              targets=targets_for(site, None))
    rows = list(csv.reader(io.StringIO(render_csv(kpis).decode("utf-8-sig"))))
    summary = {r[0]: r[1:] for r in rows if len(r) >= 2}
    assert summary["応答率"] == ["66.7", "≥ 65%", "達成"]  # the contract's 90 % would miss
    assert summary["即応率"] == ["75.0", "≥ 90%", "未達"]  # not set by the site: the contract's
    assert summary["10秒以内応答件数"][0] == "6"
    assert summary["目標値"] == ["サイト既定値（report_targets）"]
    line2 = await compute_kpis(engine, *day_range(DAY), LINE2, None, now=FAR_FUTURE,
                               targets=targets_for(site, LINE2))
    assert f"回線 {LINE2} に targets の設定なし" in render_html(line2, with_charts=False).decode()


@web.middleware
async def as_viewer(request, handler):
    request[PRINCIPAL_KEY] = Actor(user="city", role="viewer")
    return await handler(request)


async def test_http_reports_use_the_targets_of_the_flows(engine, site):
    app = web.Application(middlewares=[error_middleware, as_viewer, enforce_access])
    app[DATABASE] = engine
    app[keys.SITE] = lambda: site
    setup_report_routes(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession(str(server.make_url("/"))) as http:
            url = "/api/reports/daily?date=2026-11-20&format=json"
            async with http.get(f"{url}&line={LINE}") as r:
                body = await r.json()
            assert (body["targets_source"], body["quick_answer_seconds"]) == ("line", 45)
            assert body["targets"] == {"answer_rate": 60.0, "quick_answer_rate": 95.0,
                                       "first_contact_resolution": 50.0,
                                       "first_response_rate": 70.0}
            assert body["met"] == {"answer_rate": True, "quick_answer_rate": True,
                                   "first_contact_resolution": True,
                                   "first_response_rate": True}
            async with http.get(url) as r:
                body = await r.json()
            assert (body["targets_source"], body["targets"]["answer_rate"]) == ("site", 65.0)
            assert body["met"]["answer_rate"] is True and body["met"]["quick_answer_rate"] is False
            async with http.get(f"/api/reports/daily?date=2026-11-20&line={LINE}") as r:
                assert "回線 0570000123 の設定" in (await r.read()).decode("utf-8-sig")
    finally:
        await server.close()
