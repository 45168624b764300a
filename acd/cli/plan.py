"""`acd plan`: how many operators and lines each half-hour needs, and the check by replay.

    acd plan --from 2026-11-01 --to 2026-11-30 [--line DID] [--queue NAME]   (history)
    acd plan --forecast forecast.yaml                                        (given)
        [--target answer_rate=0.9,quick_answer=0.9@10,blocking=0.01,min_agents=2]
        [--agents N] [--lines N]     (what N operators / lines would do, instead of sizing)
        [--format table|csv|xlsx|json|svg|png] [--lang ja|en] [--out FILE]
    acd plan replay --from 2026-11-04 --to 2026-11-04 [--plan plan.csv] [--line DID]

--from/--to take a day (--to inclusive) or a JST time (2026-11-04T09:00, --to exclusive).
Without --target the line's report targets apply (the flows' ``targets:``), with at least
one operator in a half-hour with calls. `plan replay` without --plan replays the period
against the operators really at work and prints it beside the period's real report.
Exit status: 0 done, 1 bad arguments or file, 2 database unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from acd.adapters.db.engine import make_engine
from acd.cli.common import database_unusable, flows_site, load_settings
from acd.domain.clock import as_jst
from acd.domain.sizing.plan import Forecast, size
from acd.planning.check import replay_check
from acd.planning.forecast_file import ForecastError, load_forecast
from acd.planning.history import read_history
from acd.planning.outputs import (
    PlanFileError,
    plan_json,
    read_plan_csv,
    render_charts,
    render_csv,
    render_table,
    render_xlsx,
)
from acd.planning.site import line_working_days, sizing_targets

FORMATS = ("table", "csv", "xlsx", "json", "svg", "png")


def parse_moment(text: str, end: bool = False) -> datetime:
    """A day (its start; with ``end``, the next day's start) or a JST time."""
    text = text.strip()
    if "T" in text or " " in text:
        return as_jst(datetime.fromisoformat(text))
    day = date.fromisoformat(text)
    return as_jst(datetime.combine(day + timedelta(days=1 if end else 0), datetime.min.time()))


def _period(args: argparse.Namespace) -> tuple[datetime, datetime]:
    start, end = parse_moment(args.start), parse_moment(args.until, end=True)
    if end <= start:
        raise ValueError(f"--to {args.until} is not after --from {args.start}")
    return start, end


def _working(settings, line: str | None):
    site = flows_site(settings)
    return line_working_days(site, line), site


def _fail(message: str, status: int = 1) -> int:
    print(f"acd: error: {message}", file=sys.stderr)
    return status


def cmd_plan(args: argparse.Namespace) -> int:
    settings = load_settings()
    working, site = _working(settings, args.line)
    try:
        targets = sizing_targets(site, args.line, args.target)
        if args.forecast:
            forecast: Forecast = load_forecast(Path(args.forecast))
        else:
            if not (args.start and args.until):
                return _fail("give --from and --to (the history to plan from) or --forecast")
            start, end = _period(args)
            forecast = asyncio.run(_history(settings.resolved_database_url, start, end,
                                            args.line, args.queue)).forecast(working)
        rows = size(forecast, targets, args.agents, args.lines)
    except ForecastError as exc:
        return _fail("the forecast cannot be read:\n  " + "\n  ".join(exc.problems))
    except ValueError as exc:
        return _fail(str(exc))
    except (OSError, SQLAlchemyError) as exc:
        return _fail(database_unusable(settings.resolved_database_url, exc), 2)
    if not rows:
        print(f"{forecast.source}: no calls to plan for", file=sys.stderr)
    if args.format == "table":
        data = render_table(forecast, targets, rows, args.lang).encode()
    elif args.format == "csv":
        data = render_csv(rows, args.lang)
    elif args.format == "xlsx":
        data = render_xlsx(forecast, targets, rows, args.lang)
    elif args.format == "json":
        data = json.dumps(plan_json(forecast, targets, rows), ensure_ascii=False,
                          indent=1).encode()
    else:
        charts = render_charts(forecast, targets, rows, args.format, args.lang)
        if not args.out:
            return _fail(f"{args.format} charts need --out (one file per day type)")
        out = Path(args.out)
        for kind, chart in charts.items():
            path = out.with_name(f"{out.stem}-{kind}{out.suffix or '.' + args.format}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(chart)
            print(path)
        return 0
    return _write(data, args.out, args.format)


def _write(data: bytes, out: str | None, fmt: str) -> int:
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_bytes(data)
        print(out, file=sys.stderr)
    elif fmt == "xlsx" and sys.stdout.isatty():
        return _fail("xlsx is binary: give --out FILE")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0


async def _history(url: str, start: datetime, end: datetime, line: str | None,
                   queue: str | None):
    engine = make_engine(url)
    try:
        return await read_history(engine, start, end, line, queue)
    finally:
        await engine.dispose()


def cmd_replay(args: argparse.Namespace) -> int:
    settings = load_settings()
    working, site = _working(settings, args.line)
    try:
        start, end = _period(args)
        plan = read_plan_csv(Path(args.plan)) if args.plan else None
        within = sizing_targets(site, args.line, args.target).answer_within
    except (ValueError, PlanFileError) as exc:
        return _fail(str(exc))

    async def run():
        engine = make_engine(settings.resolved_database_url)
        try:
            return await replay_check(engine, start, end, line=args.line, queue=args.queue,
                                      plan=plan, plan_name=args.plan or "planned",
                                      working=working, answer_within=within, seed=args.seed)
        finally:
            await engine.dispose()

    try:
        check = asyncio.run(run())
    except ValueError as exc:
        return _fail(str(exc))
    except (OSError, SQLAlchemyError) as exc:
        return _fail(database_unusable(settings.resolved_database_url, exc), 2)
    if args.format == "json":
        sys.stdout.write(json.dumps({
            "staffing": check.staffing, "queue_calls": check.replayed.offered,
            "replay": {"answered": check.replayed.answered,
                       "answer_rate": check.predicted_answer_rate,
                       "quick_answer_rate": check.predicted_quick_answer_rate},
            "report": {"offered": check.real.offered, "answered": check.real.answered,
                       "answer_rate": check.real.answer_rate,
                       "quick_answer_rate": check.real.quick_answer_rate},
            "patience_seconds": check.patience_seconds}, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(check.render())
    return 0


def add_plan_commands(subparsers) -> None:
    """Register `acd plan ...` on the `acd` command's subparsers."""
    plan = subparsers.add_parser("plan", help="operators and lines needed per half-hour "
                                 "(from history or a forecast), and the check by replay")

    def period(p: argparse.ArgumentParser, required: bool) -> None:
        p.add_argument("--from", dest="start", required=required,
                       help="YYYY-MM-DD or YYYY-MM-DDTHH:MM (JST)")
        p.add_argument("--to", dest="until", required=required,
                       help="YYYY-MM-DD (inclusive) or YYYY-MM-DDTHH:MM (exclusive)")
        p.add_argument("--line", help="only this line (DID)")
        p.add_argument("--queue", help="only this queue")
        p.add_argument("--target", help="answer_rate=0.9,quick_answer=0.9@10,blocking=0.01,"
                       "min_agents=1 (default: the line's report targets)")

    period(plan, required=False)
    plan.add_argument("--forecast", help="a forecast file (YAML) instead of the history")
    plan.add_argument("--agents", type=int, help="predict for this many operators in every "
                      "half-hour instead of sizing them")
    plan.add_argument("--lines", type=int, help="the blocking of this many lines instead of "
                      "sizing them")
    plan.add_argument("--format", choices=FORMATS, default="table")
    plan.add_argument("--lang", choices=["ja", "en"], default="ja")
    plan.add_argument("--out", help="write to this file (default: standard output)")
    plan.set_defaults(func=cmd_plan)
    more = plan.add_subparsers(dest="plan_command")
    again = more.add_parser("replay", help="replay a period's real calls against a plan "
                            "(or the operators really at work) and predict the KPIs")
    period(again, required=True)
    again.add_argument("--plan", help="a plan CSV (as `acd plan --format csv` writes it; "
                       "edit the agents column); default: the actual staffing")
    again.add_argument("--seed", type=int, default=0,
                       help="seed for the patience of answered callers (default 0)")
    again.add_argument("--format", choices=["text", "json"], default="text")
    again.set_defaults(func=cmd_replay)


__all__ = ["add_plan_commands", "cmd_plan", "cmd_replay", "parse_moment"]
