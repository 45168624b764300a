"""``acd restore``: a data backup and/or a keys backup into the directories and the
database of the current settings.

Everything is checked before anything is written: every file of both backups against
its manifest, the schema revision (a backup of a newer Madoguchi is refused), that the
database is empty and that no file in the way differs from the backup's (unless
``force``). Then the database is put back, the file paths in its rows moved to this
machine's directories, and the files copied (each one complete or not at all).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from acd.adapters.db.dump import DatabaseAt, DumpError, holds_tables, load
from acd.adapters.db.engine import make_engine
from acd.adapters.db.migrate import is_known_revision
from acd.adapters.db.relocate import relocate_files
from acd.services.backup.files import copy_file, files_under
from acd.services.backup.layout import data_target, key_parts
from acd.services.backup.manifest import BackupError, Manifest, sha256_of, verify
from acd.settings import Settings


@dataclass(frozen=True)
class Copy:
    source: Path
    target: Path


def _copies(root: Path, names: list[str], target_of: dict[str, Path]) -> list[Copy]:
    copies = []
    for name in names:
        source = root / name
        target = target_of[name]
        copies += [Copy(f, target if source.is_file() else target / f.relative_to(source))
                   for f in files_under(source)]
    return copies


def _data_copies(settings: Settings, root: Path, manifest: Manifest) -> list[Copy]:
    names = [n for n in manifest.details.get("parts", {}) if (root / n).exists()]
    unknown = [n for n in names if n not in ("recordings", "voicemail", "flows")]
    if unknown:
        raise BackupError(f"{root}: unknown part {unknown[0]!r} in the manifest")
    return _copies(root, names, {n: data_target(settings, n) for n in names})


def _key_copies(settings: Settings, root: Path, manifest: Manifest) -> list[Copy]:
    here = {p.name: p.path for p in key_parts(settings)}
    names = list(manifest.details.get("parts", {}))
    for name in names:
        if name in ("keys", "keys.json") and name not in here:
            raise BackupError(
                f"{root} holds the keyring as {name!r} but this machine's keyring is "
                f"{here.get('keys') or here.get('keys.json')}: set "
                "MADOGUCHI_RECORDING_KEYS_DIR to a " +
                ("directory" if name == "keys" else "path ending in .json"))
        if name not in here:
            raise BackupError(f"{root}: unknown part {name!r} in the manifest")
    return _copies(root, names, here)


def _in_the_way(copies: list[Copy]) -> list[Path]:
    """Targets that exist with other contents than the backup's."""
    return [c.target for c in copies
            if c.target.exists() and sha256_of(c.target) != sha256_of(c.source)]


def _moves(settings: Settings, manifest: Manifest) -> list[tuple[Path, Path]]:
    """(old directory, new directory) of each part, the deepest first."""
    parts = manifest.details.get("parts", {})
    moves = [(Path(old), data_target(settings, name).resolve())
             for name, old in parts.items()]
    return sorted(moves, key=lambda m: len(m[0].parts), reverse=True)


async def _checked_snapshot(settings: Settings, data: Path, manifest: Manifest,
                            force: bool) -> Path:
    """The database snapshot of the backup, once it is known to fit the database of the
    settings: a known schema revision, the same kind of database, no tables there."""
    database = manifest.details.get("database", {})
    revision = str(database.get("schema_revision"))
    if not is_known_revision(revision):
        raise BackupError(f"{data} holds a database at schema revision {revision}, which "
                          "this Madoguchi does not know (made by a newer version): upgrade "
                          "Madoguchi first")
    name = str(database.get("file"))
    if name not in manifest.files:
        raise BackupError(f"{data}: the database snapshot {name!r} is not in the manifest")
    url = settings.resolved_database_url
    db = DatabaseAt(url)
    try:
        if database.get("dialect") != db.dialect:
            raise BackupError(f"{data} holds a {database.get('dialect')} database but "
                              f"DATABASE_URL is {db.dialect} ({db.shown}): restore into a "
                              f"{database.get('dialect')} database")
        if await holds_tables(url) and not force:
            raise BackupError(f"database {db.shown} already holds tables: restore into an "
                              "empty one, or give --force to replace it")
    except DumpError as exc:
        raise BackupError(str(exc)) from exc
    return data / name


async def _load_database(settings: Settings, data: Path, manifest: Manifest,
                         snapshot: Path) -> str:
    """Put the snapshot in place and move its file paths here; what was done."""
    url = settings.resolved_database_url
    database = manifest.details["database"]
    try:
        await asyncio.to_thread(load, url, snapshot, database["dialect"])
    except DumpError as exc:
        raise BackupError(str(exc)) from exc
    engine = make_engine(url)
    try:
        moved = await relocate_files(engine, _moves(settings, manifest))
    finally:
        await engine.dispose()
    return (f"database {DatabaseAt(url).shown}: restored from {data} (made "
            f"{manifest.created_at}, schema {database['schema_revision']})"
            + (f"; {moved} file paths moved to this machine's directories" if moved else ""))


async def restore(settings: Settings, data: Path | None, keys: Path | None,
                  force: bool = False) -> list[str]:
    """Restore the backups ``data`` and ``keys`` (either may be None); what was done,
    one line each. :class:`BackupError` (nothing written) when a check fails."""
    data_manifest = await asyncio.to_thread(verify, data, "data") if data else None
    keys_manifest = await asyncio.to_thread(verify, keys, "keys") if keys else None
    snapshot = None
    data_copies: list[Copy] = []
    key_copies: list[Copy] = []
    if data is not None and data_manifest is not None:
        snapshot = await _checked_snapshot(settings, data, data_manifest, force)
        data_copies = _data_copies(settings, data, data_manifest)
    if keys is not None and keys_manifest is not None:
        key_copies = _key_copies(settings, keys, keys_manifest)
    in_the_way = await asyncio.to_thread(_in_the_way, data_copies + key_copies)
    if in_the_way and not force:
        shown = ", ".join(map(str, in_the_way[:3]))
        raise BackupError(f"{len(in_the_way)} file(s) here differ from the backup's "
                          f"({shown}{', …' if len(in_the_way) > 3 else ''}): give --force "
                          "to replace them")

    done = []
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    if data is not None and data_manifest is not None and snapshot is not None:
        done.append(await _load_database(settings, data, data_manifest, snapshot))
    for copy in data_copies + key_copies:
        await asyncio.to_thread(copy_file, copy.source, copy.target)
    if data is not None:
        done.append(f"{len(data_copies)} files restored from {data}")
    if keys is not None:
        done.append(f"{len(key_copies)} keys, secrets and certificates restored from {keys}")
    return done
