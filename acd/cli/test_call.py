"""`acd test-call DID`: one call to a line of the running stack, as a caller makes it.

    acd test-call 0570000123                       # waits for an operator, who hangs up
    acd test-call 0467000700 --keys 12 --pause 3   # a menu line: keys 1 then 2, 3 s apart
        [--from 0312345678] [--hang-up-after 60]

SIPp calls from the carrier's address (MADOGUCHI_CARRIER_ADDRESS, 127.0.0.2 by default),
so Asterisk takes it for the carrier; after the keys the caller speaks (7 s of speech)
and stays until the line hangs up, or hangs up after ``--hang-up-after`` s (default 120).
Then the call's record is printed. Exit status: 0 answered by an operator, 1 not
answered (after hours, abandoned, overflow...) or the call failed, 2 no stack.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from sqlalchemy import select

from acd.adapters.db.engine import make_engine
from acd.adapters.db.schema import call_records
from acd.adapters.test_call import TestCallError, place_test_call
from acd.cli.common import NOT_RUNNING, error, gateway, load_settings


async def _record(url: str, did: str, since: float) -> dict | None:
    engine = make_engine(url)
    try:
        for _ in range(50):  # the record is written as the call ends
            async with engine.connect() as conn:
                row = (await conn.execute(
                    select(call_records).where(call_records.c.line == did,
                                               call_records.c.entered_at >= since)
                    .order_by(call_records.c.entered_at.desc()).limit(1))).mappings().first()
            if row is not None:
                return dict(row)
            await asyncio.sleep(0.2)
        return None
    finally:
        await engine.dispose()


def cmd_test_call(args: argparse.Namespace) -> int:
    settings = load_settings()
    if gateway(settings, "GET", "/healthz") is None:
        error(NOT_RUNNING)
        return 2
    started = time.time() - 1
    print(f"calling {args.did} from {args.caller} (carrier {settings.carrier_address}) ...",
          file=sys.stderr)
    try:
        call = place_test_call(
            args.did, f"{settings.sip_address}:{settings.sip_port}", settings.carrier_address,
            args.caller, args.keys, args.pause, args.hang_up_after,
            settings.state_dir / "test-call")
    except TestCallError as exc:
        print(f"acd: error: {exc}", file=sys.stderr)
        return 1
    if call.ended_by == "failed":
        print(f"acd: error: the call failed{' after the answer' if call.answered else ''}:\n"
              f"{call.log}", file=sys.stderr)
        return 1
    record = asyncio.run(_record(settings.resolved_database_url, args.did, started))
    ended = "the line hung up" if call.ended_by == "line" else "the caller hung up"
    if record is None:
        print(f"{args.did}: {ended}; no call record yet")
        return 1
    wait = record["wait_seconds"]
    print(f"{args.did}: {record['outcome']}"
          + (f" by operator {record['agent']}" if record["agent"] else "")
          + (f", waited {wait:.1f} s" if wait is not None else "")
          + (f", talked {record['talk_seconds']:.1f} s" if record["talk_seconds"] else "")
          + (f", menu {record['menu_path']}" if record["menu_path"] else "")
          + (f", calendar {record['calendar_status']}" if record["calendar_status"] else "")
          + f"; {ended} (uniqueid {record['uniqueid']})")
    return 0 if record["outcome"] == "answered" else 1


def add_test_call_command(sub: argparse._SubParsersAction) -> None:
    call = sub.add_parser("test-call", help="one call to a line, as a caller makes it "
                          "(keys, speech, stays until the operator hangs up)")
    call.add_argument("did", help="the line's number (DID)")
    call.add_argument("--keys", default="", help="menu keys to press, e.g. 12")
    call.add_argument("--pause", type=float, default=3.0,
                      help="seconds before each key and before speaking (default 3)")
    call.add_argument("--from", dest="caller", default="0312345678",
                      help="the caller's number (default 0312345678)")
    call.add_argument("--hang-up-after", type=float, default=120.0,
                      help="hang up after this many seconds if the line has not (default 120)")
    call.set_defaults(func=cmd_test_call)


__all__ = ["add_test_call_command", "cmd_test_call"]
