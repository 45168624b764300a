"""A carrier trunk that requires registration, on a real `acd up`: a SIPp UAS standing for
the carrier's registrar challenges the REGISTER (401, digest) and accepts it only with the
right credentials; Madoguchi registers with the username and password given in the
environment, and Asterisk reports the registration."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import TEST_PORTS, stack_env
from tests.support.asterisk_pid import asterisk_console
from tests.support.sipp import free_udp_port
from tests.support.sipp.process import SippProcess
from tests.support.stack import RunningStack
from tests.support.waiting import until

pytestmark = pytest.mark.integration

REGISTRAR = "127.0.0.3"
USER, PASSWORD = "0312345678", "trunk-Secret-42"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_trunk_registers_with_digest_credentials_from_the_environment(
        state_dir: Path, database_url: str):
    port = free_udp_port(REGISTRAR)
    registrar = SippProcess("registrar", state_dir / "sipp", "registrar.xml",
                            {"user": USER, "password": PASSWORD}, ["-m", "1"], REGISTRAR,
                            sip_port=port)
    await registrar.start()
    env = stack_env(state_dir, database_url,
                    MADOGUCHI_CARRIER_REGISTRAR=f"{REGISTRAR}:{port}",
                    MADOGUCHI_CARRIER_USERNAME=USER, MADOGUCHI_CARRIER_PASSWORD=PASSWORD)
    try:
        started = time.monotonic()
        async with RunningStack(env, state_dir, TEST_PORTS["gateway_port"]) as stack:
            code = await registrar.wait(30)
            registered_after = time.monotonic() - started
            shown = await until(
                lambda: _registered(state_dir), 15, "Asterisk reporting the registration")
        assert stack.returncode == 0, stack.log_tail()
    finally:
        await registrar.kill()
    assert code == 0, registrar.diagnostics()
    assert any(e[:1] == ["registered"] for e in registrar.events()), registrar.diagnostics()
    assert f"carrier-registration/sip:{REGISTRAR}:{port}" in shown
    config = (state_dir / "asterisk" / "etc" / "pjsip.conf").read_text()
    assert (state_dir / "asterisk" / "etc" / "pjsip.conf").stat().st_mode & 0o077 == 0
    assert PASSWORD in config  # only in Asterisk's own 0600 configuration
    print(f"\ntrunk registered with {REGISTRAR}:{port} (digest) {registered_after:.1f} s "
          "after acd up was started")


async def _registered(state_dir: Path) -> str | None:
    shown = await asterisk_console(state_dir, "pjsip show registrations")
    return shown if "Registered" in shown else None
