"""The watcher of the recordings directories (inotify), on real files and real writers."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from asyncinotify import Mask

from acd.adapters.closes import CloseWatcher, Verdict

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def watcher(tmp_path: Path) -> AsyncIterator[CloseWatcher]:
    watcher = CloseWatcher([tmp_path / "recordings"])
    task = asyncio.create_task(watcher.run())
    await asyncio.wait_for(watcher.ready.wait(), 5)
    yield watcher
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def settle(watcher: CloseWatcher) -> None:
    """Let the watcher read what the kernel has queued."""
    for _ in range(5):
        await asyncio.sleep(0.02)


async def slow_writer(path: Path, chunks: int, pause: float) -> asyncio.subprocess.Process:
    """Another process that writes ``path`` in ``chunks`` bursts ``pause`` apart, then
    rewrites its first bytes (as MixMonitor patches the WAV header) and closes it."""
    return await asyncio.create_subprocess_exec(sys.executable, "-c", (
        "import sys, time\n"
        f"with open({str(path)!r}, 'wb', buffering=0) as f:\n"
        f"    for i in range({chunks}):\n"
        "        f.write(b'x' * 8000)\n"
        f"        time.sleep({pause})\n"
        "    f.seek(0); f.write(b'RIFF')\n"))


async def test_a_file_written_by_another_process_is_closed_when_its_writer_lets_go(
        watcher: CloseWatcher, tmp_path: Path):
    path = tmp_path / "recordings" / "1764720000.1.wav"
    writer = await slow_writer(path, chunks=6, pause=0.1)
    await settle(watcher)
    assert watcher.covers(path)
    assert watcher.verdict(path) is Verdict.OPEN
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await watcher.wait_closed(path, timeout=10) is Verdict.CLOSED
    assert await writer.wait() == 0  # the writer had exited: its close came last
    assert loop.time() - started < 2
    assert path.read_bytes()[:4] == b"RIFF"


async def test_a_reader_keeps_the_file_open_and_reads_do_not_count_as_the_end(
        watcher: CloseWatcher, tmp_path: Path):
    path = tmp_path / "recordings" / "1764720000.2.wav"
    writer = path.open("wb")
    writer.write(b"RIFF")
    writer.flush()
    await settle(watcher)
    with path.open("rb") as reader:
        reader.read()
    await settle(watcher)
    assert watcher.verdict(path) is Verdict.OPEN  # a read and its close: still written to
    reader = path.open("rb")
    writer.close()
    await settle(watcher)
    assert watcher.verdict(path) is Verdict.OPEN  # the reader still holds it
    reader.close()
    await settle(watcher)
    assert watcher.verdict(path) is Verdict.CLOSED


async def test_waiting_gives_up_after_the_timeout(watcher: CloseWatcher, tmp_path: Path):
    path = tmp_path / "recordings" / "1764720000.3.wav"
    with path.open("wb") as held:
        held.write(b"RIFF")
        await settle(watcher)
        assert await watcher.wait_closed(path, timeout=0.2) is Verdict.OPEN


async def test_files_not_seen_created_are_unknown(tmp_path: Path):
    """A file there before the watch, one moved in, and one made in a day folder before
    that folder was watched: the watcher does not know whether they are open."""
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    before = recordings / "1764720000.4.wav"
    before.write_bytes(b"RIFF")
    watcher = CloseWatcher([recordings])
    assert watcher.verdict(before) is Verdict.UNKNOWN  # not running
    task = asyncio.create_task(watcher.run())
    try:
        await asyncio.wait_for(watcher.ready.wait(), 5)
        assert watcher.verdict(before) is Verdict.UNKNOWN
        assert await watcher.wait_closed(before, 1) is Verdict.UNKNOWN
        outside = tmp_path / "elsewhere.wav"
        outside.write_bytes(b"RIFF")
        moved = recordings / "1764720000.5.wav"
        outside.rename(moved)
        # a day folder and its first file, both made before the watcher reads a thing
        day = recordings / "2026" / "12" / "04"
        day.mkdir(parents=True)
        early = day / "1764720000.6.wav"
        early.write_bytes(b"RIFF")
        await settle(watcher)
        assert watcher.verdict(moved) is Verdict.UNKNOWN
        assert watcher.verdict(early) is Verdict.UNKNOWN
        # from now on the day folder is watched: its next file is followed
        assert watcher.covers(early)
        later = day / "1764720000.7.wav"
        later.write_bytes(b"RIFF")
        await settle(watcher)
        assert watcher.verdict(later) is Verdict.CLOSED
        (recordings / "notes.txt").write_text("not a recording")
        (recordings / "1764720000.7.wav.mdgs").write_bytes(b"sealed")
        await settle(watcher)
        assert watcher.verdict(recordings / "notes.txt") is Verdict.UNKNOWN
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert watcher.verdict(later) is Verdict.UNKNOWN  # stopped: it knows nothing


async def test_a_file_deleted_or_an_overflow_forgets_what_was_followed(
        watcher: CloseWatcher, tmp_path: Path):
    path = tmp_path / "recordings" / "1764720000.8.wav"
    held = path.open("wb")
    await settle(watcher)
    waiting = asyncio.create_task(watcher.wait_closed(path, timeout=10))
    await settle(watcher)
    watcher._handle(Mask.Q_OVERFLOW, None)  # the kernel dropped events: nothing is sure
    assert await asyncio.wait_for(waiting, 1) is Verdict.UNKNOWN
    held.close()
    await settle(watcher)
    assert watcher.verdict(path) is Verdict.UNKNOWN
    again = tmp_path / "recordings" / "1764720000.9.wav"
    again.write_bytes(b"RIFF")
    await settle(watcher)
    assert watcher.verdict(again) is Verdict.CLOSED
    again.unlink()
    await settle(watcher)
    assert watcher.verdict(again) is Verdict.UNKNOWN
