"""The scheduled report files on disk: which there are, and one of them by name.

    <reports_dir>/daily/kpi-daily-2026-11-20.pdf   (and .xlsx, … one file per format)
    <reports_dir>/weekly/kpi-weekly-2026-W47.pdf
    <reports_dir>/monthly/kpi-monthly-2026-11.pdf

Written by :mod:`acd.reports.scheduler`; listed and served by the gateway and the consoles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from acd.reports.schedule import KINDS

FILE_NAME = re.compile(r"kpi-(daily|weekly|monthly)-(\d{4}-(?:\d{2}-\d{2}|W\d{2}|\d{2}))"
                       r"\.(csv|xlsx|html|pdf)")


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


__all__ = ["FILE_NAME", "ReportFile", "find_file", "list_files", "period_start"]
