"""職員満足度: a viewer (the city's staff) rates the centre for the month in the viewer
console, in real Chromium, against the real gateway and database; the rating is kept
with who gave it, an operator may not rate, a score outside 0-100 is refused, and the
monthly KPI report shows the month's mean and the number of ratings."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from playwright import async_api as playwright_api

from acd.domain.clock import tokyo_today
from tests.support.consoles import CHROMIUM, SECONDS, sign_in
from tests.support.gateway import TOKEN, Gateway


async def test_a_viewer_rates_the_month_and_the_monthly_report_shows_it(state_dir: Path):
    month = f"{tokyo_today():%Y-%m}"
    async with Gateway(f"sqlite+aiosqlite:///{state_dir}/db.sqlite", state_dir) as gw:
        await gw.add_user("city", "viewer")
        await gw.add_user("yamada", "agent", "1001")
        async with playwright_api.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            try:
                page = await sign_in(browser, gw.base, "city", live=False)
                await page.fill("#sr-score", "85")
                await page.fill("#sr-comment", "丁寧な対応でした。")
                await page.click("#sr-send")
                await playwright_api.expect(page.locator("#sr-summary")).to_have_text(
                    "今月の評価: 平均 85.0 点（1 件）", timeout=SECONDS)
                await page.fill("#sr-score", "120")
                await page.click("#sr-send")
                await playwright_api.expect(page.locator("#sr-msg")).to_contain_text(
                    "INVALID_BODY", timeout=SECONDS)
            finally:
                await browser.close()
        async with gw.browser() as agent:
            await agent.sign_in("yamada")
            status, refused = await agent.request("POST", "/api/staff-ratings",
                                                  json={"score": 100})
            assert (status, refused["error_id"]) == (403, "FORBIDDEN")
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.post(f"{gw.base}/api/staff-ratings",
                                 json={"score": 75, "by": "市民課 佐藤"}) as resp:
                assert resp.status == 201
            async with http.post(f"{gw.base}/api/staff-ratings", json={"score": 75}) as resp:
                assert (resp.status, (await resp.json())["error_id"]) == (422, "WHO_MISSING")
            async with http.get(f"{gw.base}/api/staff-ratings") as resp:
                listed = await resp.json()
            async with http.get(f"{gw.base}/api/reports/monthly?month={month}"
                                "&format=json") as resp:
                figures = (await resp.json())["figures"]
    assert [(r["score"], r["comment"], r["rated_by"]) for r in listed["ratings"]] == [
        (85, "丁寧な対応でした。", "city"), (75, "", "市民課 佐藤")]
    assert listed["mean"] == 80.0 and listed["month"] == month
    assert (figures["staff_satisfaction"], figures["staff_ratings"]) == (80.0, 2)


@pytest.mark.parametrize("month, expected", [("2026-13", 422), ("2026-11", 200)])
async def test_the_month_asked_for_must_be_a_month(state_dir: Path, month, expected):
    async with Gateway(f"sqlite+aiosqlite:///{state_dir}/db.sqlite", state_dir) as gw:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with aiohttp.ClientSession(headers=headers) as http, \
                http.get(f"{gw.base}/api/staff-ratings?month={month}") as resp:
            assert resp.status == expected
