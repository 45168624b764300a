"""Facts about audio files, once: a WAV file's length (from its header, or by reading it),
whether another process still has a file open, the content type of a recording, and
the removal of the empty file a call that was never answered leaves behind."""

from __future__ import annotations

import os
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

#: A WAV file with nothing but its header.
EMPTY_WAV_BYTES = 44


def content_type_for(path: str) -> str:
    suffix = Path(path).suffix.lower()
    return {".wav": "audio/wav", ".wav49": "audio/wav", ".gsm": "audio/x-gsm",
            ".mp3": "audio/mpeg", ".ogg": "audio/ogg"}.get(suffix, "application/octet-stream")






def wav_duration(head: bytes, total_size: int) -> float | None:
    """Seconds of audio of a WAV file from its first bytes and its size.

    Uses the ``data`` chunk's length, or what follows the chunk header when that length is
    unset or too large (a writer that was stopped before it patched the header); ``None``
    if this is not a PCM-style RIFF/WAVE header.
    """
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, byte_rate = 12, None
    while pos + 8 <= len(head):
        chunk_id = head[pos:pos + 4]
        (length,) = struct.unpack_from("<I", head, pos + 4)
        body = pos + 8
        if chunk_id == b"fmt " and body + 16 <= len(head):
            byte_rate = struct.unpack_from("<I", head, body + 8)[0]
        elif chunk_id == b"data":
            if not byte_rate:
                return None
            available = max(0, total_size - body)
            data = length if 0 < length <= available else available
            return round(data / byte_rate, 3)
        pos = body + length + (length & 1)
    return None


def duration_of_plain(path: Path) -> float | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
            size = os.fstat(fh.fileno()).st_size
    except OSError:
        return None
    return wav_duration(head, size)


def open_elsewhere(path: Path) -> bool | None:
    """Whether another process has ``path`` open: True, False, or None when that cannot
    be known (``/proc`` absent, or some processes' descriptors not readable by us)."""
    try:
        st = path.stat()
    except OSError:
        return None
    open_now = files_open_elsewhere()
    return None if open_now is None else open_now.holds((st.st_dev, st.st_ino))


@dataclass(frozen=True)
class OpenFiles:
    """The files other processes have open, as ``(st_dev, st_ino)``; ``hidden``: some
    processes' descriptors could not be read (a file not listed may still be open)."""

    files: frozenset[tuple[int, int]]
    hidden: bool

    def holds(self, inode: tuple[int, int]) -> bool | None:
        """Whether the file of ``(st_dev, st_ino)`` is open elsewhere: True, False, or
        None when that cannot be known."""
        if inode in self.files:
            return True
        return None if self.hidden else False


def files_open_elsewhere() -> OpenFiles | None:
    """Every file another process has open, read once from ``/proc/*/fd`` (None when
    ``/proc`` cannot be read)."""
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    me, hidden, found = str(os.getpid()), False, set()
    for pid in pids:
        if pid == me:
            continue
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except PermissionError:
            hidden = True
            continue
        except OSError:
            continue  # gone meanwhile
        for fd in fds:
            try:
                other = os.stat(f"{fd_dir}/{fd}")
            except OSError:
                continue
            found.add((other.st_dev, other.st_ino))
    return OpenFiles(frozenset(found), hidden)


def discard_empty_recording(path: Path, uniqueid: str) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size <= EMPTY_WAV_BYTES:
        path.unlink()
        log.info("recording.discarded_empty", uniqueid=uniqueid, path=str(path))
    else:
        log.warning("recording.unexpected_audio", uniqueid=uniqueid, path=str(path),
                    bytes=size, detail="kept: a call never answered left audio")


def wav_seconds(path: Path) -> float | None:
    try:
        with wave.open(str(path)) as wav:
            frames = wav.getnframes()
            seconds = frames / wav.getframerate()
    except (FileNotFoundError, wave.Error, EOFError):
        return None
    return round(seconds, 3) if frames else None
