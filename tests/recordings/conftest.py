"""Fixtures of the recordings tests: a site for the `acd recordings` CLI, two calls sealed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import structlog

from acd.adapters.db.engine import make_engine
from acd.adapters.db.migrate import upgrade
from acd.recordings import Keyring
from acd.recordings.store import RecordingStore
from tests.support.recordings import call, write_wav


@pytest.fixture
def site(state_dir: Path, database_url: str, monkeypatch):
    monkeypatch.setenv("MADOGUCHI_STATE_DIR", str(state_dir))
    monkeypatch.setenv("MADOGUCHI_RECORDINGS_DIR", str(state_dir / "recordings"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MADOGUCHI_LOG_FORMAT", "json")

    async def seed():
        await upgrade(database_url)
        engine = make_engine(database_url)
        store = RecordingStore(engine, Keyring(state_dir / "keys"), settle_seconds=0.01)
        recent = time.time() - 3600  # within its retention period
        for uid, caller, at in (("1700000000.1", "0312345678", 1_700_000_000.0),
                                ("1775000000.2", "09099998888", recent)):
            path = state_dir / "recordings" / f"{uid}.wav"
            write_wav(path, 1.0)
            await store.seal_after_call(call(uid, caller, path, at=at))
        await engine.dispose()

    structlog.reset_defaults()  # the CLI configures logging to a captured stderr
    asyncio.run(seed())
    yield state_dir
    structlog.reset_defaults()
