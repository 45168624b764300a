"""Benchmark (not a test): compute_kpis for a month over N synthetic calls spread over a year.

    python benchmarks/kpi_month.py --sqlite            # a fresh SQLite file, 100,000 calls
    python benchmarks/kpi_month.py --postgres --full   # a fresh PostgreSQL db, 1,000,000 calls
    DATABASE_URL=... python benchmarks/kpi_month.py    # an existing (empty) database

The fresh databases are dropped afterwards (``--keep`` keeps it and prints its URL;
``--reuse URL`` times an already loaded one). Every answered call has a disposition and
three agent state events (on_call, wrapup, ready), as the controller writes them, plus a
daily login/logout per agent; the agent intervals the controller would have written with
them are derived from those events (acd/reports/intervals.py) and loaded too. Timed: the
month of November (about N/12 calls), one day, and the whole year.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

import acd.adapters.db.migrate
from acd.adapters.db.engine import make_engine
from acd.adapters.db.schema import (
    agent_intervals,
    call_events,
    call_records,
    dispositions,
)
from acd.domain.clock import JST, day_range, month_range
from acd.reports.intervals import intervals_from_events, parse_state_change
from acd.reports.kpi import compute_kpis

YEAR = 2026
LINES = [("0570000123", "main"), ("0570000124", "main"), ("0570000999", "tax")]
AGENTS = [str(1001 + i) for i in range(30)]
OUTCOMES = (["answered"] * 80 + ["abandoned"] * 8 + ["overflow"] * 3 + ["voicemail"] * 2
            + ["after_hours"] * 5 + ["event_info"] * 2)
DISPOSITIONS = (["完了"] * 50 + ["取次"] * 20 + ["転送"] * 15 + ["エスカレーション"] * 5
                + ["その他"] * 10)
CATEGORIES = ["税金", "子育て", "ごみ", "国保", "住民票", "福祉", None]
BATCH = 5000


def synthetic(n: int, seed: int = 7):
    rnd = random.Random(seed)
    t0 = datetime(YEAR, 1, 1, tzinfo=JST).timestamp()
    year = datetime(YEAR + 1, 1, 1, tzinfo=JST).timestamp() - t0
    records, disps, events = [], [], []
    days = int(year // 86400)
    for i in range(n):
        outcome = rnd.choice(OUTCOMES)
        day = t0 + rnd.randrange(days) * 86400
        if outcome == "after_hours":  # 17:15-08:30
            entered = day + 17.25 * 3600 + rnd.random() * 15.25 * 3600
        else:  # open hours, 08:30-17:15, while the agents are logged in (08:30-18:30)
            entered = day + 8.5 * 3600 + rnd.random() * 8.75 * 3600
        line, queue = rnd.choice(LINES)
        agent = rnd.choice(AGENTS) if outcome == "answered" else None
        wait = rnd.expovariate(1 / 15) if outcome in ("answered", "abandoned", "overflow",
                                                        "voicemail") else None
        talk = rnd.expovariate(1 / 240) if agent else None
        end = entered + 5 + (wait or 0) + (talk or 0)
        uid = f"{YEAR}.{i}"
        records.append({"uniqueid": uid, "line": line, "queue": queue, "caller": "0312345678",
                        "agent": agent, "entered_at": entered,
                        "queue_joined_at": entered + 5 if wait is not None else None,
                        "answered_at": entered + 5 + wait if agent else None, "ended_at": end,
                        "wait_seconds": wait, "talk_seconds": talk, "outcome": outcome,
                        "agents_rung": 1 if agent else 0, "recording_file": None,
                        "close_reason": "hangup", "congestion_seconds": 0.0})
        if agent:
            disps.append({"uniqueid": uid, "agent": agent, "queue": queue,
                          "outcome": rnd.choice(DISPOSITIONS), "category": rnd.choice(CATEGORIES),
                          "complaint": rnd.random() < 0.02, "escalation": rnd.random() < 0.03,
                          "note": "", "recorded_at": end + 30})
            for at, status, previous in ((end - talk, "on_call", "ringing"),
                                         (end, "wrapup", "on_call"), (end + 30, "ready", "wrapup")):
                events.append({"occurred_at": at, "kind": "AgentStateChanged", "uniqueid": uid,
                               "payload": json.dumps({"agent": agent, "status": status,
                                                      "previous": previous, "reason": None,
                                                      "ready_since": None})})
    day = t0
    while day < t0 + year:  # a daily login 08:30 and logout 18:30 per agent
        for agent in AGENTS:
            for at, status, previous in ((day + 8.5 * 3600, "ready", "logged_out"),
                                         (day + 18.5 * 3600, "logged_out", "ready")):
                events.append({"occurred_at": at, "kind": "AgentStateChanged", "uniqueid": None,
                               "payload": json.dumps({"agent": agent, "status": status,
                                                      "previous": previous, "reason": None,
                                                      "ready_since": None})})
        day += 86400
    events.sort(key=lambda e: e["occurred_at"])
    intervals = [i.row() for i in intervals_from_events(
        parse_state_change(e["occurred_at"], e["payload"], e["uniqueid"]) for e in events)]
    return records, disps, events, intervals


async def load(url: str, n: int) -> None:
    await acd.adapters.db.migrate.upgrade(url)
    records, disps, events, intervals = synthetic(n)
    engine = make_engine(url)
    started = time.perf_counter()
    async with engine.begin() as conn:
        for table, rows in ((call_records, records), (dispositions, disps),
                            (call_events, events), (agent_intervals, intervals)):
            for i in range(0, len(rows), BATCH):
                await conn.execute(insert(table), rows[i:i + BATCH])
    print(f"inserted {len(records):,} calls, {len(disps):,} dispositions, {len(events):,} "
          f"state events, {len(intervals):,} agent intervals in "
          f"{time.perf_counter() - started:.1f} s")
    if url.startswith("postgresql"):
        async with engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE")
    await engine.dispose()


async def bench(url: str, repeat: int, skip_year: bool = False) -> None:
    engine = make_engine(url)
    cases = [("month 2026-11", month_range(YEAR, 11)),
             ("day 2026-11-20", day_range(datetime(YEAR, 11, 20).date())),
             ("year 2026", (datetime(YEAR, 1, 1, tzinfo=JST),
                            datetime(YEAR + 1, 1, 1, tzinfo=JST))),
             ("month, one line", month_range(YEAR, 11))]
    for name, (start, end) in cases:
        if skip_year and name.startswith("year"):
            continue
        line = LINES[0][0] if "line" in name else None
        times = []
        for _ in range(1 if name.startswith("year") else repeat):
            t = time.perf_counter()
            k = await compute_kpis(engine, start, end, line, None)
            times.append(time.perf_counter() - t)
        print(f"{name:18s} best {min(times):6.3f} s  (runs: {', '.join(f'{x:.3f}' for x in times)})"
              f"  offered={k.overall.offered:,} answered={k.overall.answered:,} "
              f"answer_rate={k.overall.answer_rate or 0:.2f}")
    await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000, help="calls (default 100000)")
    parser.add_argument("--full", action="store_true", help="1,000,000 calls")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--sqlite", action="store_true", help="a fresh SQLite file")
    group.add_argument("--postgres", action="store_true",
                       help="a fresh database on 127.0.0.1:5432 (dropped afterwards)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-year", action="store_true", help="do not time the whole year")
    parser.add_argument("--keep", action="store_true", help="keep the fresh database")
    parser.add_argument("--reuse", metavar="URL", help="time this already loaded database")
    args = parser.parse_args()
    n = 1_000_000 if args.full else args.n
    drop = None
    if args.reuse:
        await bench(args.reuse, args.repeat, args.skip_year)
        return
    if args.postgres:
        from tests.support.postgres import fresh_database, postgres_server

        url, drop, _name = await fresh_database(await postgres_server(), prefix="madoguchi_bench")
    elif args.sqlite:
        url = f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='mdg-bench-')}/bench.db"
    else:
        url = (os.environ.get("DATABASE_URL")
               or sys.exit("give DATABASE_URL, --sqlite or --postgres"))
    print(f"{url.split(':')[0]}: {n:,} calls over {YEAR}")
    try:
        await load(url, n)
        await bench(url, args.repeat, args.skip_year)
    finally:
        if args.keep:
            print(f"kept: {url}")
        elif drop is not None:
            await drop()
        elif args.sqlite:
            path = Path(url.split("///", 1)[1])
            for leftover in path.parent.glob(path.name + "*"):
                leftover.unlink()
            path.parent.rmdir()


if __name__ == "__main__":
    asyncio.run(main())
