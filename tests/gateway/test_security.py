"""The consoles' security over HTTP, against the real gateway (create_app) and a real
database, without Asterisk: lock-out, roles, CSRF on every form and state change,
cookies, and that no page or socket shows an agent another agent's calls."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest

from acd.adapters.db.access_log import AccessLog
from acd.auth.policy import AuthPolicy
from agent_gateway.consoles.pages import LIVE
from tests.support.gateway import PASSWORD, TOKEN, Gateway


@pytest.fixture
async def gateway(state_dir: Path):
    async with Gateway(f"sqlite+aiosqlite:///{state_dir}/db.sqlite", state_dir) as gw:
        await gw.add_user("yamada", "agent", "1001")
        await gw.add_user("tanaka", "agent", "1002")
        await gw.add_user("suzuki", "supervisor", extension="2001")
        await gw.add_user("admin1", "admin")
        await gw.add_user("city", "viewer")
        yield gw


async def test_sign_in_goes_to_the_role_page_and_sets_safe_cookies(gateway):
    for login, home in (("yamada", "/agent"), ("suzuki", "/supervisor"),
                        ("admin1", "/supervisor"), ("city", "/viewer")):
        async with gateway.browser() as b:
            resp = await b.sign_in(login)
            assert (resp.status, resp.url.path) == (200, home), login
            cookie = resp.history[0].headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            assert "Secure" not in cookie  # plain http by default
            assert resp.headers["X-Frame-Options"] == "DENY"
            assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    async with gateway.browser() as anonymous:  # no session: to the sign-in form
        status, _ = await anonymous.request("GET", "/agent")
        assert status == 303
        status, body = await anonymous.request("GET", "/api/agents")
        assert (status, body["error_id"]) == (401, "UNAUTHENTICATED")


async def test_secure_cookie_when_served_over_https(state_dir):
    async with Gateway(f"sqlite+aiosqlite:///{state_dir}/s.sqlite", state_dir,
                       AuthPolicy(secure_cookies=True)) as gw:
        await gw.add_user("yamada", "agent", "1001")
        async with gw.browser() as b, b.http.get(f"{gw.base}/login") as resp:
            assert "Secure" in resp.headers["Set-Cookie"]


async def test_https_pages_carry_hsts_and_plain_http_ones_do_not(state_dir, gateway):
    async with gateway.browser() as b, b.http.get(f"{gateway.base}/login") as resp:
        assert "Strict-Transport-Security" not in resp.headers
    async with Gateway(f"sqlite+aiosqlite:///{state_dir}/h.sqlite", state_dir,
                       AuthPolicy(secure_cookies=True)) as gw:
        async with gw.browser() as b, b.http.get(f"{gw.base}/login") as resp:
            assert resp.headers["Strict-Transport-Security"] == "max-age=31536000"


async def test_a_source_failing_on_many_accounts_is_told_it_is_locked(state_dir):
    async with Gateway(f"sqlite+aiosqlite:///{state_dir}/l.sqlite", state_dir,
                       AuthPolicy(source_max_failures=3)) as gw:
        await gw.add_user("yamada", "agent", "1001")
        async with gw.browser() as b:
            for login in ("admin", "root", "guest"):
                resp = await b.sign_in(login, "guessing-away-123")
            assert resp.status == 401 and "この端末から" in resp.body_text
            resp = await b.sign_in("yamada")  # the right password, from that source
            assert resp.status == 401 and "この端末から" in resp.body_text


@pytest.mark.parametrize("networks, source, allowed", [
    ((), "192.0.2.7", True),  # no list: every source
    (("192.0.2.0/24",), "192.0.2.7", True),
    (("192.0.2.0/24",), "198.51.100.7", False),
    (("192.0.2.0/24",), "127.0.0.1", True),  # this machine (the acd commands)
    (("192.0.2.0/24",), "", False),  # a source that cannot be placed
])
def test_the_console_allow_list(networks, source, allowed):
    assert AuthPolicy(console_networks=networks).source_allowed(source) is allowed


async def test_five_wrong_passwords_lock_the_account(gateway):
    async with gateway.browser() as b:
        for attempt in range(5):
            resp = await b.sign_in("yamada", f"wrong-{attempt}-password")
            assert resp.status == 401
        assert "ロック" in resp.body_text  # the 5th says the account is locked
        resp = await b.sign_in("yamada", PASSWORD)  # the right one is refused now
        assert resp.status == 401 and "ロック" in resp.body_text
        assert b.csrf == ""
    log = await AccessLog(gateway.engine).recent(user_id="yamada")
    assert [e["action"] for e in reversed(log)][-7:] == \
        ["sign_in_failed"] * 5 + ["locked", "sign_in_locked"]
    await gateway.users.unlock("yamada")
    async with gateway.browser() as b:
        assert (await b.sign_in("yamada")).url.path == "/agent"


async def test_a_viewer_reaches_only_reports_and_escalations(gateway):
    async with gateway.browser() as v:
        await v.sign_in("city")
        for method, path in (("GET", "/agent"), ("GET", "/supervisor"),
                             ("GET", "/api/agents"), ("POST", "/api/agents/1001/ready"),
                             ("POST", "/api/agents"), ("GET", "/api/voicemails"),
                             ("GET", "/api/voicemails.csv"), ("GET", "/api/recordings"),
                             ("POST", "/api/ivr/apply"), ("GET", "/api/console/wallboard"),
                             ("GET", "/api/console/me"), ("POST", "/api/escalations/1/handled"),
                             ("POST", "/api/calls/123.4/hold"), ("GET", "/api/events/x"),
                             ("POST", "/api/roster/reload")):
            status, _ = await v.request(method, path, json={})
            assert status == 403, (method, path, status)
        for path in ("/viewer", "/api/escalations", "/api/escalations.csv",
                     "/api/reports/daily?format=json"):
            status, _ = await v.request("GET", path)
            assert status == 200, path
    forbidden = await AccessLog(gateway.engine).recent(user_id="city", action="forbidden")
    assert len(forbidden) == 15


async def test_agents_and_supervisors_are_kept_to_their_pages(gateway):
    async with gateway.browser() as a, gateway.browser() as s:
        await a.sign_in("yamada")
        await s.sign_in("suzuki")
        for path in ("/supervisor", "/api/console/wallboard", "/api/voicemails",
                     "/api/escalations"):
            assert (await a.request("GET", path))[0] == 403, path
        assert (await a.request("POST", "/api/agents", json={}))[0] == 403
        assert (await s.request("GET", "/agent"))[0] == 403
        assert (await s.request("POST", "/api/agents", json={}))[0] == 403  # admin's
        assert (await s.request("GET", "/supervisor"))[0] == 200
        assert (await s.request("POST", "/api/agents/1001/login"))[0] == 200  # anyone's


async def test_every_state_change_without_the_csrf_token_is_refused(gateway):
    unsafe = sorted({(route.method, route.resource.canonical)
                     for route in gateway.app.router.routes()
                     if route.method in ("POST", "PUT", "PATCH", "DELETE")})
    assert len(unsafe) >= 15
    async with gateway.browser() as admin:
        await admin.sign_in("admin1")
        for method, path in unsafe:
            if path == "/login":
                continue
            url = path.replace("{agent}", "1001").replace("{uniqueid}", "u1").replace(
                "{id}", "1").replace("{events}", "x")
            status, body = await admin.request(method, url, csrf=False, json={})
            assert (status, body["error_id"]) == (403, "CSRF_FAILED"), (method, url)
            status, body = await admin.request(method, url, csrf=False,
                                               headers={"X-CSRF-Token": "forged"}, json={})
            assert status == 403, (method, url)
        # the forms: sign-out and change-password without the field
        status, _ = await admin.request("POST", "/logout", csrf=False, data={})
        assert status == 403
        status, _ = await admin.request("POST", "/password", csrf=False, data={
            "current": PASSWORD, "new": "new-long-passphrase", "again": "new-long-passphrase"})
        assert status == 403
        # with the token they work
        status, body = await admin.request("POST", "/api/agents/1001/login")
        assert (status, body["status"]) == (200, "ready")
        status, _ = await admin.request("POST", "/logout", csrf=False,
                                        data={"csrf_token": admin.csrf})
        assert status == 303
        assert (await admin.request("GET", "/api/agents"))[0] == 401  # signed out
    async with gateway.browser() as b:  # the sign-in form has its own token
        async with b.http.post(f"{gateway.base}/login", data={
                "login": "yamada", "password": PASSWORD}, allow_redirects=False) as resp:
            assert resp.status == 403
        async with b.http.post(f"{gateway.base}/login", data={
                "login": "yamada", "password": PASSWORD, "csrf_token": "guess"},
                allow_redirects=False) as resp:
            assert resp.status == 403


async def test_the_api_token_still_works_without_csrf(gateway):
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with http.post(f"{gateway.base}/api/agents/1002/login", headers=headers,
                             json={}) as resp:
            assert resp.status == 200
        async with http.get(f"{gateway.base}/api/agents", headers=headers) as resp:
            assert len(await resp.json()) == 2
        async with http.get(f"{gateway.base}/api/agents",
                            headers={"Authorization": "Bearer wrong"}) as resp:
            assert resp.status == 401


async def _messages(ws, seconds: float) -> list[dict]:
    got = []
    deadline = asyncio.get_running_loop().time() + seconds
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        try:
            msg = await ws.receive(timeout=left)
        except TimeoutError:
            break
        if msg.type == aiohttp.WSMsgType.TEXT:
            got.append(json.loads(msg.data))
    return got


async def test_an_agent_never_sees_another_agents_calls(gateway):
    async with gateway.browser() as a, gateway.browser() as b, gateway.browser() as s:
        await a.sign_in("yamada")
        await b.sign_in("tanaka")
        await s.sign_in("suzuki")
        for who, agent in ((a, "1001"), (b, "1002")):
            assert (await who.request("POST", f"/api/agents/{agent}/login"))[0] == 200
        ws_a = await a.http.ws_connect(f"{gateway.base}/ws")
        ws_s = await s.http.ws_connect(f"{gateway.base}/ws")
        hello = (await _messages(ws_a, 0.5))[0]
        assert (hello["type"], hello["state"]["id"]) == ("hello", "1001")
        now = time.time()
        await gateway.call_to("1002", "u-b", "0312340002", now)  # tanaka's call
        await gateway.call_to("1001", "u-a", "0312340001", now)  # yamada's call
        seen_a = await _messages(ws_a, 1.0)
        seen_s = await _messages(ws_s, 1.5)
        text_a = json.dumps(seen_a, ensure_ascii=False)
        assert "u-b" not in text_a and "0312340002" not in text_a and '"1002"' not in text_a
        pops = [m["pop"] for m in seen_a if m["type"] == "pop"]
        assert [(p["uniqueid"], p["caller"], p["line_name"]) for p in pops] == \
            [("u-a", "0312340001", "テスト市民相談")]
        board = [m for m in seen_s if m["type"] == "wallboard"][-1]["wallboard"]
        assert {x["id"]: x["call"] for x in board["agents"]} == {"1001": "u-a", "1002": "u-b"}

        # the API: only themselves, only their calls
        status, agents = await a.request("GET", "/api/agents")
        assert [x["id"] for x in agents] == ["1001"]
        status, me = await a.request("GET", "/api/console/me")
        assert me["pending"]["uniqueid"] == "u-a"
        for method, path in (("POST", "/api/calls/u-b/hold"), ("POST", "/api/calls/u-b/transfer"),
                             ("DELETE", "/api/calls/u-b/conference"),
                             ("POST", "/api/calls/u-a/monitor"),
                             ("POST", "/api/agents/1002/away"),
                             ("POST", "/api/agents/1002/disposition")):
            status, body = await a.request(method, path, json={"reason": "break"})
            assert status == 403, (method, path)
        await gateway.end_call("1002", "u-b", now + 5)
        status, body = await a.request("POST", "/api/agents/1001/disposition",
                                       json={"uniqueid": "u-b", "outcome": "完了"})
        assert (status, body["error_id"]) == (403, "NOT_YOUR_CALL")
        # their own call's controls pass the gate (the call-control API answers after it)
        status, _ = await a.request("POST", "/api/calls/u-a/hold", json={"on": True})
        assert status != 403
        await ws_a.close()
        await ws_s.close()
    log = await AccessLog(gateway.engine).recent(action="personal_data")
    assert {(e["user_id"], e["subject"]) for e in log} >= {("yamada", "screen_pop")}
    assert all("u-b" not in (e["detail"] or "") for e in log if e["user_id"] == "yamada")


async def test_an_escalation_lands_on_the_list_with_its_callback(gateway):
    async with gateway.browser() as a, gateway.browser() as s, gateway.browser() as v:
        await a.sign_in("yamada")
        await s.sign_in("suzuki")
        await v.sign_in("city")
        await a.request("POST", "/api/agents/1001/login")
        now = time.time()
        await gateway.call_to("1001", "u-e", "0467112233", now)
        await gateway.end_call("1001", "u-e", now + 5)
        status, body = await a.request("POST", "/api/agents/1001/disposition", json={
            "uniqueid": "u-e", "outcome": "エスカレーション", "category": "税金"})
        assert (status, body["error_id"]) == (422, "INVALID_BODY")  # needs the callback
        status, body = await a.request("POST", "/api/agents/1001/disposition", json={
            "uniqueid": "u-e", "outcome": "エスカレーション", "category": "税金",
            "faq_prescribed": False, "note": "担当課確認",
            "callback": {"name": "市民太郎", "number": "0467-11-2233",
                         "question": "減免の対象か", "department": "tax"}})
        assert (status, body["status"]) == (200, "ready")
        status, items = await v.request("GET", "/api/escalations")
        assert [(e["callback_name"], e["caller"], e["agent"], e["department"]) for e in items] \
            == [("市民太郎", "0467112233", "1001", "tax")]
        status, csv_text = await v.request("GET", "/api/escalations.csv")
        assert "市民太郎" in csv_text and "減免の対象か" in csv_text
        assert (await v.request("POST", f"/api/escalations/{items[0]['id']}/handled"))[0] == 403
        status, done = await s.request("POST", f"/api/escalations/{items[0]['id']}/assign",
                                       json={"to": "city"})
        assert done["assigned_to"] == "city"
        status, done = await s.request("POST", f"/api/escalations/{items[0]['id']}/handled")
        assert done["handled_by"] == "suzuki"
    log = await AccessLog(gateway.engine).recent(action="personal_data", user_id="city")
    assert {e["subject"] for e in log} == {"escalations"}


async def test_change_password_page(gateway):
    async with gateway.browser() as first, gateway.browser() as second:
        await first.sign_in("yamada")
        await second.sign_in("yamada")
        form = {"csrf_token": first.csrf, "current": "wrong", "new": "brand-new-passphrase",
                "again": "brand-new-passphrase"}
        status, text = await first.request("POST", "/password", csrf=False, data=form)
        assert status == 422
        status, text = await first.request("POST", "/password", csrf=False, data={
            **form, "current": PASSWORD, "new": "password1234", "again": "password1234"})
        assert status == 422 and "common" in text
        status, text = await first.request("POST", "/password", csrf=False,
                                           data={**form, "current": PASSWORD})
        assert status == 200 and 'id="password-done"' in text
        assert (await first.request("GET", "/api/console/me"))[0] == 200
        assert (await second.request("GET", "/api/console/me"))[0] == 401  # ended
    async with gateway.browser() as b:
        assert (await b.sign_in("yamada", "brand-new-passphrase")).url.path == "/agent"


async def test_pages_are_japanese_by_default_and_english_on_request(gateway):
    async with gateway.browser() as b:
        resp = await b.sign_in("yamada")
        assert "オペレーター画面" in resp.body_text and 'lang="ja"' in resp.body_text
        _status, text = await b.request("GET", "/agent?lang=en")
        assert "Agent console" in text and 'lang="en"' in text
        _status, text = await b.request("GET", "/agent")  # remembered in a cookie
        assert "Agent console" in text
        _status, text = await b.request("GET", "/password?lang=ja")
        assert "パスワード変更" in text


async def test_a_pop_survives_a_gateway_that_did_not_see_the_call_ring(gateway):
    async with gateway.browser() as a:
        await a.sign_in("yamada")
        await a.request("POST", "/api/agents/1001/login")
        now = time.time()
        await gateway.call_to("1001", "u-r", "0312349999", now)
        gateway.app[LIVE].pops.clear()  # as after a restart of the gateway
        _status, me = await a.request("GET", "/api/console/me")
        assert (me["pending"]["uniqueid"], me["pending"]["caller"], me["pending"]["answered"]) \
            == ("u-r", "0312349999", True)


async def test_the_report_files_are_listed_on_the_consoles_for_readers_only(gateway):
    from datetime import date, datetime, timedelta

    from acd.domain.clock import JST, day_range
    from acd.reports.schedule import Due
    from acd.reports.scheduler import ReportScheduler

    start, end = day_range(date(2026, 11, 20))
    written = await ReportScheduler(gateway.engine, gateway.reports_dir, ("csv",)).write(
        Due("daily", start, end, end + timedelta(hours=9, minutes=30)))
    assert [p.name for p in written] == ["kpi-daily-2026-11-20.csv"]
    size = written[0].stat().st_size
    written_at = datetime.fromtimestamp(written[0].stat().st_mtime, JST).strftime(
        "%Y-%m-%d %H:%M")
    link = "/api/reports/files/daily/kpi-daily-2026-11-20.csv"
    async with gateway.browser() as v, gateway.browser() as s, gateway.browser() as a:
        await v.sign_in("city")
        await s.sign_in("suzuki")
        await a.sign_in("yamada")
        status, text = await v.request("GET", "/viewer")
        assert status == 200 and '<section class="card" id="report-files">' in text
        assert "<h2>帳票</h2>" in text and "<th>対象期間</th>" in text
        assert 1024 < size < 1024 * 1024
        assert (f"<tr><td>日報</td><td>2026-11-20</td><td>CSV</td><td>{size / 1024:.1f} KB</td>"
                in text)
        assert f"<td>{written_at}</td>" in text
        assert f'<a href="{link}" download="kpi-daily-2026-11-20.csv">' in text
        status, text = await s.request("GET", "/supervisor?lang=en")
        assert status == 200 and "<h2>Report files</h2>" in text
        assert "<tr><td>Daily</td><td>2026-11-20</td><td>CSV</td>" in text and link in text
        async with v.http.get(f"{gateway.base}{link}") as resp:  # the link downloads it
            assert resp.status == 200
            assert resp.headers["Content-Disposition"] == \
                'attachment; filename="kpi-daily-2026-11-20.csv"'
            body = await resp.read()
        assert body == written[0].read_bytes() and "着信なし".encode() in body
        assert (await a.request("GET", link))[0] == 403
        assert (await a.request("GET", "/viewer"))[0] == 403
    written[0].unlink()  # none left: the section says so
    async with gateway.browser() as v:
        await v.sign_in("city")
        _status, text = await v.request("GET", "/viewer")
        assert "作成済みの帳票はまだありません。" in text and link not in text


async def test_a_configured_line_without_calls_gets_an_empty_report_and_an_unknown_one_404(
        gateway):
    async with gateway.browser() as v:
        await v.sign_in("city")
        status, body = await v.request(
            "GET", "/api/reports/daily?date=2026-11-20&line=0570000700&format=json")
        assert status == 200, body
        assert (body["empty"], body["figures"]["offered"], body["line"]) == \
            (True, 0, "0570000700")
        status, body = await v.request(
            "GET", "/api/reports/daily?date=2026-11-20&line=0570999999&format=json")
        assert (status, body["error_id"]) == (404, "LINE_UNKNOWN"), body
