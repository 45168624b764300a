"""Scheduled KPI reports: written to the reports directory when due (acd/reports/schedule.py).

    <reports_dir>/daily/kpi-daily-2026-11-20.pdf   (and .xlsx, … one file per format)
    <reports_dir>/weekly/kpi-weekly-2026-W47.pdf
    <reports_dir>/monthly/kpi-monthly-2026-11.pdf

A report is done when every format's file exists; each file is written to a temporary name
and renamed, so a half-written file is never listed. Runs as a task of ``acd up`` and, for
cron, as ``acd report run-schedule --now`` (one pass).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.db.schema import call_records
from acd.domain.clock import JST
from acd.reports.figures import Targets
from acd.reports.formats import FORMATS, render_report
from acd.reports.kpi import compute_kpis
from acd.reports.schedule import KINDS, Due, due_reports, next_due_at

log = structlog.get_logger(__name__)

FILE_NAME = re.compile(r"kpi-(daily|weekly|monthly)-(\d{4}-(?:\d{2}-\d{2}|W\d{2}|\d{2}))"
                       r"\.(csv|xlsx|html|pdf)")
MARKER = ".schedule-since"
#: Longest sleep between passes: a changed clock or a missed wake-up is caught within it.
MAX_SLEEP_SECONDS = 600.0


@dataclass(frozen=True)
class ReportFile:
    kind: str
    period: str
    format: str
    path: Path
    size: int
    written_at: float

    @property
    def name(self) -> str:
        return self.path.name


def list_files(directory: Path) -> list[ReportFile]:
    """Every scheduled report file, newest period first."""
    found = []
    for kind in KINDS:
        folder = directory / kind
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            match = FILE_NAME.fullmatch(path.name)
            if match is None or match[1] != kind or not path.is_file():
                continue
            stat = path.stat()
            found.append(ReportFile(kind, match[2], match[3], path, stat.st_size, stat.st_mtime))
    return sorted(found, key=lambda f: (period_start(f.kind, f.period), -KINDS.index(f.kind),
                                        f.format), reverse=True)


def period_start(kind: str, period: str) -> date:
    if kind == "weekly":
        year, week = period.split("-W")
        return date.fromisocalendar(int(year), int(week), 1)
    if kind == "monthly":
        return date.fromisoformat(f"{period}-01")
    return date.fromisoformat(period)


def find_file(directory: Path, kind: str, name: str) -> Path | None:
    """The file ``name`` of ``kind``, or None (never a path outside the directory)."""
    match = FILE_NAME.fullmatch(name)
    if kind not in KINDS or match is None or match[1] != kind:
        return None
    path = directory / kind / name
    return path if path.is_file() else None


class ReportScheduler:
    def __init__(self, engine: AsyncEngine, directory: Path,
                 formats: Sequence[str] = ("pdf", "xlsx"), lang: str = "ja",
                 clock: Callable[[], float] = time.time,
                 targets: Callable[[], Targets] = Targets) -> None:
        """``targets``: the site default targets now (the reports are overall ones)."""
        unknown = [f for f in formats if f not in FORMATS]
        if unknown or not formats:
            raise ValueError(f"report formats {unknown or formats!r}: use {', '.join(FORMATS)}")
        self._engine = engine
        self._dir = directory
        self._formats = tuple(formats)
        self._lang = lang
        self._clock = clock
        self._targets = targets

    def done(self) -> set[str]:
        """Names of the reports whose every format is written."""
        have: dict[str, set[str]] = {}
        for f in list_files(self._dir):
            have.setdefault(f"kpi-{f.kind}-{f.period}", set()).add(f.format)
        return {name for name, formats in have.items() if set(self._formats) <= formats}

    async def since(self) -> datetime:
        """When the centre started: its first call, or the scheduler's first run (kept in
        ``<reports_dir>/.schedule-since``), whichever is earlier."""
        marker = self._dir / MARKER
        if marker.exists():
            started = datetime.fromisoformat(marker.read_text("utf-8").strip())
        else:
            started = datetime.fromtimestamp(self._clock(), JST)
            self._dir.mkdir(parents=True, exist_ok=True)
            marker.write_text(started.isoformat() + "\n", "utf-8")
        async with self._engine.connect() as conn:
            first = (await conn.execute(select(func.min(call_records.c.entered_at)))).scalar()
        if first is not None:
            started = min(started, datetime.fromtimestamp(float(first), JST))
        return started

    async def run_once(self, now: datetime | None = None) -> list[Path]:
        """Write every report due at ``now`` and not written yet; the files written."""
        now = now or datetime.fromtimestamp(self._clock(), JST)
        written: list[Path] = []
        for due in due_reports(now, self.done(), await self.since()):
            written += await self.write(due)
        return written

    async def write(self, due: Due) -> list[Path]:
        kpis = await compute_kpis(self._engine, due.start, due.end,
                                  now=self._clock(), targets=self._targets())
        folder = self._dir / due.kind
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for fmt in self._formats:
            path = folder / f"{due.name}.{FORMATS[fmt].extension}"
            if path.exists():
                continue
            data = await asyncio.to_thread(render_report, kpis, fmt, self._lang)
            temporary = path.with_name(f".{path.name}.tmp")
            temporary.write_bytes(data)
            os.replace(temporary, path)
            paths.append(path)
        log.info("report.written", report=due.name, formats=list(self._formats),
                 empty=kpis.empty, offered=kpis.overall.offered)
        return paths

    async def run(self) -> None:
        """Forever: a pass now, then at each due time (a failed pass is logged and retried
        at the next wake-up)."""
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("report.schedule_failed")
            now = datetime.fromtimestamp(self._clock(), JST)
            wait = (next_due_at(now) - now).total_seconds()
            await asyncio.sleep(min(max(wait, 1.0), MAX_SLEEP_SECONDS))


__all__ = ["ReportFile", "ReportScheduler", "find_file", "list_files"]
