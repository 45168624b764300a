"""Shared fixtures: test ports that never collide with `make run`, and both databases."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

#: Ports of the Asterisk the tests start (make run uses 5060/5038/8080).
TEST_PORTS = {"sip_port": 15060, "ami_port": 15038, "gateway_port": 18080,
              "rtp_start": 16000, "rtp_end": 16999}


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
