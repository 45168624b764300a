"""Copying the files of a backup: private (directories 0700, files 0600), each file
complete or not at all (written beside its place, then renamed)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

#: A plain WAV changed this recently is still being recorded (the sweep's rule too).
STILL_WRITTEN_SECONDS = 120.0


def private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def lock_down(root: Path) -> None:
    """Make every directory under ``root`` (and itself) 0700."""
    for folder, _dirs, _files in os.walk(root):
        os.chmod(folder, 0o700)


def copy_file(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` (0600, its times kept), replacing it at once; a
    directory it needs is created 0700 (one that exists keeps its mode)."""
    if not target.parent.is_dir():
        private_dir(target.parent)
    partial = target.with_name(f".{target.name}.copying")
    shutil.copyfile(source, partial)
    shutil.copystat(source, partial)
    os.chmod(partial, 0o600)
    os.replace(partial, target)


def files_under(root: Path) -> Iterator[Path]:
    """The regular files under ``root`` (a file: itself), hidden ones (locks, partial
    files) left out; nothing when it does not exist."""
    if root.is_file():
        yield root
        return
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(folder) / name
            if not name.startswith(".") and path.is_file() and not path.is_symlink():
                yield path


def still_written(path: Path, now: float | None = None) -> bool:
    """A plain recording Asterisk may still be writing."""
    if path.suffix != ".wav":
        return False
    return (now or time.time()) - path.stat().st_mtime < STILL_WRITTEN_SECONDS


def copy_part(source: Path, target: Path) -> tuple[int, list[Path]]:
    """Copy the file or directory ``source`` to ``target``; (files copied, plain
    recordings left out because they are still being written)."""
    copied, skipped = 0, []
    for path in files_under(source):
        if still_written(path):
            skipped.append(path)
            continue
        copy_file(path, target if source.is_file() else target / path.relative_to(source))
        copied += 1
    return copied, skipped
