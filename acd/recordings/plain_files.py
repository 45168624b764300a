"""The plain WAV files on disk: what Asterisk wrote and nobody has sealed yet.

Asterisk names every file after the call's uniqueid: ``<uniqueid>.wav`` for the call's
recording (MixMonitor), ``<uniqueid>-r<n>.wav`` for the on-demand segments, and the
voicemail message ``<uniqueid>.wav`` under the voicemail directory. So a file found on
disk says which call it belongs to and which recording row it must become, even when no
call record names it (the controller was away, an event was lost).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from acd.recordings.models import SEGMENT_SUFFIX, VOICEMAIL_SUFFIX

_NAME = re.compile(rf"^(?P<call>.+?)(?:{re.escape(SEGMENT_SUFFIX)}(?P<segment>\d+))?\.wav$")


@dataclass(frozen=True)
class PlainFile:
    """A plain recording on disk and the recording it is."""

    path: Path
    call_uniqueid: str
    uniqueid: str  #: the recording row's: the call's, ``+"-vm"``, or ``+"-r<n>"``
    kind: Literal["call", "voicemail"]
    segment: int | None
    size: int
    modified_at: float
    inode: tuple[int, int]


def plain_files(recordings_dir: Path, voicemail_dir: Path | None = None) -> list[PlainFile]:
    """Every plain WAV under the recordings and voicemail directories, oldest first.

    A missing directory holds nothing; files whose names are not a uniqueid's are left
    out (they are not Asterisk's).
    """
    found: dict[Path, PlainFile] = {}
    voicemail = voicemail_dir.resolve() if voicemail_dir is not None else None
    for root in (recordings_dir, voicemail_dir):
        if root is None:
            continue
        for path in sorted(Path(root).resolve().rglob("*.wav")):
            match = _NAME.match(path.name)
            try:
                st = path.stat()
            except OSError:
                continue  # gone meanwhile (sealed by the controller)
            if match is None or not path.is_file():
                continue
            is_voicemail = voicemail is not None and path.is_relative_to(voicemail)
            if is_voicemail and match["segment"]:
                continue
            call_uid = match["call"]
            segment = int(match["segment"]) if match["segment"] else None
            uniqueid = (call_uid + VOICEMAIL_SUFFIX if is_voicemail
                        else f"{call_uid}{SEGMENT_SUFFIX}{segment}" if segment is not None
                        else call_uid)
            found[path] = PlainFile(path, call_uid, uniqueid,
                                    "voicemail" if is_voicemail else "call", segment,
                                    st.st_size, st.st_mtime, (st.st_dev, st.st_ino))
    return sorted(found.values(), key=lambda f: (f.modified_at, str(f.path)))

