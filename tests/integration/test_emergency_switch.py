"""The emergency switch on a real Asterisk: a supervisor puts one line (API), then every
line (the console, in Chromium), on an announcement typed as text; the next caller's
received audio holds it (and, in mode hangup, the call ends there); it goes on playing
while the controller is down; taken off, the normal flow is back. The audit trail names
who switched, and the reports count the callers who heard it."""

from __future__ import annotations

import os
import signal
import textwrap
from pathlib import Path

import pytest
from playwright import async_api as playwright_api

from acd.domain.clock import tokyo_today
from tests.conftest import TEST_PORTS, stack_env
from tests.support.asterisk_pid import asterisk_pid
from tests.support.consoles import CHROMIUM, SECONDS, add_user, sign_in
from tests.support.rtp_sniff import RtpSniffer, best_match_in, synthesized_prompt
from tests.support.sipp import run_callers
from tests.support.stack import RunningStack
from tests.support.tables import record_for

pytestmark = pytest.mark.integration

LINE_A, LINE_B = "0467000901", "0467000902"
NOTICE = "この通話は録音されます。"
FLOOD = "大雨のため、本日の窓口業務を休止しています。"
QUAKE = "地震の影響で、お電話がつながりにくくなっています。"
SUPERVISOR = "危機管理 佐藤"


def flows_yaml() -> str:
    return textwrap.dedent(f"""\
        lines:
          - {{did: "{LINE_A}", name: 代表, queue: desk, recording: always, notice: notice}}
          - {{did: "{LINE_B}", name: 税務, queue: desk, recording: always, notice: notice}}
        queues:
          - {{name: desk, max_wait: 10, wrapup_seconds: 0}}
        prompts:
          notice: {{text: {{ja: {NOTICE}}}}}
        """)


async def call_and_listen(line: str, workdir: Path, caller: str) -> list:
    """One call to ``line`` (no operator: it ends after the line's messages); the
    audio streams Asterisk sent to the carrier's address meanwhile."""
    with RtpSniffer("127.0.0.2") as sniffer:
        result = await run_callers(line, TEST_PORTS["sip_port"], 1, 1.0, workdir,
                                   caller_start=caller, max_seconds=40)
        heard = sniffer.streams()
    result.check()
    return heard


def head(samples):
    """A prompt's first 80 %: a call hung up after its last prompt may lose the tail."""
    return samples[: len(samples) * 4 // 5]


async def test_a_line_then_every_line_on_an_emergency_announcement(state_dir: Path):
    flows = state_dir / "flows"
    flows.mkdir()
    (flows / "site.yaml").write_text(flows_yaml(), encoding="utf-8")
    url = f"sqlite+aiosqlite:///{state_dir}/db.sqlite"
    sipp = state_dir / "sipp"
    env = stack_env(state_dir, url, MADOGUCHI_FLOWS_DIR=str(flows))
    first = RunningStack(env, state_dir, TEST_PORTS["gateway_port"])
    second = RunningStack(env, state_dir, TEST_PORTS["gateway_port"])
    try:
        await first.__aenter__()
        refused = await first.api("POST", "/api/emergency", {
            "line": "0120999999", "text": FLOOD, "by": SUPERVISOR}, expect=404)
        assert refused["error_id"] == "LINE_UNKNOWN"

        # line A alone, announcement then hang up
        flood = await first.api("POST", "/api/emergency", {
            "line": LINE_A, "text": FLOOD, "mode": "hangup", "by": SUPERVISOR}, expect=201)
        assert flood["written"] is True
        heard_a = await call_and_listen(LINE_A, sipp / "a1", "0311110001")
        heard_b = await call_and_listen(LINE_B, sipp / "b1", "0311110002")
        notice, flood_audio = (head(synthesized_prompt(state_dir, t)) for t in (NOTICE, FLOOD))
        assert best_match_in(heard_a, flood_audio) > 0.9
        assert best_match_in(heard_a, notice) < 0.5  # hung up after the announcement
        assert best_match_in(heard_b, notice) > 0.9  # the other line goes on as usual
        assert best_match_in(heard_b, flood_audio) < 0.5

        # every line, from the supervisor's console: announcement then the normal flow;
        # line A keeps its own
        await add_user(env, "sato", SUPERVISOR, "supervisor")
        async with playwright_api.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            try:
                page = await sign_in(browser, first.gateway, "sato")
                await page.select_option("#em-line", "all")
                await page.select_option("#em-mode", "continue")
                await page.fill("#em-text", QUAKE)
                await page.click("#em-on")
                shown = page.locator('#em-in-force tr[data-line="all"]')
                await playwright_api.expect(shown).to_contain_text(QUAKE, timeout=SECONDS)
                await playwright_api.expect(page.locator(
                    f'#em-in-force tr[data-line="{LINE_A}"]')).to_contain_text(FLOOD)
            finally:
                await browser.close()
        [quake] = [s for s in (await first.api("GET", "/api/emergency"))["in_force"]
                   if s["line"] == "all"]
        assert (quake["text"], quake["mode"], quake["on_by"]) == (QUAKE, "continue", "sato")
        quake_audio = head(synthesized_prompt(state_dir, QUAKE))
        heard_b = await call_and_listen(LINE_B, sipp / "b2", "0311110003")
        assert best_match_in(heard_b, quake_audio) > 0.9
        assert best_match_in(heard_b, notice) > 0.9  # then the line's own flow

        # the controller dies: Asterisk goes on announcing from its own database
        await first.kill()
        assert asterisk_pid(state_dir) is not None
        heard_b = await call_and_listen(LINE_B, sipp / "b3", "0311110004")
        assert best_match_in(heard_b, quake_audio) > 0.9

        await second.__aenter__()  # adopts the Asterisk, reads back the call it missed
        status = await second.api("GET", "/api/emergency")
        assert {s["line"]: s["id"] for s in status["in_force"]} == {
            LINE_A: flood["id"], "all": quake["id"]}
        await second.api("DELETE", f"/api/emergency/all?by={SUPERVISOR}")
        await second.api("DELETE", f"/api/emergency/{LINE_A}?by={SUPERVISOR}")
        again = await second.api("DELETE", f"/api/emergency/{LINE_A}?by={SUPERVISOR}",
                                 expect=409)
        assert again["error_id"] == "EMERGENCY_NOT_ON"
        heard_a = await call_and_listen(LINE_A, sipp / "a2", "0311110005")
        assert best_match_in(heard_a, notice) > 0.9
        assert best_match_in(heard_a, flood_audio) < 0.5 and \
            best_match_in(heard_a, quake_audio) < 0.5

        history = (await second.api("GET", "/api/emergency/history"))["switches"]
        assert [(s["line"], s["on_by"], s["off_by"]) for s in history] == [
            ("all", "sato", SUPERVISOR), (LINE_A, SUPERVISOR, SUPERVISOR)]
        records_a = await record_for(url, LINE_A, 2)
        records_b = await record_for(url, LINE_B, 3)
        assert [(r["outcome"], r["emergency_switch"]) for r in records_a] == [
            ("emergency", flood["id"]), ("overflow", None)]  # no operator
        assert [r["emergency_switch"] for r in records_b] == [None, quake["id"], quake["id"]]
        report = await second.api("GET", f"/api/reports/daily?format=json"
                                  f"&date={tokyo_today().isoformat()}")
        figures = report["figures"]
        assert (figures["emergency_heard"], figures["emergency_ended"]) == (3, 1)
        assert figures["offered"] == 4  # the call ended by the announcement is apart
        print(f"\nemergency switch: the call entering "
              f"{records_a[0]['entered_at'] - flood['on_at']:.2f} s after the switch heard it; "
              f"3 callers heard an announcement (one while the controller "
              f"was down), 1 call ended by it")
    finally:
        await second.stop()
        await first.stop()
        left = asterisk_pid(state_dir)
        if left is not None:  # the test failed between the kill and the adoption
            os.kill(left, signal.SIGKILL)
    assert left is None
