"""Retention of personal data in the database (both databases): expired calls lose their
caller number, notes, callback details (in every table and in the event log), unexpired
ones keep them, a record of each erasure is written, the KPIs are the same before and
after, and the erasure certificate lists the erased calls."""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from acd.adapters.db.engine import Database, make_engine
from acd.adapters.db.migrate import upgrade
from acd.adapters.db.schema import (
    call_events,
    call_records,
    dispositions,
    personal_data_erasures,
    voicemails,
)
from acd.domain.clock import JST
from acd.recordings import Keyring
from acd.recordings.schedule import run_daily_purge
from acd.recordings.store import RecordingStore
from acd.reports.kpi import compute_kpis
from tests.support.clock import Clock
from tests.support.recordings import call, write_wav

NOW = datetime(2026, 7, 10, 12, 0, tzinfo=JST).timestamp()
DAY = 86400.0
OLD, RECENT, LONG_KEPT = "1775000000.1", "1775000000.2", "1775000000.3"
LONG_LINE = "0570000999"


async def seed(db: Database, state_dir: Path, store: RecordingStore) -> Path:
    """Three answered calls with dispositions, one voicemail (not sealed) and events."""
    vm = state_dir / "voicemail" / f"{OLD}.wav"
    write_wav(vm, 1.0)
    for uid, days_ago, caller, line in ((OLD, 100, "0312345678", "0570000123"),
                                        (RECENT, 10, "0398765432", "0570000123"),
                                        (LONG_KEPT, 100, "0311112222", LONG_LINE)):
        at = NOW - days_ago * DAY
        wav = state_dir / "recordings" / f"{uid}.wav"
        write_wav(wav, 1.0)
        record = call(uid, caller, wav, at=at)
        record = replace(record, line=line)
        await db.save_record(record)
        await db.append_event("LineEntered", at, uid, {"uniqueid": uid, "line": line,
                                                       "queue": "main", "caller": caller})
        await db.append_event("DispositionRecorded", at + 60, uid, {
            "uniqueid": uid, "agent": "1001", "outcome": "完了", "note": f"{caller}様 住所変更"})
        await db.save_disposition({"uniqueid": uid, "agent": "1001", "queue": "main",
                                   "outcome": "完了", "category": "住民票", "complaint": False,
                                   "escalation": False, "note": f"{caller}様 住所変更",
                                   "recorded_at": at + 60})
        await store.seal_after_call(record)
    await db.save_voicemail({"uniqueid": OLD, "line": "0570000123", "queue": "main",
                             "caller": "0312345678", "file": str(vm), "seconds": 1.0,
                             "left_at": NOW - 100 * DAY, "handled_at": None,
                             "handled_by": None})
    return vm


async def kpis(engine):
    start = datetime(2026, 3, 1, tzinfo=JST)
    report = await compute_kpis(engine, start, start + timedelta(days=150), now=NOW)
    figures = asdict(report.overall)
    assert figures["answered"] == 3
    return figures, report.by_category, {a: asdict(f) for a, f in report.agents.items()}


async def test_expired_personal_data_is_erased_with_a_record_and_kpis_hold(
        state_dir: Path, database_url: str):
    await upgrade(database_url)
    engine = make_engine(database_url)
    clock = Clock(NOW)
    store = RecordingStore(engine, Keyring(state_dir / "keys"), clock=clock,
                           settle_seconds=0.01,
                           retention_for={LONG_LINE: 200}.get)
    db = Database(engine, state_dir / "spool.jsonl")
    try:
        vm = await seed(db, state_dir, store)
        before = await kpis(engine)

        # the daily purge's job, once: recordings and personal data of expired calls
        class OneDayDone(Exception):
            pass

        async def one_day(seconds):
            if clock.now > NOW:
                raise OneDayDone
            clock.now += seconds

        with contextlib.suppress(OneDayDone):
            await run_daily_purge(store, clock, sleep=one_day, sweep_every=2 * DAY)
        await store.drain()

        async with engine.connect() as conn:
            records = {r.uniqueid: r for r in (await conn.execute(select(call_records))).all()}
            notes = {r.uniqueid: r.note for r in (await conn.execute(select(dispositions)))}
            vms = {r.uniqueid: r.caller for r in (await conn.execute(select(voicemails)))}
            events = (await conn.execute(select(call_events))).all()
            erasures = (await conn.execute(select(personal_data_erasures))).mappings().all()
        assert records[OLD].caller == "" and notes[OLD] == "" and vms[OLD] == ""
        assert records[OLD].talk_seconds == records[RECENT].talk_seconds  # times kept
        assert records[OLD].outcome == "answered"
        assert records[RECENT].caller == "0398765432" and notes[RECENT].startswith("0398")
        assert records[LONG_KEPT].caller == "0311112222"  # its line keeps 200 days
        for event in events:
            payload = json.loads(event.payload)
            if event.uniqueid == OLD:
                assert payload.get("caller", "") == "" and payload.get("note", "") == ""
            else:
                assert payload.get("caller") or payload.get("note")
        assert not vm.exists()  # the unsealed voicemail message is overwritten and gone
        assert [e["uniqueid"] for e in erasures] == [OLD]
        fields = json.loads(erasures[0]["fields"])
        assert fields == {"call_records.caller": 1, "dispositions.note": 1,
                          "voicemails.caller": 1, "recordings.caller": 1, "call_events": 2,
                          "voicemails.file": 1}
        assert erasures[0]["erased_by"] == "system (daily purge)"
        assert await kpis(engine) == before  # the KPIs do not need the personal data

        # the certificate of the day lists the recording and the call's personal data
        day = datetime.fromtimestamp(clock.now, JST).date()
        csv = (await store.certificate(day, day, format="csv")).decode("utf-8-sig")
        assert OLD in csv and "個人情報" in csv and "発信者番号" in csv
        assert "0312345678" not in csv
        html = (await store.certificate(day, day, format="html")).decode()
        assert "個人情報（通話記録・対応記録等）の抹消" in html and OLD in html

        # nothing twice; the end of a contract erases the rest
        again = await store.personal.purge_expired(clock.now, "admin")
        assert again.erased == []
        end = await store.personal.purge_before(NOW + DAY, "契約終了担当", "契約終了")
        assert sorted(end.erased) == [RECENT, LONG_KEPT]
        async with engine.connect() as conn:
            callers = set((await conn.execute(select(call_records.c.caller))).scalars())
        assert callers == {""}
        assert await kpis(engine) == before
    finally:
        await engine.dispose()

