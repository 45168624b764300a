"""The manifest of a backup: what it holds, when it was made, and a SHA-256 per file.

``DEST/manifest.json`` is written last, so a backup cut short has none and is refused.
Verifying a backup reads every file it lists and refuses it, naming the file, when one
is missing, differs in size or digest, or is there without being listed; a manifest
that names a path outside the backup is refused as well. Nothing is restored from a
backup that does not verify.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal

MANIFEST = "manifest.json"
FORMAT = "madoguchi-backup"
VERSION = 1
Kind = Literal["data", "keys"]


class BackupError(Exception):
    """A backup cannot be made, read or restored; the message names what and why."""


@dataclass(frozen=True)
class FileEntry:
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    kind: Kind
    created_at: str
    files: dict[str, FileEntry]
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "kind": self.kind,
                "created_at": self.created_at, "details": self.details,
                "files": {name: {"size": e.size, "sha256": e.sha256}
                          for name, e in sorted(self.files.items())}}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def listed_files(root: Path) -> list[str]:
    """Every regular file under ``root`` but the manifest, as POSIX paths relative to it."""
    found = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            relative = (Path(folder) / name).relative_to(root).as_posix()
            if relative != MANIFEST:
                found.append(relative)
    return sorted(found)


def write_manifest(root: Path, kind: Kind, details: dict[str, Any]) -> Manifest:
    """Digest every file under ``root`` and write ``root/manifest.json`` (0600)."""
    files = {}
    for name in listed_files(root):
        path = root / name
        files[name] = FileEntry(path.stat().st_size, sha256_of(path))
    manifest = Manifest(kind, datetime.now(UTC).isoformat(timespec="seconds"), files, details)
    target = root / MANIFEST
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(manifest.to_json(), fh, indent=1, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())
    return manifest


def read_manifest(root: Path, kind: Kind) -> Manifest:
    """The manifest of the backup in ``root``, checked to be one of ``kind``."""
    path = root / MANIFEST
    if not root.is_dir():
        raise BackupError(f"{root} is not a directory (a backup is a directory made by "
                          "'acd backup')")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{path} is missing: {root} is not a complete Madoguchi backup"
                          ) from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path} is unreadable: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BackupError(f"{path} is not the manifest of a Madoguchi backup")
    if data.get("version") != VERSION:
        raise BackupError(f"{path}: backup format version {data.get('version')} is not "
                          f"supported (this Madoguchi reads version {VERSION})")
    if data.get("kind") != kind:
        other = "acd restore --keys DIR" if data.get("kind") == "keys" else "acd restore DIR"
        raise BackupError(f"{root} is a backup of the {data.get('kind')}, not of the "
                          f"{kind}: give it as {other}")
    try:
        files = {name: FileEntry(int(e["size"]), str(e["sha256"]))
                 for name, e in data["files"].items()}
        return Manifest(kind, str(data["created_at"]), files, dict(data.get("details", {})))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BackupError(f"{path} is damaged: {exc!r}") from None


def _inside(root: Path, name: str) -> Path:
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise BackupError(f"{root / MANIFEST} names {name!r}, a path outside the backup")
    return root / relative


def verify(root: Path, kind: Kind) -> Manifest:
    """Read the manifest and check every file against it; :class:`BackupError` naming
    the first file that is missing, changed or not listed."""
    manifest = read_manifest(root, kind)
    for name, entry in sorted(manifest.files.items()):
        path = _inside(root, name)
        if not path.is_file():
            raise BackupError(f"{path} is missing from the backup (listed in its manifest)")
        size = path.stat().st_size
        if size != entry.size:
            raise BackupError(f"{path} is damaged: {size} bytes, the manifest says "
                              f"{entry.size}")
        if sha256_of(path) != entry.sha256:
            raise BackupError(f"{path} is damaged: its SHA-256 differs from the manifest's")
    extra = sorted(set(listed_files(root)) - set(manifest.files))
    if extra:
        raise BackupError(f"{root / extra[0]} is in the backup but not in its manifest")
    return manifest
