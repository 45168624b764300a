"""``acd backup``: a backup of the data, or of the keys, into a new directory.

Data: the database snapshot first (consistent by itself, taken while the stack runs),
then the files. A recording sealed between the two is copied without its row (harmless:
nothing lists it); the rows of the snapshot find their files, because a sealed file is
removed only by an erasure, which the next backup carries. Plain recordings still being
written are left out (they are sealed, and backed up, after their call).

Keys: the recording keyring, ``secrets.json`` and ``tls/``: kept apart from the data so
that the data's copies can travel (to tape, another site) without what opens them, and
so that destroying a key (crypto-shredding) is not undone by every data backup.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from acd.adapters.db.dump import DUMP_NAMES, DatabaseAt, DumpError, dump, holds_tables
from acd.adapters.db.migrate import current_revision
from acd.services.backup.files import copy_part, lock_down, private_dir
from acd.services.backup.layout import DATABASE_DIR, data_parts, key_parts
from acd.services.backup.manifest import (
    MANIFEST,
    BackupError,
    Kind,
    Manifest,
    read_manifest,
    write_manifest,
)
from acd.settings import Settings

DATED = re.compile(r"^\d{8}-\d{6}$")


@dataclass
class Made:
    """A backup written: where, its manifest, and what was left out and why."""

    dest: Path
    manifest: Manifest
    skipped: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(e.size for e in self.manifest.files.values())


def dated(parent: Path, now: datetime | None = None) -> Path:
    """A new backup's directory under ``parent``, named by the local time."""
    return parent / (now or datetime.now()).strftime("%Y%m%d-%H%M%S")


def prune(parent: Path, kind: Kind, keep: int) -> list[Path]:
    """Remove all but the ``keep`` newest dated backups of ``kind`` in ``parent``
    (directories named by :func:`dated` holding such a manifest); those removed."""
    backups = []
    for child in sorted(parent.iterdir()) if parent.is_dir() else []:
        if DATED.match(child.name) and (child / MANIFEST).is_file():
            with contextlib.suppress(BackupError):
                read_manifest(child, kind)
                backups.append(child)
    removed = backups[:-keep] if keep > 0 else []
    for old in removed:
        shutil.rmtree(old)
    return removed


@contextlib.contextmanager
def _new_backup_dir(dest: Path) -> Iterator[Path]:
    """``dest``, created 0700 (it may exist if empty); removed again when the backup
    fails, so that no partial backup is left."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} already exists and is not an empty directory: give a "
                          "new one (or --dated to make one per backup)")
    private_dir(dest)
    try:
        yield dest
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def _details(settings: Settings) -> dict[str, Any]:
    return {"madoguchi": metadata.version("madoguchi"), "host": socket.gethostname(),
            "state_dir": str(settings.state_dir.resolve())}


async def back_up_data(settings: Settings, dest: Path) -> Made:
    """The database, the recordings (and voicemail) and the flows in the state directory."""
    url = settings.resolved_database_url
    db = DatabaseAt(url)
    try:
        if not await holds_tables(url):
            raise BackupError(f"database {db.shown} holds no tables: nothing to back up")
        revision = await current_revision(url)
    except DumpError as exc:
        raise BackupError(str(exc)) from exc
    warnings = []
    spool = settings.state_dir / "spool.jsonl"
    if spool.exists():
        warnings.append(f"writes waiting in {spool} (the database was away) are not in "
                        "this backup yet: take another once the stack has written them")
    with _new_backup_dir(dest) as root:
        snapshot = root / DATABASE_DIR / DUMP_NAMES[db.dialect]
        private_dir(snapshot.parent)
        try:
            await asyncio.to_thread(dump, url, snapshot)
        except DumpError as exc:
            raise BackupError(str(exc)) from exc
        snapshot.chmod(0o600)
        skipped: list[Path] = []
        parts = {}
        for part in data_parts(settings):
            _count, left_out = await asyncio.to_thread(copy_part, part.path, root / part.name)
            skipped += left_out
            parts[part.name] = str(part.path.resolve())
        details = {**_details(settings), "parts": parts,
                   "database": {"dialect": db.dialect, "file": snapshot.relative_to(root)
                                .as_posix(), "schema_revision": revision}}
        lock_down(root)
        manifest = await asyncio.to_thread(write_manifest, root, "data", details)
    return Made(dest, manifest, skipped, warnings)


async def back_up_keys(settings: Settings, dest: Path) -> Made:
    """The recording keyring, the generated secrets and the local CA (0600 files)."""
    parts = [p for p in key_parts(settings) if p.path.exists()]
    if not parts:
        raise BackupError(f"no keys, secrets.json or tls/ in {settings.state_dir}: "
                          "nothing to back up")
    with _new_backup_dir(dest) as root:
        for part in parts:
            await asyncio.to_thread(copy_part, part.path, root / part.name)
        details = {**_details(settings),
                   "parts": {p.name: str(p.path.resolve()) for p in parts}}
        lock_down(root)
        manifest = await asyncio.to_thread(write_manifest, root, "keys", details)
    return Made(dest, manifest)

