"""Sealing learns that Asterisk has closed a recording from the directory watcher, and
looks in /proc only for a file the watcher did not see created."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from acd.adapters.closes import CloseWatcher
from acd.adapters.db.engine import make_engine
from acd.adapters.db.migrate import upgrade
from acd.recordings import Keyring, sealing
from acd.recordings.store import RecordingStore
from tests.support.clock import Clock
from tests.support.recordings import T0, call, write_wav


@pytest.fixture
async def watched(state_dir: Path, database_url: str) -> AsyncIterator[RecordingStore]:
    await upgrade(database_url)
    engine = make_engine(database_url)
    rec = state_dir / "recordings"
    store = RecordingStore(engine, Keyring(state_dir / "keys"), clock=Clock(T0 + 3600),
                           settle_seconds=0.02, recordings_dir=rec,
                           voicemail_dir=rec / "voicemail", closes=CloseWatcher([rec]))
    task = asyncio.create_task(store.watch())
    assert store.sealer.closes is not None
    await asyncio.wait_for(store.sealer.closes.ready.wait(), 5)
    yield store
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await engine.dispose()


@pytest.fixture
def proc_looks(monkeypatch) -> list[Path]:
    looked: list[Path] = []
    real = sealing.open_elsewhere

    def counting(path: Path):
        looked.append(path)
        return real(path)
    monkeypatch.setattr(sealing, "open_elsewhere", counting)
    return looked


async def test_a_recording_is_sealed_once_its_writer_has_closed_it(
        watched: RecordingStore, state_dir: Path, proc_looks: list[Path]):
    """The writer pauses longer than any settle time, then patches the header and closes:
    sealing waits for that close, with no look at /proc."""
    day = state_dir / "recordings" / "2026" / "04" / "01"
    day.mkdir(parents=True)
    await asyncio.sleep(0.1)  # the day folder is watched
    path = day / "1743468100.1.wav"
    full = write_wav(state_dir / "full.bin", 2.0)
    writer = await asyncio.create_subprocess_exec(sys.executable, "-c", (
        "import time\n"
        f"data = open({str(state_dir / 'full.bin')!r}, 'rb').read()\n"
        f"with open({str(path)!r}, 'wb', buffering=0) as f:\n"
        "    f.write(b'\\0' * 44)\n"
        "    for i in range(44, len(data), 8000):\n"
        "        time.sleep(0.2)\n"
        "        f.write(data[i:i + 8000])\n"
        "    time.sleep(0.5)\n"
        "    f.seek(0); f.write(data[:44])\n"))
    await asyncio.sleep(0.3)
    [row] = await watched.seal_after_call(call("1743468100.1", "0300000001", path))
    assert await writer.wait() == 0
    assert row["status"] == "sealed", row
    assert row["sha256"] == hashlib.sha256(full).hexdigest()
    assert not path.exists()
    assert proc_looks == []


async def test_a_file_there_before_the_watch_is_looked_up_in_proc_once(
        watched: RecordingStore, state_dir: Path, proc_looks: list[Path]):
    path = state_dir / "recordings" / "1743468100.2.wav"
    outside = state_dir / "elsewhere.wav"
    full = write_wav(outside, 1.0)
    outside.rename(path)  # moved in: the watcher cannot tell whether it is open
    [row] = await watched.seal_after_call(call("1743468100.2", "0300000002", path))
    assert row["status"] == "sealed", row
    assert row["sha256"] == hashlib.sha256(full).hexdigest()
    assert proc_looks == [path]
