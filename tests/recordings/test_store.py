"""The recording store on real SQLite and PostgreSQL: seal after a call, search, ranged
playback, the access log, purge to tombstones, the certificate, recovery and keys."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import structlog
from sqlalchemy import insert, select

from acd.adapters.db.engine import Database, make_engine
from acd.adapters.db.migrate import upgrade
from acd.adapters.db.schema import dispositions, recordings
from acd.adapters.files import wav_duration
from acd.domain.clock import JST, jst_day_start, parse_when
from acd.recordings import Keyring, parse_csv, seal_recording, verify_csv
from acd.recordings.models import (
    RecordingError,
    RecordingGone,
    RecordingNotFound,
    RecordingUnavailable,
)
from acd.recordings.schedule import run_daily_purge, seconds_until_next
from acd.recordings.store import RecordingStore
from tests.support.clock import Clock
from tests.support.recordings import T0, call, write_wav

DAY = 86400.0


@pytest.fixture
async def store(state_dir: Path, database_url: str):
    await upgrade(database_url)
    engine = make_engine(database_url)
    clock = Clock(T0 + 3600)
    yield RecordingStore(engine, Keyring(state_dir / "keys"), retention_days=90, clock=clock,
                         settle_seconds=0.02)
    await engine.dispose()


async def rows(store: RecordingStore, table=recordings):
    async with store.engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(select(table))).mappings().all()]


async def test_seal_search_play_log_purge_and_certify(store: RecordingStore, state_dir: Path):
    rec_dir = state_dir / "recordings" / "2026" / "04" / "01"
    plain_a = write_wav(rec_dir / "1743467400.1.wav", 3.0, 440)
    plain_b = write_wav(rec_dir / "1743467500.2.wav", 7.5, 620)
    a = call("1743467400.1", "0312345678", rec_dir / "1743467400.1.wav")
    b = call("1743467500.2", "09011112222", rec_dir / "1743467500.2.wav", at=T0 + 100,
             talk=7.5, agent="1002")
    async with store.engine.begin() as conn:
        await conn.execute(insert(dispositions).values(
            uniqueid=b.uniqueid, agent="1002", queue="main", outcome="取次", category="税",
            complaint=False, escalation=False, note="", recorded_at=T0 + 200))

    [row_a] = await store.seal_after_call(a)
    [row_b] = await store.seal_after_call(b)

    # sealed: the plain WAVs are gone, the sealed files are not WAVs, the rows are complete
    for row, plain in ((row_a, plain_a), (row_b, plain_b)):
        assert row["status"] == "sealed", row
        assert not Path(row["source_path"]).exists()
        sealed = Path(row["sealed_path"]).read_bytes()
        assert plain[100:200] not in sealed and not sealed.startswith(b"RIFF")
        assert row["sha256"] == hashlib.sha256(plain).hexdigest()
        assert row["plain_size"] == len(plain)
        assert row["key_id"] == store.keyring.current_key_id
        assert row["retention_until"] == pytest.approx(row["ended_at"] + 90 * DAY)
    assert row_a["duration_seconds"] == pytest.approx(3.0)
    assert row_b["duration_seconds"] == pytest.approx(7.5)
    assert row_a["started_at"] == a.answered_at
    # sealing the same call again changes nothing
    assert (await store.seal_after_call(a))[0]["sealed_at"] == row_a["sealed_at"]

    # search: by a part of the caller's number, newest first, filters, paging, disposition
    found = await store.search(caller="2345", who="suzuki", remote="127.0.0.9")
    assert [r["uniqueid"] for r in found.items] == [a.uniqueid] and found.total == 1
    everything = await store.search()
    assert [r["uniqueid"] for r in everything.items] == [b.uniqueid, a.uniqueid]
    assert everything.items[0]["disposition_outcome"] == "取次"
    assert everything.items[0]["disposition_category"] == "税"
    assert everything.items[1]["disposition_outcome"] is None
    assert [r["uniqueid"] for r in (await store.search(limit=1, offset=1)).items] == \
        [a.uniqueid]
    assert (await store.search(limit=1)).total == 2
    assert [r["uniqueid"] for r in (await store.search(outcome="取次")).items] == [b.uniqueid]
    assert (await store.search(outcome="完了")).total == 0
    assert (await store.search(category="税", agent="1002")).total == 1
    assert [r["uniqueid"] for r in (await store.search(min_seconds=5)).items] == [b.uniqueid]
    assert (await store.search(line="0570000123", queue="main")).total == 2
    assert (await store.search(caller="%")).total == 0  # LIKE wildcards are literal
    day = date(2026, 4, 1)
    assert (await store.search(since=jst_day_start(day),
                               until=parse_when("2026-04-01", end=True))).total == 2
    assert (await store.search(since=parse_when("2026-04-02"))).total == 0
    assert (await store.search(until=row_b["started_at"])).total == 1

    # playback: ranges decrypt to the plain bytes
    with await store.open_for_playback(b.uniqueid, "suzuki", "127.0.0.9",
                                       detail="bytes=0-") as playback:
        assert playback.size == len(plain_b) and playback.content_type == "audio/wav"
        for start, end in ((0, 44), (0, len(plain_b)), (65_530, 65_600),
                           (len(plain_b) - 10, len(plain_b)), (1000, 1000)):
            assert playback.reader.read_range(start, end) == plain_b[start:end]
        pieces = [p async for p in playback.reader.aiter_range(12_345, 110_000, batch=50_000)]
        assert b"".join(pieces) == plain_b[12_345:110_000]
    with pytest.raises(RecordingNotFound):
        await store.open_for_playback("nope", "suzuki", None)

    log = await store.access_log()
    assert [(e["who"], e["action"], e["recording_uniqueid"], e["remote"]) for e in log] == [
        ("suzuki", "play", b.uniqueid, "127.0.0.9"),
        ("suzuki", "search", None, "127.0.0.9")]
    assert log[0]["detail"] == "bytes=0-"
    assert '"caller": "2345"' in log[1]["detail"]
    assert [e["action"] for e in await store.access_log(action="play")] == ["play"]

    # purge: nothing has expired yet; 91 days later both have
    assert (await store.purge_expired(None, "admin")).erased == []
    result = await store.purge_expired(T0 + 91 * DAY, "山田 太郎")
    assert sorted(result.erased) == sorted([a.uniqueid, b.uniqueid]) and not result.failed
    tombs = {r["uniqueid"]: r for r in await rows(store)}
    for row in (row_a, row_b):
        tomb = tombs[row["uniqueid"]]
        assert tomb["status"] == "erased" and tomb["erasure_method"] == "overwrite+unlink"
        assert tomb["erased_by"] == "山田 太郎" and tomb["erasure_reason"] == "保存期間満了"
        assert tomb["sha256"] == row["sha256"] and tomb["caller"] == row["caller"]
        assert not Path(row["sealed_path"]).exists()
        assert not list(Path(row["sealed_path"]).parent.iterdir())  # no renamed leftovers
    with pytest.raises(RecordingGone):
        await store.open_for_playback(a.uniqueid, "suzuki", None)
    assert (await store.search()).total == 0
    assert (await store.search(status="erased")).total == 2
    assert (await store.purge_expired(T0 + 92 * DAY, "admin")).erased == []  # once only

    # the certificate lists both erasures, in JST days
    store.clock.now = T0 + 95 * DAY
    erased_day = datetime.fromtimestamp(tombs[a.uniqueid]["erased_at"], JST).date()
    csv_bytes = await store.certificate(erased_day, erased_day, lang="ja", format="csv",
                                        organisation="〇〇市", issuer="課長", who="admin")
    assert verify_csv(csv_bytes)
    parsed = parse_csv(csv_bytes)
    assert sorted(i["recording_id"] for i in parsed.items) == sorted([a.uniqueid, b.uniqueid])
    assert {i["sha256"] for i in parsed.items} == {row_a["sha256"], row_b["sha256"]}
    assert {i["size"] for i in parsed.items} == {str(len(plain_a)), str(len(plain_b))}
    html = (await store.certificate(erased_day, erased_day, lang="en",
                                    format="html")).decode()
    assert a.uniqueid in html and b.uniqueid in html and "Certificate of Erasure" in html
    before = erased_day - timedelta(days=1)
    assert len(parse_csv(await store.certificate(before, before, format="csv")).items) == 0

    actions = [e["action"] for e in await store.access_log()]
    assert actions.count("erase") == 2 and actions.count("certificate") == 3


async def test_a_failed_sealing_is_an_alarm_and_a_row_and_is_retried(
        store: RecordingStore, state_dir: Path):
    path = state_dir / "recordings" / "late.wav"
    record = call("1743467600.3", "0311112222", path)
    with structlog.testing.capture_logs() as logs:
        [row] = await store.seal_after_call(record)
    assert row["status"] == "failed" and "does not exist" in row["error"]
    alarms = [e for e in logs if e["event"] == "recording.failed"]
    assert alarms and alarms[0]["alarm"] is True and alarms[0]["log_level"] == "error"
    assert alarms[0]["uniqueid"] == record.uniqueid
    assert (await store.search(status="failed")).total == 1
    with pytest.raises(RecordingUnavailable):
        await store.open_for_playback(record.uniqueid, "x", None)

    # the file turns up (e.g. a slow disk): the next attempt seals it
    write_wav(path, 1.0)
    [row] = await store.seal_after_call(record)
    assert row["status"] == "sealed" and row["error"] is None
    assert [r["status"] for r in await rows(store)] == ["sealed"]


async def test_a_failed_sealing_with_no_file_is_closed_by_the_purge(store: RecordingStore,
                                                                    state_dir: Path):
    record = call("1743467600.4", "0311112222", state_dir / "recordings" / "never.wav")
    await store.seal_after_call(record)
    result = await store.purge_expired(T0 + 100 * DAY, "admin")
    assert result.erased == [record.uniqueid]
    [row] = await rows(store)
    assert (row["status"], row["erasure_method"]) == ("erased", "absent")
    assert (await store.certificate(date(2026, 1, 1), date(2027, 1, 1), format="csv")) \
        .count(b"1743467600.4") == 0  # nothing was erased, nothing is certified


async def test_voicemail_is_sealed_as_its_own_recording(store: RecordingStore, state_dir: Path):
    vm = state_dir / "recordings" / "voicemail" / "1743467700.5.wav"
    plain = write_wav(vm, 2.0)
    record = call("1743467700.5", "0312340000", None, voicemail=vm)
    [row] = await store.seal_after_call(record)
    assert (row["uniqueid"], row["kind"], row["call_uniqueid"], row["status"]) == \
        ("1743467700.5-vm", "voicemail", record.uniqueid, "sealed")
    assert not vm.exists()
    page = await store.search(call_uniqueid=record.uniqueid)
    assert [r["kind"] for r in page.items] == ["voicemail"]
    with await store.open_for_playback(row["uniqueid"], "x", None) as playback:
        assert playback.reader.read_range(0) == plain


async def test_background_sealing_and_recovery_after_a_crash(store: RecordingStore,
                                                             state_dir: Path, database_url: str):
    rec_dir = state_dir / "recordings"
    write_wav(rec_dir / "1.wav", 1.0)
    write_wav(rec_dir / "2.wav", 1.0, 300)
    plain3 = write_wav(rec_dir / "3.wav", 1.5, 500)
    first = call("1743467800.1", "0300000001", rec_dir / "1.wav")
    second = call("1743467800.2", "0300000002", rec_dir / "2.wav")
    third = call("1743467800.3", "0300000003", rec_dir / "3.wav")
    db = Database(store.engine, state_dir / "spool.jsonl")
    for record in (first, second, third):
        await db.save_record(record)

    # the controller's way: submit and go on; drain before stopping
    assert store.submit(first) is not None
    assert store.submit(call("x", "0", None)) is None  # nothing to seal
    await store.drain()
    assert [r["uniqueid"] for r in await rows(store)] == [first.uniqueid]

    # a crash after sealing and before the row: the sealed file is adopted; and a call
    # whose recording was never sealed (the controller was down) is sealed now
    seal_recording(rec_dir / "3.wav", store.keyring)
    assert await store.recover() == 2
    by_id = {r["uniqueid"]: r for r in await rows(store)}
    assert by_id[third.uniqueid]["status"] == "sealed"
    assert by_id[third.uniqueid]["sha256"] == hashlib.sha256(plain3).hexdigest()
    assert by_id[third.uniqueid]["duration_seconds"] == pytest.approx(1.5)
    assert by_id[second.uniqueid]["status"] == "sealed"
    assert not list(rec_dir.glob("*.wav"))
    assert await store.recover() == 0


async def test_purge_before_and_key_destruction(store: RecordingStore, state_dir: Path):
    rec_dir = state_dir / "recordings"
    write_wav(rec_dir / "old.wav", 1.0)
    write_wav(rec_dir / "new.wav", 1.0, 300)
    old = call("1743000000.1", "0300000001", rec_dir / "old.wav", at=T0 - 10 * DAY)
    new = call("1743467900.2", "0300000002", rec_dir / "new.wav")
    await store.seal_after_call(old)
    old_key = store.keyring.current_key_id
    store.keyring.rotate()
    await store.seal_after_call(new)
    assert (await store.key_usage()) == {old_key: {"sealed": 1},
                                         store.keyring.current_key_id: {"sealed": 1}}

    with pytest.raises(ValueError):
        await store.purge_before(date(2026, 3, 25), "admin", reason=" ")
    result = await store.purge_before(date(2026, 3, 25), "admin", "情報公開請求の対応終了")
    assert result.erased == [old.uniqueid]
    assert (await store.get(new.uniqueid))["status"] == "sealed"

    # the new key still protects a recording within its retention period
    store.keyring.rotate()
    newer_key = (await store.get(new.uniqueid))["key_id"]
    with pytest.raises(RecordingError) as refused:
        await store.destroy_key(newer_key, "admin", "漏えい対応")
    assert refused.value.error_id == "KEY_IN_RETENTION"
    result = await store.destroy_key(newer_key, "admin", "漏えい対応", force=True)
    assert result.erased == [new.uniqueid]
    row = await store.get(new.uniqueid)
    assert (row["status"], row["erasure_method"]) == ("erased", "crypto-shred,overwrite+unlink")
    assert not Path(row["sealed_path"]).exists()
    assert [k.state for k in store.keyring.keys()  # noqa: SIM118
            if k.key_id == newer_key] == ["destroyed"]


async def test_daily_purge_runs_at_three_in_the_morning_jst(store: RecordingStore,
                                                            state_dir: Path):
    write_wav(state_dir / "recordings" / "a.wav", 1.0)
    record = call("1743468000.1", "0300000001", state_dir / "recordings" / "a.wav")
    await store.seal_after_call(record)
    store.clock.now = record.ended_at + 90 * DAY - 60  # a minute before it expires
    slept = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 3:
            raise asyncio.CancelledError
        store.clock.now += seconds

    with pytest.raises(asyncio.CancelledError):
        await run_daily_purge(store, store.clock, sleep=sleep, sweep_every=2 * DAY)
    wake = datetime.fromtimestamp(record.ended_at + 90 * DAY - 60 + slept[0], JST)
    assert (wake.hour, wake.minute, wake.second) == (3, 0, 0)
    row = await store.get(record.uniqueid)
    assert row["status"] == "erased" and row["erased_by"] == "system (daily purge)"


def test_wav_duration_and_times(tmp_path: Path):
    data = write_wav(tmp_path / "a.wav", 2.5)
    assert wav_duration(data[:4096], len(data)) == pytest.approx(2.5)
    # a header never patched (data length 0), as when the writer was killed
    unpatched = data[:40] + b"\0\0\0\0" + data[44:]
    assert wav_duration(unpatched[:4096], len(unpatched)) == pytest.approx(2.5)
    assert wav_duration(b"not a wav", 100) is None
    assert parse_when("2026-04-01") == datetime(2026, 4, 1, tzinfo=JST).timestamp()
    assert parse_when("2026-04-01", end=True) == datetime(2026, 4, 2, tzinfo=JST).timestamp()
    assert parse_when("2026-04-01T09:30") == T0
    assert parse_when("1700000000") == 1700000000.0
    assert parse_when("") is None
    with pytest.raises(ValueError):
        parse_when("yesterday")
    assert seconds_until_next(datetime(2026, 4, 1, 2, 0, tzinfo=JST).timestamp()) == 3600
    assert seconds_until_next(datetime(2026, 4, 1, 3, 0, tzinfo=JST).timestamp()) == DAY


async def test_sealing_waits_until_the_writer_has_closed_the_file(store: RecordingStore,
                                                                  state_dir: Path):
    """Like MixMonitor after the hangup: writes in bursts with pauses longer than the
    settle time, then patches the header and closes; the sealed copy must be complete."""
    path = state_dir / "recordings" / "slow.wav"
    full = write_wav(path, 2.0)
    path.write_bytes(full[:1000])
    (state_dir / "recordings" / "full.bin").write_bytes(full)
    # a separate process writes the file slowly, as Asterisk would, while we wait
    writer = subprocess.Popen([sys.executable, "-c", (  # noqa: ASYNC220
        "import sys, time\n"
        f"data = open({str(state_dir / 'recordings' / 'full.bin')!r}, 'rb').read()\n"
        f"with open({str(path)!r}, 'r+b', buffering=0) as f:\n"
        "    f.seek(1000)\n"
        "    for i in range(1000, len(data), 8000):\n"
        "        time.sleep(0.3)\n"
        "        f.write(data[i:i + 8000])\n"
        "    time.sleep(0.3)\n"
        "    f.seek(0); f.write(data[:44])\n"
        "    time.sleep(0.3)\n")])
    try:
        await asyncio.sleep(0.2)
        assert store.settle_seconds < 0.3
        [row] = await store.seal_after_call(call("1743468100.1", "0300000001", path))
    finally:
        writer.wait(10)
    assert row["status"] == "sealed", row
    assert row["sha256"] == hashlib.sha256(full).hexdigest()
    assert row["duration_seconds"] == pytest.approx(2.0)


async def test_the_disk_sweep_seals_every_plain_file_left(state_dir: Path, database_url: str):
    """Plain WAVs nobody named: an orphan (no call record), a segment whose events were
    lost, a voicemail message; an empty file goes; a file still open or still changing
    is left alone; the orphan's row is completed when its call's record comes."""
    await upgrade(database_url)
    engine = make_engine(database_url)
    rec_dir = state_dir / "recordings"
    clock = Clock(time.time() + 600)  # every file written below is 10 minutes old
    store = RecordingStore(engine, Keyring(state_dir / "keys"), clock=clock,
                           settle_seconds=0.02, recordings_dir=rec_dir,
                           voicemail_dir=rec_dir / "voicemail", orphan_quiet_seconds=120)
    day = rec_dir / "2026" / "12" / "03"
    orphan_audio = write_wav(day / "1764720000.5.wav", 2.0, 330)
    write_wav(day / "1764720000.6-r1.wav", 1.0, 550)
    write_wav(rec_dir / "voicemail" / "2026" / "12" / "03" / "1764720000.7.wav", 1.5)
    (day / "1764720000.8.wav").write_bytes(orphan_audio[:44])  # a header, no audio
    (day / "notes.txt").write_text("not Asterisk's")
    held = day / "1764720000.9.wav"
    write_wav(held, 1.0)
    db = Database(engine, state_dir / "spool.jsonl")
    await db.save_record(call("1764720000.6", "0311112222", None))  # names no file
    try:
        with held.open("rb") as fh:
            holder = await asyncio.create_subprocess_exec("sleep", "60", stdin=fh)
            try:
                with structlog.testing.capture_logs() as logs:
                    assert await store.sweep() == 3
                    fresh = day / "1764720001.1.wav"
                    write_wav(fresh, 1.0)
                    os.utime(fresh, (clock.now - 60, clock.now - 60))  # a minute ago
                    assert await store.sweep() == 0  # too fresh, and held open
            finally:
                holder.kill()
                await holder.wait()
        by_id = {r["uniqueid"]: r for r in await rows(store)}
        orphan = by_id["1764720000.5"]
        assert (orphan["status"], orphan["line"], orphan["caller"]) == ("sealed", "", "")
        assert orphan["duration_seconds"] == pytest.approx(2.0)
        segment = by_id["1764720000.6-r1"]
        assert (segment["line"], segment["caller"], segment["segment"]) == (
            "0570000123", "0311112222", 1)
        assert by_id["1764720000.7-vm"]["kind"] == "voicemail"
        assert set(by_id) == {"1764720000.5", "1764720000.6-r1", "1764720000.7-vm"}
        assert sorted(p.name for p in rec_dir.rglob("*.wav")) == [
            "1764720000.9.wav", "1764720001.1.wav"]
        alarms = [e for e in logs if e.get("alarm")]
        assert {e["event"] for e in alarms} == {"recording.orphan_sealed"}, alarms
        assert sorted(e["uniqueid"] for e in alarms) == ["1764720000.5", "1764720000.7-vm"]

        # the call's record comes (the controller caught up): the orphan gets its call
        record = call("1764720000.5", "0399990000", day / "1764720000.5.wav", agent="1002")
        [row] = await store.seal_after_call(record)
        assert (row["line"], row["caller"], row["agent"]) == ("0570000123", "0399990000",
                                                             "1002")
        assert (await store.get("1764720000.5"))["caller"] == "0399990000"
        with await store.open_for_playback("1764720000.5", "x", None) as playback:
            assert playback.reader.read_range(0) == orphan_audio
    finally:
        await engine.dispose()
