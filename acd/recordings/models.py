"""What the recording feature hands out: its errors (stable error ids, never HTTP codes:
the gateway maps them), search pages, an opened playback, purge results, an on-demand
segment, the retention days of a line, and a recording row as people see it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from acd.adapters.files import content_type_for
from acd.domain.clock import jst_iso
from acd.domain.problems import Refused
from acd.recordings.sealed import SealedReader

DEFAULT_RETENTION_DAYS = 90
#: The recording uniqueid of a call's voicemail message: ``<call uniqueid>-vm``.
VOICEMAIL_SUFFIX = "-vm"
#: The recording uniqueid of an on-demand segment: ``<call uniqueid>-r<n>``.
SEGMENT_SUFFIX = "-r"
MAX_PAGE = 500
#: What the access log records.
ACTIONS = ("play", "download", "search", "erase", "certificate")

#: Appends ``(kind, at, uniqueid, payload)`` to the call event log.
LogEvent = Callable[[str, float, str | None, dict[str, Any]], Awaitable[None]]


# ------------------------------------------------------------------ errors

class RecordingError(Refused):
    """A request about a recording that cannot be met."""


class RecordingNotFound(RecordingError):
    """No such recording."""


class RecordingGone(RecordingError):
    """Erased, or its key destroyed: it will never play again."""


class RecordingUnavailable(RecordingError):
    """Not sealed (sealing failed) or the sealed file cannot be read (missing, damaged)."""


# ------------------------------------------------------------------ results

@dataclass(frozen=True)
class SearchPage:
    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]]


@dataclass
class Playback:
    """An opened sealed recording; close it (or use ``with``) when done."""

    recording: dict[str, Any]
    reader: SealedReader

    @property
    def size(self) -> int:
        return self.reader.plain_size

    @property
    def content_type(self) -> str:
        return content_type_for(self.recording.get("source_path") or "")

    @property
    def etag(self) -> str:
        return f'"{(self.recording.get("sha256") or self.reader.key_id)[:32]}"'

    def close(self) -> None:
        self.reader.close()

    def __enter__(self) -> Playback:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class PurgeResult:
    erased: list[str]
    failed: list[tuple[str, str]]  # (uniqueid, why)

    def to_dict(self) -> dict[str, Any]:
        return {"erased": self.erased, "failed": [{"uniqueid": u, "error": e}
                                                  for u, e in self.failed]}


@dataclass(frozen=True)
class Segment:
    """One stretch of on-demand recording of a call (:mod:`acd.recordings.on_demand`)."""

    number: int
    path: str
    started_at: float
    started_by: str | None
    mixmonitor_id: str | None = None
    stopped_at: float | None = None
    stopped_by: str | None = None

    @property
    def uniqueid_suffix(self) -> str:
        return f"{SEGMENT_SUFFIX}{self.number}"

    def public(self, call_uniqueid: str) -> dict[str, Any]:
        return {"recording_uniqueid": call_uniqueid + self.uniqueid_suffix,
                "segment": self.number, "started_at": self.started_at,
                "started_by": self.started_by, "stopped_at": self.stopped_at,
                "stopped_by": self.stopped_by, "recording": self.stopped_at is None}


@dataclass(frozen=True)
class Retention:
    """The retention days of a line's recordings (and of its calls' personal data):
    ``retention_for(line)`` (the flows' ``retention_days``), or ``days`` when that is
    ``None``."""

    days: int = DEFAULT_RETENTION_DAYS
    retention_for: Callable[[str], int | None] | None = None

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError("retention_days must be at least 1")

    def __call__(self, line: str) -> int:
        days = self.retention_for(line) if self.retention_for is not None else None
        return self.days if days is None else days


def public_row(row: dict[str, Any]) -> dict[str, Any]:
    """A recording row for people and the API: no file paths, times also in JST."""
    hidden = {"source_path", "sealed_path", "sealed_sha256", "error"}
    out = {k: v for k, v in row.items() if k not in hidden}
    for key in ("started_at", "ended_at", "erased_at", "retention_until", "sealed_at"):
        if key in row:
            out[f"{key}_jst"] = jst_iso(row[key])
    if row.get("status") == "failed":
        out["error"] = row.get("error")
    return out
