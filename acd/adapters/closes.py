"""When a recording is finished: the kernel's word (inotify), not a scan of ``/proc``.

:class:`CloseWatcher` watches the recordings and voicemail directories (and every
directory below them, the day folders Asterisk makes) and follows each file Asterisk
writes from its creation: ``IN_CREATE``, then every ``IN_OPEN`` and every close
(``IN_CLOSE_WRITE``, ``IN_CLOSE_NOWRITE``). A file seen created whose opens are all
closed again, one of them a close after writing, is finished: MixMonitor (or Record)
has patched its header and let go. That is exact, costs a few events per recording,
and needs no polling.

Where the watcher cannot know, it says so (:attr:`Verdict.UNKNOWN`) and the caller
falls back on another check (the sealer looks at ``/proc`` once): a file that was there
before the watch (an adopted Asterisk, a day folder created a moment before the file in
it), a file moved in, or every file after the kernel's queue overflowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from asyncinotify import Inotify, Mask

log = structlog.get_logger(__name__)

_DIR_MASK = (Mask.CREATE | Mask.OPEN | Mask.CLOSE_WRITE | Mask.CLOSE_NOWRITE | Mask.DELETE
             | Mask.MOVED_FROM | Mask.MOVED_TO | Mask.DELETE_SELF | Mask.ONLYDIR)
#: Files followed at most at once; past that the oldest finished ones are forgotten.
MAX_FOLLOWED = 20_000


class Verdict(enum.Enum):
    CLOSED = "closed"    #: seen created, every open closed again, written
    OPEN = "open"        #: seen created, some process still has it open
    UNKNOWN = "unknown"  #: not followed from its creation: ask someone else


def is_plain_recording(name: str) -> bool:
    """The files worth following: the WAVs Asterisk writes (not the sealed copies)."""
    return name.endswith(".wav")


@dataclass
class _File:
    opens: int = 0
    written: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def verdict(self) -> Verdict:
        return Verdict.CLOSED if self.opens <= 0 and self.written else Verdict.OPEN


class CloseWatcher:
    """Follows the files written under ``roots`` (each watched with its subdirectories,
    new ones included). :meth:`run` watches until cancelled; :meth:`verdict` and
    :meth:`wait_closed` answer meanwhile (``UNKNOWN`` for everything while it does not
    run). ``tracked(name)`` picks the files to follow."""

    def __init__(self, roots: Iterable[Path], *,
                 tracked: Callable[[str], bool] = is_plain_recording) -> None:
        self.roots = [Path(r).resolve() for r in roots]
        self._tracked = tracked
        self._files: dict[Path, _File] = {}
        self._watched: set[Path] = set()
        self._inotify: Inotify | None = None
        self.ready = asyncio.Event()
        #: Events handled (for tests and the curious).
        self.events = 0

    @property
    def running(self) -> bool:
        return self.ready.is_set()

    def covers(self, path: Path) -> bool:
        """Whether ``path`` is in a directory being watched."""
        return self.running and Path(path).parent in self._watched

    def verdict(self, path: Path) -> Verdict:
        if not self.running:
            return Verdict.UNKNOWN
        followed = self._files.get(Path(path))
        return Verdict.UNKNOWN if followed is None else followed.verdict

    async def wait_closed(self, path: Path, timeout: float) -> Verdict:
        """Wait until the file is finished, at most ``timeout`` seconds; the verdict then
        (``OPEN``: still open when the time ran out; ``UNKNOWN``: not followed, or no
        longer: the queue overflowed, the file went, the watcher stopped)."""
        path = Path(path)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            followed = self._files.get(path) if self.running else None
            if followed is None:
                return Verdict.UNKNOWN
            if followed.verdict is Verdict.CLOSED:
                return Verdict.CLOSED
            left = deadline - loop.time()
            if left <= 0:
                return Verdict.OPEN
            followed.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(followed.changed.wait(), left)

    def forget(self, path: Path) -> None:
        self._drop(Path(path))

    # ------------------------------------------------------------------ watching

    async def run(self) -> None:
        """Watch until cancelled (a root that cannot be watched: nothing is followed,
        every verdict is ``UNKNOWN``, and that is logged)."""
        try:
            inotify = Inotify(cache_size=256)
        except OSError as exc:
            log.warning("recording.watch_unavailable", error=str(exc)[:200],
                        detail="the end of recordings is checked in /proc instead")
            return
        self._inotify = inotify
        try:
            for root in self.roots:
                await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
                for folder in await asyncio.to_thread(_folders, root):
                    self._watch(folder)
            self.ready.set()
            log.info("recording.watching", roots=[str(r) for r in self.roots],
                     folders=len(self._watched))
            async for event in inotify:
                self._handle(event.mask, event.path)
        finally:
            self.ready.clear()
            self._inotify = None
            inotify.close()
            for followed in self._files.values():
                followed.changed.set()
            self._files.clear()
            self._watched.clear()

    def _watch(self, folder: Path) -> None:
        assert self._inotify is not None
        try:
            self._inotify.add_watch(folder, _DIR_MASK)
        except OSError as exc:
            log.warning("recording.watch_failed", folder=str(folder), error=str(exc)[:200])
            return
        self._watched.add(folder)

    def _handle(self, mask: Mask, path: Path | None) -> None:
        self.events += 1
        if Mask.Q_OVERFLOW in mask:
            log.warning("recording.watch_overflow",
                        detail="files being written are checked in /proc instead")
            for followed in self._files.values():
                followed.changed.set()
            self._files.clear()
            return
        if path is None:
            return
        if Mask.ISDIR in mask:
            if Mask.CREATE in mask or Mask.MOVED_TO in mask:
                self._watch_new_folder(path)
            elif Mask.DELETE_SELF in mask or Mask.DELETE in mask or Mask.MOVED_FROM in mask:
                self._watched.discard(path)
            return
        if Mask.DELETE_SELF in mask:
            self._watched.discard(path)
            return
        if not self._tracked(path.name):
            return
        if Mask.CREATE in mask:
            self._follow(path)
        elif Mask.DELETE in mask or Mask.MOVED_FROM in mask or Mask.MOVED_TO in mask:
            self._drop(path)  # gone, or come from elsewhere (open or not: unknown)
        else:
            seen = self._files.get(path)
            if seen is None:
                return
            if Mask.OPEN in mask:
                seen.opens += 1
            if Mask.CLOSE_WRITE in mask:
                seen.opens -= 1
                seen.written = True
            if Mask.CLOSE_NOWRITE in mask:
                seen.opens -= 1
            seen.changed.set()

    def _follow(self, path: Path) -> None:
        if len(self._files) >= MAX_FOLLOWED:
            finished = [p for p, f in self._files.items() if f.verdict is Verdict.CLOSED]
            for old in finished[:len(finished) // 2 + 1] or list(self._files)[:1]:
                self._drop(old)
        previous = self._files.pop(path, None)
        if previous is not None:
            previous.changed.set()
        self._files[path] = _File()

    def _drop(self, path: Path) -> None:
        followed = self._files.pop(path, None)
        if followed is not None:
            followed.changed.set()

    def _watch_new_folder(self, folder: Path) -> None:
        """A new day folder: watched from now; what was made in it before the watch took
        (a file, a folder) is not followed: those files are ``UNKNOWN``."""
        self._watch(folder)
        try:
            entries = list(os.scandir(folder))  # a folder a moment old: a few entries
        except OSError:
            return
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                self._watch_new_folder(Path(entry.path))


def _folders(root: Path) -> list[Path]:
    return [Path(folder) for folder, _dirs, _files in os.walk(root)]
