"""The consoles as people use them against a running stack: users added with the CLI
(`acd users add`), signed in in Debian's Chromium (Playwright)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from playwright import async_api as playwright_api

from tests.support.gateway import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
SECONDS = 10_000  # Playwright timeouts are in milliseconds


async def acd_cli(env: dict[str, str], *args: str, stdin: str = "") -> str:
    """Run an `acd` command; its output (it must succeed)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "acd.cli.main", *args, env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate(stdin.encode())
    assert proc.returncode == 0, out.decode()
    return out.decode()


async def add_user(env: dict[str, str], login: str, name: str, role: str, *extra: str) -> None:
    """A console user with the test password."""
    await acd_cli(env, "users", "add", login, "--name", name, "--role", role, *extra,
                  "--password-stdin", stdin=PASSWORD + "\n")


async def sign_in(browser, base: str, login: str, live: bool = True):
    """A page of a new browser context, signed in, its live connection up (``live``:
    the page has one; the viewer's has not)."""
    context = await browser.new_context(locale="ja-JP")
    page = await context.new_page()
    await page.goto(f"{base}/login")
    await page.fill("#login", login)
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in")
    if live:
        await playwright_api.expect(page.locator("#live")).to_have_class("live on",
                                                                        timeout=SECONDS)
    else:
        await page.wait_for_load_state("networkidle")
    return page
