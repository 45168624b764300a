"""Two carrier trunks from the site YAML on a real `acd up` (tests/fixtures/trunks/):
'city' is known by the network its callers come from, 'hikari' registers with a SIPp
registrar that challenges the REGISTER (the password is in the state directory) and
carries two calls at once. A call beyond hikari's two hears the busy message and is
recorded as overflow (reason ``channels``) while city still takes calls; callers' E.164
numbers are recorded in national form; a transfer from hikari's line leaves by hikari.
And `acd up` refuses to start when a registering trunk has no password."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from acd.adapters.db.engine import make_engine
from acd.adapters.db.schema import call_records
from tests.conftest import FIXTURES, TEST_PORTS, stack_env
from tests.support.asterisk_pid import asterisk_console
from tests.support.sipp import SippAgent, free_udp_port, register_agents, run_callers
from tests.support.sipp.process import SippProcess
from tests.support.stack import RunningStack
from tests.support.waiting import until

pytestmark = pytest.mark.integration

SIP = TEST_PORTS["sip_port"]
CITY_CALLER, CITY_HOST = "127.0.31.5", "127.0.31.9"  # in city's 127.0.31.0/24
REGISTRAR, HIKARI_HOST = "127.0.32.7", "127.0.32.8"
USER, PASSWORD = "0312345678", "hikari-Secret-73"
LINE_B = "0570000777"  # its outgoing calls leave by hikari
CITY_LINE = "0570000123"


def trunk_flows(state_dir: Path, ports: dict[str, int]) -> Path:
    """The integration fixtures plus the trunks, on this run's free SIPp ports."""
    flows = state_dir / "flows"
    shutil.copytree(FIXTURES / "flows", flows)
    text = (FIXTURES / "trunks" / "trunks.yaml").read_text(encoding="utf-8")
    for host, port in ports.items():
        assert f'"{host}:5060"' in text
        text = text.replace(f'"{host}:5060"', f'"{host}:{port}"')
    (flows / "trunks.yaml").write_text(text, encoding="utf-8")
    return flows


async def records(url: str) -> list[dict]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(select(call_records))).mappings()]
    finally:
        await engine.dispose()


async def current_call(stack: RunningStack, agent: str) -> str | None:
    state = next(a for a in await stack.api("GET", "/api/agents") if a["id"] == agent)
    return state["call"] if state["status"] == "on_call" else None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_two_trunks_by_network_and_by_registration_with_a_channel_limit(
        state_dir: Path, database_url: str):
    ports = {REGISTRAR: free_udp_port(REGISTRAR), HIKARI_HOST: free_udp_port(HIKARI_HOST),
             CITY_HOST: free_udp_port(CITY_HOST)}
    flows = trunk_flows(state_dir, ports)
    secret = state_dir / "trunks" / "hikari.password"
    secret.parent.mkdir()
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o600)
    sipp = state_dir / "sipp"
    registrar = SippProcess("registrar", sipp, "registrar.xml",
                            {"user": USER, "password": PASSWORD}, ["-m", "1"], REGISTRAR,
                            sip_port=ports[REGISTRAR])
    targets = {name: SippAgent(name, ports[host], sipp, talk_seconds=30, address=host)
               for name, host in (("hikari", HIKARI_HOST), ("city", CITY_HOST))}
    await registrar.start()
    for target in targets.values():
        await target.start()
    env = stack_env(state_dir, database_url, MADOGUCHI_FLOWS_DIR=str(flows))
    try:
        async with RunningStack(env, state_dir, TEST_PORTS["gateway_port"]) as stack:
            assert await registrar.wait(30) == 0, registrar.diagnostics()
            shown = await until(lambda: _registered(state_dir), 15, "the registration")
            passwords = await stack.add_agents(["1001"])
            port = free_udp_port()
            await register_agents(list(passwords.items()), SIP, {"1001": port}, sipp)
            agent = SippAgent("1001", port, sipp, talk_seconds=40)
            await agent.start()
            try:
                # A: the operator answers it; it takes one of hikari's two channels
                first = asyncio.create_task(run_callers(
                    LINE_B, SIP, 1, 1.0, sipp / "a", caller_start="+815012340000",
                    max_seconds=60, hangup_after=30, source=REGISTRAR))
                uniqueid = await until(lambda: current_call(stack, "1001"), 20, "A answered")
                # B1 waits (hikari's 2nd channel), B2 is one too many; city is not full
                more, city = await asyncio.gather(
                    run_callers(LINE_B, SIP, 2, 5.0, sipp / "b", caller_start="+815012340001",
                                max_seconds=30, hangup_after=4, source=REGISTRAR),
                    run_callers(CITY_LINE, SIP, 1, 1.0, sipp / "city",
                                caller_start="0312349999", max_seconds=30, hangup_after=4,
                                source=CITY_CALLER))
                await stack.api("POST", f"/api/calls/{uniqueid}/transfer",
                                {"target": "shimin", "mode": "blind"})
                await targets["hikari"].wait_for(1, 15)
            finally:
                await agent.stop(grace=1.0)
            assert (await first).successful == 1
            done = await until(lambda: _at_least(database_url, 4), 30, "four call records")
        assert stack.returncode == 0, stack.log_tail()
    finally:
        await registrar.kill()
        for target in targets.values():
            await target.stop(grace=1.0)
    assert f"hikari-registration/sip:{REGISTRAR}:{ports[REGISTRAR]}" in shown
    assert more.successful == 2 and city.successful == 1, more.describe() + city.describe()
    by_caller = {r["caller"]: r for r in done}
    assert set(by_caller) == {"05012340000", "05012340001", "05012340002", "0312349999"}
    assert {r["line"] for r in done if r["caller"].startswith("050")} == {LINE_B}
    overflow = [(r["caller"], r["overflow_reason"], r["overflow_destination"])
                for r in done if r["outcome"] == "overflow"]
    assert overflow == [("05012340002", "channels", "busy")]  # hikari's third call only
    assert by_caller["0312349999"]["line"] == CITY_LINE
    # the transfer left by hikari (its host), presenting the line's number; none by city
    assert targets["hikari"].counts().answered == 1
    assert targets["city"].counts().offered == 0
    assert LINE_B in targets["hikari"].identities()[0]
    print(f"\ntrunks: {sorted((r['caller'], r['outcome']) for r in done)}")


def test_a_registering_trunk_without_a_password_stops_the_start_naming_both_places(
        state_dir: Path):
    flows = trunk_flows(state_dir, {REGISTRAR: 5060, HIKARI_HOST: 5060, CITY_HOST: 5060})
    env = stack_env(state_dir, f"sqlite+aiosqlite:///{state_dir / 'madoguchi.db'}",
                    MADOGUCHI_FLOWS_DIR=str(flows))
    done = subprocess.run([sys.executable, "-m", "acd.cli.main", "render"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "trunk 'hikari' registers with 127.0.32.7:5060 but has no password" in done.stderr
    assert "MADOGUCHI_TRUNK_HIKARI_PASSWORD" in done.stderr
    assert str(state_dir / "trunks" / "hikari.password") in done.stderr
    assert not (state_dir / "asterisk" / "etc" / "pjsip.conf").exists()


async def _registered(state_dir: Path) -> str | None:
    shown = await asterisk_console(state_dir, "pjsip show registrations")
    return shown if "Registered" in shown else None


async def _at_least(url: str, count: int) -> list[dict] | None:
    found = await records(url)
    return found if len(found) >= count else None
