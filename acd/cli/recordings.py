"""`acd recordings ...`: search, purge, certificate and keys of the recording store.

These work directly on the database and the files (the stack need not run; if it runs,
both share the database and the keyring, which takes a lock for changes). Dates are days
in Japan Standard Time (``2026-04-01``); ``--to`` includes the whole day.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from datetime import date, datetime
from pathlib import Path

from acd.adapters.db.engine import make_engine
from acd.cli.common import error, load_settings
from acd.domain.clock import JST, jst_day_start, parse_when
from acd.logging_setup import configure
from acd.recordings.factory import store_from_settings
from acd.recordings.keyring import KeyringError
from acd.recordings.models import RecordingError, public_row
from acd.stack import StartupError, migrate_database


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _when(text: str) -> str:
    try:
        parse_when(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _store_call(work):
    """Run ``work(store)`` on a migrated database; like :func:`acd.cli.common.roster_call`."""
    settings = load_settings()
    configure(settings.log_format)

    async def run():
        await migrate_database(settings)
        engine = make_engine(settings.resolved_database_url)
        try:
            return await work(store_from_settings(settings, engine))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except StartupError as exc:
        raise SystemExit(f"acd: error: {exc}") from None


def _cli_user() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


def _fail(message: str) -> int:
    error(message)
    return 1


def _jst(epoch: float | None) -> str:
    return "" if epoch is None else datetime.fromtimestamp(epoch, JST).strftime(
        "%Y-%m-%d %H:%M:%S")


# ------------------------------------------------------------------ search

def cmd_search(args: argparse.Namespace) -> int:
    async def work(store):
        return await store.search(
            since=parse_when(args.since), until=parse_when(args.until, end=True),
            caller=args.caller, line=args.line, queue=args.queue, agent=args.agent,
            min_seconds=args.min_seconds, outcome=args.outcome, category=args.category,
            status=None if args.status == "all" else args.status, limit=args.limit,
            offset=args.offset, who=args.operator or _cli_user(), remote="cli")

    page = _store_call(work)
    if args.json:
        print(json.dumps({"total": page.total, "items": [public_row(r) for r in page.items]},
                         ensure_ascii=False, indent=2))
        return 0
    for r in page.items:
        seconds = "" if r["duration_seconds"] is None else f"{r['duration_seconds']:.0f}s"
        print(f"{r['uniqueid']}\t{_jst(r['started_at'])}\t{r['line']}\t{r['queue']}\t"
              f"{r['agent'] or '-'}\t{r['caller']}\t{seconds}\t{r['status']}\t"
              f"{r.get('disposition_outcome') or ''}")
    shown = f"{page.offset + 1}-{page.offset + len(page.items)}" if page.items else "0"
    print(f"{shown} of {page.total} recording(s)", file=sys.stderr)
    return 0


# ------------------------------------------------------------------ purge

def cmd_purge(args: argparse.Namespace) -> int:
    if args.all and args.before is None:
        return _fail("--all needs --before DATE (recordings that started before that day)")
    if args.expired and args.before is not None:
        return _fail("--before goes with --all, not --expired")
    if not args.operator.strip():
        return _fail("--operator must name who erases")
    reason = args.reason or ("保存期間満了" if args.expired else "")
    if args.all and not reason.strip():
        return _fail("--all --before needs --reason (why recordings are erased before "
                     "their retention ends)")

    async def work(store):
        if args.dry_run:
            if args.expired:
                return await store.purger.count()
            return await store.purger.count(started_before=args.before)
        if args.expired:
            result = await store.purge_expired(None, args.operator, reason)
            personal = await store.personal.purge_expired(None, args.operator, reason)
        else:
            result = await store.purge_before(args.before, args.operator, reason)
            personal = await store.personal.purge_before(jst_day_start(args.before),
                                                         args.operator, reason)
        return result, personal

    outcome = _store_call(work)
    if args.dry_run:
        print(f"{outcome} recording(s) would be erased")
        return 0
    result, personal = outcome
    for uniqueid, message in result.failed + personal.failed:
        error(f"{uniqueid}: {message}")
    print(f"{len(result.erased)} recording(s) erased, {len(result.failed)} failed; "
          f"personal data of {len(personal.erased)} call(s) erased, "
          f"{len(personal.failed)} failed")
    return 1 if result.failed or personal.failed else 0


# ------------------------------------------------------------------ certificate

def cmd_certificate(args: argparse.Namespace) -> int:
    if args.to < args.since:
        return _fail("--to is before --from")

    async def work(store):
        return await store.certificate(
            args.since, args.to, args.lang, args.format, organisation=args.organisation,
            issuer=args.issuer, reason=args.reason, certificate_no=args.number,
            who=args.operator or _cli_user(), remote="cli")

    body = _store_call(work)
    if args.out in (None, "-"):
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    else:
        Path(args.out).write_bytes(body)
        print(f"certificate written to {args.out}", file=sys.stderr)
    return 0


# ------------------------------------------------------------------ keys

def cmd_keys(args: argparse.Namespace) -> int:
    if args.action == "destroy":
        if not args.key_id:
            return _fail("destroy needs the KEYID (see 'acd recordings keys list')")
        if not args.operator or not args.reason:
            return _fail("destroy needs --operator and --reason")
    elif args.key_id:
        return _fail(f"'{args.action}' takes no KEYID")

    async def work(store):
        if args.action == "rotate":
            return await asyncio.to_thread(store.keyring.rotate)
        if args.action == "destroy":
            return await store.destroy_key(args.key_id, args.operator, args.reason,
                                           force=args.force)
        return await asyncio.to_thread(store.keyring.keys), await store.key_usage()

    try:
        result = _store_call(work)
    except (KeyringError, RecordingError) as exc:
        return _fail(str(exc))
    if args.action == "rotate":
        print(f"new current key {result}; the previous key still decrypts what it sealed")
        return 0
    if args.action == "destroy":
        print(f"key {args.key_id} destroyed; {len(result.erased)} recording(s) erased, "
              f"{len(result.failed)} failed")
        for uniqueid, message in result.failed:
            error(f"{uniqueid}: {message}")
        return 1 if result.failed else 0
    keys, usage = result
    if not keys:
        print("no keys yet (the first one is made when the first recording is sealed)")
    for k in keys:
        counts = ",".join(f"{status}={n}" for status, n in sorted(usage.get(k.key_id,
                                                                            {}).items()))
        destroyed = f"\tdestroyed {k.destroyed_at.isoformat()}" if k.destroyed_at else ""
        print(f"{k.key_id}\t{k.state}\tcreated {k.created_at.isoformat()}\t"
              f"fingerprint {k.fingerprint[:16]}\t{counts or 'no recordings'}{destroyed}")
    return 0


# ------------------------------------------------------------------ parser

def add_recording_commands(subparsers) -> None:
    """Register ``acd recordings search|purge|certificate|keys`` on acd's subparsers."""
    rec = subparsers.add_parser("recordings", help="the sealed recording store").add_subparsers(
        dest="recordings_command", required=True)

    search = rec.add_parser("search", help="find recordings (newest first)")
    search.add_argument("--from", dest="since", type=_when, help="day (JST) or date-time")
    search.add_argument("--to", dest="until", type=_when, help="day (JST, included)")
    search.add_argument("--caller", help="any part of the caller's number")
    search.add_argument("--line")
    search.add_argument("--queue")
    search.add_argument("--agent")
    search.add_argument("--min-seconds", type=float)
    search.add_argument("--outcome", help="the operator's disposition, e.g. 完了")
    search.add_argument("--category")
    search.add_argument("--status", choices=["sealed", "erased", "failed", "all"],
                        default="sealed")
    search.add_argument("--limit", type=int, default=50)
    search.add_argument("--offset", type=int, default=0)
    search.add_argument("--operator", help="who searches (for the access log)")
    search.add_argument("--json", action="store_true")
    search.set_defaults(func=cmd_search)

    purge = rec.add_parser("purge", help="erase recordings (overwrite and unlink); "
                           "the rows stay as tombstones for the certificate")
    which = purge.add_mutually_exclusive_group(required=True)
    which.add_argument("--expired", action="store_true",
                       help="those whose retention period has ended")
    which.add_argument("--all", action="store_true",
                       help="all that started before --before, whatever their retention")
    purge.add_argument("--before", type=_date, help="with --all: a day (JST), excluded")
    purge.add_argument("--operator", required=True, help="who erases (on the certificate)")
    purge.add_argument("--reason", help="why (default for --expired: 保存期間満了)")
    purge.add_argument("--dry-run", action="store_true", help="only count")
    purge.set_defaults(func=cmd_purge)

    cert = rec.add_parser("certificate", help="the erasure certificate (抹消証明書)")
    cert.add_argument("--from", dest="since", type=_date, required=True)
    cert.add_argument("--to", type=_date, required=True, help="included")
    cert.add_argument("--format", choices=["html", "csv", "pdf"], default="html")
    cert.add_argument("--lang", choices=["ja", "en"], default="ja")
    cert.add_argument("--out", help="file to write (default: standard output)")
    cert.add_argument("--organisation", default="")
    cert.add_argument("--issuer", default="")
    cert.add_argument("--reason", default="")
    cert.add_argument("--number", default="", help="certificate number (default: derived)")
    cert.add_argument("--operator", help="who issues it (for the access log)")
    cert.set_defaults(func=cmd_certificate)

    keys = rec.add_parser("keys", help="the recording keys: list, rotate, destroy")
    keys.add_argument("action", choices=["list", "rotate", "destroy"])
    keys.add_argument("key_id", nargs="?", metavar="KEYID")
    keys.add_argument("--operator", help="destroy: who")
    keys.add_argument("--reason", help="destroy: why")
    keys.add_argument("--force", action="store_true",
                      help="destroy even if recordings it sealed are within retention")
    keys.set_defaults(func=cmd_keys)
