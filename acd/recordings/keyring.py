"""The keys that seal recordings: generated at first use, rotated, and destroyed by key id.

A key is 32 random bytes (AES-256), named by a key id ``YYYYMMDD-xxxxxxxx`` (the UTC date
it was made and 8 random hex digits, so that a keyring made anew never reuses an id).
Exactly one key is *current*: new recordings are sealed with it. :meth:`Keyring.rotate`
makes a new key current; the old ones are *retired* and stay for decrypting the files
sealed with them. :meth:`Keyring.destroy` destroys a retired key (crypto-shredding;
:func:`crypto_shred` gives the destruction's tombstone): its material is overwritten and
removed, and a record without the material stays, so that opening a file sealed with it
fails with :class:`KeyDestroyedError` ("destroyed on …") rather than
:class:`UnknownKeyError`.

Two forms, chosen by the path given to :class:`Keyring`:

Directory (any path not ending in ``.json``; recommended)
    ``DIR/`` (created 0700) holds one file per key, ``DIR/<key_id>.key`` (0600)::

        {"format": "madoguchi-key", "version": 1, "key_id": "20260712-1a2b3c4d",
         "created_at": "2026-07-12T01:02:03+00:00", "key": "<base64 of 32 bytes>"}

    ``DIR/CURRENT`` holds the current key id and a newline; ``DIR/<key_id>.destroyed``
    (0600) records a destroyed key: ``{"format": "madoguchi-destroyed-key", "version": 1,
    "key_id", "created_at", "destroyed_at", "fingerprint"}``. A key file is written once
    and never rewritten, so destroying a key overwrites exactly the blocks that held it.

One JSON file (a path ending in ``.json``)
    ``{"format": "madoguchi-keyring", "version": 1, "current": "<key_id>",
    "keys": {"<key_id>": {"created_at": …, "key": "<base64>"}},
    "destroyed": {"<key_id>": {"created_at": …, "destroyed_at": …, "fingerprint": …}}}``
    (0600). Every change writes ``PATH.new``, fsyncs it, overwrites the old file in
    place (so no stale copy of a key is left in freed blocks), then renames ``PATH.new``
    over ``PATH``. A crash between the last two steps leaves ``PATH`` unreadable and
    ``PATH.new`` complete; the next read takes ``PATH.new``.

Key files and the JSON keyring must not be readable by group or others (as ssh insists
for private keys): :class:`InsecureKeyringError` otherwise. Changes (first key, rotation,
destruction) take an exclusive ``flock`` on ``DIR/.lock`` or ``PATH.lock``, so that the
controller and a CLI can share one keyring. Nothing is cached: every lookup reads the
files, so a key destroyed by another process is gone for this one too.

The keyring lives outside git, next to the other secrets in the state directory; keep it
out of ordinary backups of the recordings (a backup of the key defeats crypto-shredding).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from acd.recordings.erasure import (
    CRYPTO_SHRED,
    Tombstone,
    fsync_dir,
    overwrite_and_unlink,
    overwrite_in_place,
)

KEY_BYTES = 32
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class KeyringError(Exception):
    """A key cannot be had or changed; the message says which and why."""


class UnknownKeyError(KeyringError, LookupError):
    """The key id is not in this keyring (never was, or the keyring is another one)."""


class KeyDestroyedError(KeyringError):
    """The key id was destroyed (crypto-shredded); what it sealed is unreadable for good."""


class InsecureKeyringError(KeyringError):
    """A key file is readable by group or others."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def key_fingerprint(key: bytes) -> str:
    """A SHA-256 fingerprint of key material, safe to show and keep after destruction."""
    return hashlib.sha256(b"madoguchi-key-fingerprint\0" + key).hexdigest()


def check_key_id(key_id: str) -> str:
    if not KEY_ID_PATTERN.match(key_id):
        raise KeyringError(f"invalid key id {key_id!r}: 1-64 characters of A-Z a-z 0-9 . _ -,"
                           " not starting with . _ -")
    return key_id


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    created_at: datetime
    state: Literal["current", "retired", "destroyed"]
    fingerprint: str
    destroyed_at: datetime | None = None


@dataclass(frozen=True)
class _Key:
    key_id: str
    created_at: datetime
    material: bytes


@dataclass(frozen=True)
class _Destroyed:
    key_id: str
    created_at: datetime
    destroyed_at: datetime
    fingerprint: str


def _write_secret(path: Path, data: bytes) -> None:
    """Write a 0600 file and fsync it; fails if it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_secret(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if mode & 0o077:
            raise InsecureKeyringError(
                f"{path} is readable or writable by group or others (mode {mode & 0o777:o});"
                " run: chmod 600 " + str(path))
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _b64(material: bytes) -> str:
    return base64.b64encode(material).decode("ascii")


def _unb64(text: str, where: Path) -> bytes:
    material = base64.b64decode(text, validate=True)
    if len(material) != KEY_BYTES:
        raise KeyringError(f"{where}: a key must be {KEY_BYTES} bytes, found {len(material)}")
    return material


class _DirStore:
    """One file per key in a directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path / ".lock"

    def ensure(self) -> None:
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _key_path(self, key_id: str) -> Path:
        return self.path / f"{check_key_id(key_id)}.key"

    def _destroyed_path(self, key_id: str) -> Path:
        return self.path / f"{check_key_id(key_id)}.destroyed"

    def current_id(self) -> str | None:
        try:
            text = (self.path / "CURRENT").read_text().strip()
        except FileNotFoundError:
            return None
        return check_key_id(text)

    def destroyed(self, key_id: str) -> _Destroyed | None:
        path = self._destroyed_path(key_id)
        try:
            data = json.loads(_read_secret(path))
        except FileNotFoundError:
            return None
        return _Destroyed(key_id, datetime.fromisoformat(data["created_at"]),
                          datetime.fromisoformat(data["destroyed_at"]), data["fingerprint"])

    def key(self, key_id: str) -> _Key | None:
        path = self._key_path(key_id)
        try:
            data = json.loads(_read_secret(path))
        except FileNotFoundError:
            return None
        if data.get("format") != "madoguchi-key" or data.get("key_id") != key_id:
            raise KeyringError(f"{path} is not the key file of key id {key_id}")
        return _Key(key_id, datetime.fromisoformat(data["created_at"]),
                    _unb64(data["key"], path))

    def ids(self) -> list[str]:
        if not self.path.is_dir():
            return []
        found = {p.stem for p in self.path.iterdir() if p.suffix in (".key", ".destroyed")}
        return sorted(k for k in found if KEY_ID_PATTERN.match(k))

    def add(self, key: _Key, *, make_current: bool) -> None:
        self.ensure()
        payload = {"format": "madoguchi-key", "version": 1, "key_id": key.key_id,
                   "created_at": key.created_at.isoformat(), "key": _b64(key.material)}
        _write_secret(self._key_path(key.key_id), json.dumps(payload).encode())
        if make_current:
            tmp = self.path / f".CURRENT.{secrets.token_hex(4)}"
            _write_secret(tmp, f"{key.key_id}\n".encode())
            os.replace(tmp, self.path / "CURRENT")
        fsync_dir(self.path)

    def destroy(self, key: _Key, destroyed_at: datetime) -> _Destroyed:
        record = _Destroyed(key.key_id, key.created_at, destroyed_at,
                            key_fingerprint(key.material))
        payload = {"format": "madoguchi-destroyed-key", "version": 1, "key_id": key.key_id,
                   "created_at": key.created_at.isoformat(),
                   "destroyed_at": destroyed_at.isoformat(),
                   "fingerprint": record.fingerprint}
        # the record first: after a crash in between, the key counts as destroyed and
        # the next destroy() finishes the shredding
        _write_secret(self._destroyed_path(key.key_id), json.dumps(payload).encode())
        fsync_dir(self.path)
        overwrite_and_unlink(self._key_path(key.key_id), pattern="random")
        return record

    def finish_destroy(self, key_id: str) -> None:
        path = self._key_path(key_id)
        if path.exists():
            overwrite_and_unlink(path, pattern="random")


class _JsonStore:
    """All keys in one JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.new_path = path.with_name(path.name + ".new")
        self.lock_path = path.with_name(path.name + ".lock")

    def ensure(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _load(self) -> dict[str, Any]:
        for _ in range(3):
            try:
                return self._parse(_read_secret(self.path), self.path)
            except FileNotFoundError:
                if not self.new_path.exists():
                    return {"format": "madoguchi-keyring", "version": 1, "current": None,
                            "keys": {}, "destroyed": {}}
            except (ValueError, UnicodeDecodeError):
                pass  # overwritten just before being replaced (crash or concurrent change)
            try:
                return self._parse(_read_secret(self.new_path), self.new_path)
            except FileNotFoundError:
                continue  # the replace has just happened: read the main file again
        raise KeyringError(f"{self.path} is not a readable keyring")

    @staticmethod
    def _parse(raw: bytes, where: Path) -> dict[str, Any]:
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("format") != "madoguchi-keyring":
            raise KeyringError(f"{where} is not a Madoguchi keyring")
        return data

    def _save(self, data: dict[str, Any]) -> None:
        self.ensure()
        with contextlib.suppress(FileNotFoundError):
            self.new_path.unlink()
        _write_secret(self.new_path, json.dumps(data, indent=1, sort_keys=True).encode())
        if self.path.exists():
            overwrite_in_place(self.path)
        os.replace(self.new_path, self.path)
        fsync_dir(self.path.parent)

    def current_id(self) -> str | None:
        return self._load().get("current")

    def destroyed(self, key_id: str) -> _Destroyed | None:
        entry = self._load()["destroyed"].get(key_id)
        if entry is None:
            return None
        return _Destroyed(key_id, datetime.fromisoformat(entry["created_at"]),
                          datetime.fromisoformat(entry["destroyed_at"]), entry["fingerprint"])

    def key(self, key_id: str) -> _Key | None:
        entry = self._load()["keys"].get(key_id)
        if entry is None:
            return None
        return _Key(key_id, datetime.fromisoformat(entry["created_at"]),
                    _unb64(entry["key"], self.path))

    def ids(self) -> list[str]:
        data = self._load()
        return sorted(set(data["keys"]) | set(data["destroyed"]))

    def add(self, key: _Key, *, make_current: bool) -> None:
        data = self._load()
        data["keys"][key.key_id] = {"created_at": key.created_at.isoformat(),
                                    "key": _b64(key.material)}
        if make_current:
            data["current"] = key.key_id
        self._save(data)

    def destroy(self, key: _Key, destroyed_at: datetime) -> _Destroyed:
        record = _Destroyed(key.key_id, key.created_at, destroyed_at,
                            key_fingerprint(key.material))
        data = self._load()
        del data["keys"][key.key_id]
        data["destroyed"][key.key_id] = {"created_at": key.created_at.isoformat(),
                                         "destroyed_at": destroyed_at.isoformat(),
                                         "fingerprint": record.fingerprint}
        self._save(data)
        return record

    def finish_destroy(self, key_id: str) -> None:
        data = self._load()
        if data["keys"].pop(key_id, None) is not None:
            self._save(data)


class Keyring:
    """The recording keys at ``path``: a directory of key files, or one ``*.json`` file."""

    def __init__(self, path: Path | str, *,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self.path = Path(path)
        self.form: Literal["dir", "json"] = "json" if self.path.suffix == ".json" else "dir"
        self._store: _DirStore | _JsonStore = (
            _JsonStore(self.path) if self.form == "json" else _DirStore(self.path))
        self._clock = clock

    def __repr__(self) -> str:
        return f"Keyring({str(self.path)!r}, form={self.form!r})"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._store.ensure()
        fd = os.open(self._store.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _new_key(self) -> _Key:
        now = self._clock()
        key_id = f"{now.astimezone(UTC):%Y%m%d}-{secrets.token_hex(4)}"
        return _Key(key_id, now, secrets.token_bytes(KEY_BYTES))

    # -- lookups -------------------------------------------------------------------
    def key(self, key_id: str) -> bytes:
        """The key material of ``key_id`` (current or retired).

        Raises :class:`KeyDestroyedError` for a destroyed key id and
        :class:`UnknownKeyError` for one this keyring never had.
        """
        check_key_id(key_id)
        destroyed = self._store.destroyed(key_id)
        if destroyed is not None:
            raise KeyDestroyedError(
                f"key id {key_id} was destroyed (crypto-shredded) at "
                f"{destroyed.destroyed_at.isoformat()}; what it sealed can no longer be "
                "decrypted")
        key = self._store.key(key_id)
        if key is None:
            raise UnknownKeyError(f"key id {key_id} is not in the keyring {self.path} "
                                  "(a different or re-created keyring?)")
        return key.material

    def current(self) -> tuple[str, bytes]:
        """``(key_id, key)`` of the current key; the first key is generated here."""
        key_id = self._store.current_id()
        if key_id is None:
            with self._locked():
                key_id = self._store.current_id()
                if key_id is None:
                    new = self._new_key()
                    self._store.add(new, make_current=True)
                    key_id = new.key_id
        return key_id, self.key(key_id)

    @property
    def current_key_id(self) -> str:
        return self.current()[0]

    def keys(self) -> list[KeyInfo]:
        """Every key id this keyring knows, oldest first, with its state."""
        current = self._store.current_id()
        infos = []
        for key_id in self._store.ids():
            destroyed = self._store.destroyed(key_id)
            if destroyed is not None:
                infos.append(KeyInfo(key_id, destroyed.created_at, "destroyed",
                                     destroyed.fingerprint, destroyed.destroyed_at))
                continue
            key = self._store.key(key_id)
            if key is None:
                continue
            infos.append(KeyInfo(key_id, key.created_at,
                                 "current" if key_id == current else "retired",
                                 key_fingerprint(key.material)))
        return sorted(infos, key=lambda info: (info.created_at, info.key_id))

    # -- changes -------------------------------------------------------------------
    def rotate(self) -> str:
        """Make a new key current; the previous one is retired (still decrypts)."""
        with self._locked():
            new = self._new_key()
            self._store.add(new, make_current=True)
            return new.key_id

    def destroy(self, key_id: str) -> KeyInfo:
        """Destroy a retired key: overwrite and remove its material, keep a record.

        The current key cannot be destroyed: rotate first. Destroying an already
        destroyed key raises :class:`KeyDestroyedError` (after finishing a destruction
        that a crash interrupted).
        """
        with self._locked():
            if key_id == self._store.current_id():
                raise KeyringError(f"key id {key_id} is the current key; rotate first, "
                                   "then destroy it once it is retired")
            if self._store.destroyed(key_id) is not None:
                self._store.finish_destroy(key_id)
                raise KeyDestroyedError(f"key id {key_id} is already destroyed")
            key = self._store.key(key_id)
            if key is None:
                raise UnknownKeyError(f"key id {key_id} is not in the keyring {self.path}")
            record = self._store.destroy(key, self._clock())
        return KeyInfo(key_id, record.created_at, "destroyed", record.fingerprint,
                       record.destroyed_at)


def crypto_shred(
    keyring: Keyring,
    key_id: str,
    *,
    reason: str = "",
    operator: str = "",
) -> Tombstone:
    """Destroy the key of a retired key id; every file sealed with it becomes unreadable.

    The current key cannot be shredded (rotate first). Raises :class:`KeyringError`
    subclasses for an unknown, current or already destroyed key id. See
    :mod:`acd.recordings.erasure` for what crypto-shredding guarantees.
    """
    info = keyring.destroy(key_id)
    assert info.destroyed_at is not None
    return Tombstone(kind="key", target=f"key:{key_id}", method=CRYPTO_SHRED,
                     sha256=info.fingerprint, size=32, erased_at=info.destroyed_at,
                     reason=reason, operator=operator,
                     detail=f"key material of key id {key_id} ({keyring.form} keyring "
                     f"{keyring.path}) overwritten and removed; files sealed with it "
                     "can no longer be decrypted")
