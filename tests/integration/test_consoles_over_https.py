"""The consoles over https on a real network: `acd up` serves the gateway on a desk
network's address with the local CA's certificate, only to the networks the site allows.

Chromium runs on the desk (a network namespace made by the test), pinned to the server's
key only (no certificate error is ignored otherwise), signs a supervisor in and sees the
live wallboard over a secure WebSocket; the session cookie is Secure and HttpOnly and
every page carries HSTS. A request from an address outside the allow-list gets 403
SOURCE_NOT_ALLOWED, and the port speaks no plain http."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from playwright import async_api as playwright_api

from tests.conftest import TEST_PORTS, stack_env
from tests.support.consoles import CHROMIUM, SECONDS, add_user
from tests.support.desk import desk_host
from tests.support.gateway import FLOWS, PASSWORD
from tests.support.stack import RunningStack

pytestmark = pytest.mark.integration



def spki_pin(cert_pem: Path) -> str:
    """Chromium's pin of a certificate's key: base64 of the SHA-256 of its SPKI."""
    key = x509.load_pem_x509_certificate(cert_pem.read_bytes()).public_key()
    spki = key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def chromium_on(netns: str, workdir: Path) -> Path:
    """An executable that starts Debian's Chromium inside the desk's namespace."""
    wrapper = workdir / "chromium-on-desk"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {netns} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


async def test_supervisor_signs_in_over_https_from_an_allowed_desk_only(state_dir: Path):
    assert CHROMIUM.exists(), "Debian's chromium is not installed: run 'make setup'"
    port = TEST_PORTS["gateway_port"]
    with desk_host() as desk:
        env = stack_env(state_dir, f"sqlite+aiosqlite:///{state_dir}/db.sqlite",
                        MADOGUCHI_FLOWS_DIR=str(FLOWS),
                        MADOGUCHI_GATEWAY_ADDRESS=desk.host_address,
                        MADOGUCHI_HTTPS="true",
                        MADOGUCHI_CONSOLE_NETWORKS=f'["{desk.desk_address}/32"]')
        async with RunningStack(env, state_dir, port, host=desk.host_address) as stack:
            await add_user(env, "suzuki", "鈴木", "supervisor", "--extension", "2001")
            base = f"https://{desk.host_address}:{port}"
            pin = spki_pin(state_dir / "tls" / "server.pem")
            async with playwright_api.async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path=str(chromium_on(desk.netns, state_dir)), headless=True,
                    args=[f"--ignore-certificate-errors-spki-list={pin}"])
                try:
                    context = await browser.new_context(locale="ja-JP")
                    page = await context.new_page()
                    shown = await page.goto(f"{base}/login")
                    assert shown is not None and shown.status == 200
                    hsts = await shown.header_value("strict-transport-security")
                    await page.fill("#login", "suzuki")
                    await page.fill("#password", PASSWORD)
                    await page.click("#sign-in")
                    await playwright_api.expect(page).to_have_url(f"{base}/supervisor",
                                                                  timeout=SECONDS)
                    await playwright_api.expect(page.locator("#live")).to_have_class(
                        "live on", timeout=SECONDS)  # the wallboard's wss:// socket
                    cookies = {c["name"]: c for c in await context.cookies()}
                finally:
                    await browser.close()

            # this machine's own address is not on the list: refused, with an error id
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{base}/login", ssl=stack.trust()) as refused:
                    body = await refused.json()
                with pytest.raises(aiohttp.ClientError):  # no plain http on the port
                    async with http.get(f"http://{desk.host_address}:{port}/login") as plain:
                        pytest.fail(f"plain http answered {plain.status}")
            health = await stack.health()  # monitoring may poll /healthz from anywhere
    assert stack.returncode == 0, stack.log_tail()

    assert hsts == "max-age=31536000"
    session = cookies["mdg_session"]
    assert session["secure"] and session["httpOnly"] and session["sameSite"] == "Strict"
    assert (refused.status, body["error_id"]) == (403, "SOURCE_NOT_ALLOWED")
    assert body["details"]["remote"] == desk.host_address
    assert health is not None and health["ami_connected"]
