"""Shared fixtures: test ports that never collide with `make run`, and both databases."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def ports_from_base(base: int) -> dict[str, int]:
    """The ports of one test stack, all derived from ``base``."""
    return {"sip_port": base + 60, "sip_tls_port": base + 61, "ami_port": base + 38,
            "gateway_port": base + 3080,
            "rtp_start": base + 1000, "rtp_end": base + 1999}


#: Ports of the Asterisk the tests start (make run uses 5060/5038/8080): 15060/15038/18080
#: and RTP 16000-16999, or another set with ``MDG_PORT_BASE`` (e.g. 45000) so that two test
#: runs can share a machine.
TEST_PORTS = ports_from_base(int(os.environ.get("MDG_PORT_BASE", "15000")))


def _outside_the_ephemeral_range(ports: dict[str, int]) -> None:
    """A listening port inside the kernel's ephemeral range can be taken at any moment
    as the source port of some client connection ("already in use"): refuse such a
    base rather than fail at random."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
                        .split())
    except (OSError, ValueError):
        return
    clash = [f"{name} {port}" for name, port in ports.items() if low <= port <= high]
    if clash:
        raise RuntimeError(f"MDG_PORT_BASE puts {', '.join(clash)} inside the ephemeral "
                           f"port range {low}-{high}; choose a base whose ports stay below "
                           f"{low} (e.g. 15000 or 20000)")


_outside_the_ephemeral_range(TEST_PORTS)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.failed_call = report.failed
    return report


@pytest.fixture
def state_dir(request) -> Iterator[Path]:
    """A fresh state directory; kept (and named in the output) when the test fails."""
    # short path: Asterisk's control socket path must stay under 108 characters
    path = Path(tempfile.mkdtemp(prefix="mdg-", dir="/tmp"))
    yield path
    if getattr(request.node, "failed_call", False):
        print(f"\nstate of the failed test kept in {path}")
    else:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    from tests.support.postgres import postgres_server_sync

    return postgres_server_sync()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request, state_dir: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{state_dir / 'madoguchi.db'}"
        return
    from tests.support.postgres import fresh_database

    url, drop, _name = await fresh_database(request.getfixturevalue("postgres_admin_url"))
    try:
        yield url
    finally:
        await drop()


def stack_env(state_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    """Environment for an `acd up` subprocess on the test ports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    env.update({f"MADOGUCHI_{k.upper()}": str(v) for k, v in TEST_PORTS.items()})
    env.update(MADOGUCHI_STATE_DIR=str(state_dir),
               MADOGUCHI_RECORDINGS_DIR=str(state_dir / "recordings"),
               MADOGUCHI_FLOWS_DIR=str(FIXTURES / "flows"),
               MADOGUCHI_LOG_FORMAT="json", DATABASE_URL=database_url)
    env.update(extra)
    return env
