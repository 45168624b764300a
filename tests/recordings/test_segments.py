"""On-demand segments in the store (both databases): sealed after the call with their
segment number, times and who started/stopped them; recovered from the event log when
the controller stopped before sealing them; a segment whose file is missing is a failed
row and a failure told to the listeners (the stack writes RecordingFailed)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from acd.adapters.db.engine import Database, make_engine
from acd.adapters.db.migrate import upgrade
from acd.recordings import Keyring
from acd.recordings.models import Segment
from acd.recordings.store import RecordingStore
from tests.support.clock import Clock
from tests.support.recordings import T0, call, write_wav

UID = "1775000000.9"


async def test_segments_sealed_recovered_and_failures_told(state_dir: Path,
                                                          database_url: str):
    await upgrade(database_url)
    engine = make_engine(database_url)
    told: list[dict] = []

    async def listener(row: dict) -> None:
        told.append(row)

    store = RecordingStore(engine, Keyring(state_dir / "keys"), clock=Clock(T0 + 3600),
                           settle_seconds=0.01, on_failure=listener)
    try:
        record = replace(call(UID, "0312345678", None, talk=60.0), answered_at=T0 + 10,
                         agent="1001", line="0570000500")
        one = state_dir / "recordings" / f"{UID}-r1.wav"
        write_wav(one, 4.0)
        segments = [Segment(1, str(one), T0 + 20, "山田", None, T0 + 24, "山田"),
                    Segment(2, str(state_dir / "recordings" / f"{UID}-r2.wav"), T0 + 30,
                            "supervisor", None, T0 + 35, "hangup")]
        await store.submit_segments(record, segments)
        first = await store.get(f"{UID}-r1")
        assert first["status"] == "sealed" and first["duration_seconds"] == 4.0
        assert (first["segment"], first["started_by"], first["stopped_by"]) == (1, "山田", "山田")
        assert (first["started_at"], first["ended_at"]) == (T0 + 20, T0 + 24)
        assert first["call_uniqueid"] == UID and not one.exists()
        second = await store.get(f"{UID}-r2")
        assert second["status"] == "failed" and "does not exist" in second["error"]
        assert [r["uniqueid"] for r in told] == [f"{UID}-r2"]

        # the controller stopped before the call's end was handled: the event log tells
        db = Database(engine, state_dir / "spool.jsonl")
        other = "1775000000.10"
        left = state_dir / "recordings" / f"{other}-r1.wav"
        write_wav(left, 3.0)
        await db.save_record(replace(record, uniqueid=other))
        await db.append_event("RecordingStarted", T0 + 40, other, {
            "line": "0570000500", "segment": 1, "file": str(left), "by": "佐藤",
            "role": "agent"})
        await db.flushed()  # the writes are committed together
        handled = await store.recover(older_than=0)
        assert handled == 1
        recovered = await store.get(f"{other}-r1")
        assert recovered["status"] == "sealed"
        assert (recovered["started_by"], recovered["stopped_by"]) == ("佐藤", "hangup")
        assert recovered["ended_at"] == record.ended_at
        assert await store.recover(older_than=0) == 0  # nothing twice
    finally:
        await engine.dispose()
