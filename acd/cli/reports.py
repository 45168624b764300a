"""`acd report daily|weekly|monthly|range`: KPI reports straight from the database.

    acd report daily   [--date 2026-11-20]   (default: yesterday, JST)
    acd report weekly  [--week 2026-W47]     (default: last ISO week)
    acd report monthly [--month 2026-11]     (default: last month)
    acd report range   --from 2026-11-01 --to 2026-11-15   (--to inclusive)
    acd report run-schedule [--now]          (the scheduled reports that are due)
    common: [--line DID] [--queue NAME] [--format csv|xlsx|html|pdf] [--lang ja|en] [--out FILE]

Without --out the report is written to standard output. Exit status: 0 written, 1 unknown
line/queue or bad arguments, 2 database unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from acd.adapters.db.engine import make_engine
from acd.cli.common import database_unusable, flows_site, load_settings
from acd.domain.clock import parse_period
from acd.reports.figures import Kpis, ReportError, Targets
from acd.reports.formats import FORMATS, render_report
from acd.reports.kpi import compute_kpis
from acd.reports.scheduler import ReportScheduler
from acd.reports.targets import targets_for


def configured(settings, site=None) -> tuple[set[str] | None, set[str] | None]:
    """Lines (DIDs) and queues of the flows, or (None, None) when they cannot be read."""
    site = site or flows_site(settings)
    if site is None:
        return None, None
    return {line.did for line in site.lines}, {queue.name for queue in site.queues}


def render(kpis: Kpis, fmt: str, lang: str) -> bytes:
    return render_report(kpis, fmt, lang)


async def make_report(url: str, start: datetime, end: datetime, line: str | None,
                      queue: str | None, known_lines=None, known_queues=None,
                      targets: Targets | None = None) -> Kpis:

    engine = make_engine(url)
    try:
        return await compute_kpis(engine, start, end, line, queue, known_lines=known_lines,
                                  known_queues=known_queues, targets=targets)
    finally:
        await engine.dispose()


def cmd_report(args: argparse.Namespace) -> int:

    try:
        value = {"daily": getattr(args, "date", None),
                 "weekly": getattr(args, "week", None),
                 "monthly": getattr(args, "month", None),
                 "range": getattr(args, "start", None)}[args.report]
        start, end = parse_period(args.report, value, getattr(args, "until", None))
    except ValueError as exc:
        print(f"acd: error: {exc}", file=sys.stderr)
        return 1
    settings = load_settings()
    site = flows_site(settings)
    lines, queues = configured(settings, site)
    try:
        kpis = asyncio.run(make_report(settings.resolved_database_url, start, end, args.line,
                                       args.queue, lines, queues,
                                       targets_for(site, args.line)))
    except ReportError as exc:
        print(f"acd: error: {exc}", file=sys.stderr)
        return 1
    except (OSError, SQLAlchemyError) as exc:
        print(f"acd: error: {database_unusable(settings.resolved_database_url, exc)}",
              file=sys.stderr)
        return 2
    data = render(kpis, args.format, args.lang)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_bytes(data)
        print(f"{args.out}: {args.report} report {start:%Y-%m-%d} – "
              f"{end - timedelta(seconds=1):%Y-%m-%d}"
              + (" (no calls)" if kpis.empty else f" ({kpis.overall.offered} offered)"),
              file=sys.stderr)
    elif args.format in ("xlsx", "pdf") and sys.stdout.isatty():
        print(f"acd: error: {args.format} is binary: give --out FILE", file=sys.stderr)
        return 1
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0


def cmd_run_schedule(args: argparse.Namespace) -> int:
    """Write the scheduled reports that are due (``--now``: one pass, for cron)."""

    settings = load_settings()

    async def run() -> list[Path]:
        engine = make_engine(settings.resolved_database_url)
        try:
            scheduler = ReportScheduler(engine, settings.reports_path,
                                        settings.report_formats.split(","),
                                        targets=lambda: targets_for(flows_site(settings)))
            if args.now:
                return await scheduler.run_once()
            await scheduler.run()
            return []
        finally:
            await engine.dispose()

    try:
        written = asyncio.run(run())
    except (OSError, SQLAlchemyError) as exc:
        print(f"acd: error: {database_unusable(settings.resolved_database_url, exc)}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    for path in written:
        print(path)
    if not written:
        print(f"nothing due (reports in {settings.reports_path})", file=sys.stderr)
    return 0


def add_report_commands(subparsers) -> None:
    """Register `acd report ...` on the `acd` command's subparsers."""
    report = subparsers.add_parser("report", help="KPI reports (daily, weekly, monthly, range)")
    kinds = report.add_subparsers(dest="report", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--line", help="only this line (DID)")
        p.add_argument("--queue", help="only this queue")
        p.add_argument("--format", choices=list(FORMATS), default="csv",
                       help="csv (UTF-8 with BOM), xlsx (a sheet per breakdown), html or pdf "
                       "(with charts)")
        p.add_argument("--lang", choices=["ja", "en"], default="ja")
        p.add_argument("--out", help="write to this file (default: standard output)")
        p.set_defaults(func=cmd_report)

    daily = kinds.add_parser("daily", help="one day (JST); default yesterday")
    daily.add_argument("--date", help="YYYY-MM-DD")
    common(daily)
    weekly = kinds.add_parser("weekly", help="one ISO week; default last week")
    weekly.add_argument("--week", help="YYYY-Www, e.g. 2026-W47")
    common(weekly)
    monthly = kinds.add_parser("monthly", help="one month; default last month")
    monthly.add_argument("--month", help="YYYY-MM")
    common(monthly)
    schedule = kinds.add_parser("run-schedule", help="write the scheduled reports when due "
                                "(daily 01:00, weekly on the first business day, monthly "
                                "on the 1st; JST) into the reports directory")
    schedule.add_argument("--now", action="store_true",
                          help="one pass: write what is due now, then exit (for cron)")
    schedule.set_defaults(func=cmd_run_schedule)
    ranged = kinds.add_parser("range", help="any range of days")
    ranged.add_argument("--from", dest="start", required=True, help="YYYY-MM-DD")
    ranged.add_argument("--to", dest="until", required=True, help="YYYY-MM-DD, inclusive")
    common(ranged)


__all__ = ["add_report_commands", "cmd_report", "parse_period"]
