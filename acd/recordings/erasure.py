"""Erasing recordings so that they cannot be restored, with a tombstone as proof.

Two methods, for two different things:

``overwrite_and_unlink(path)`` — method ``"overwrite+unlink"``
    1. opens the file (never through a symlink; regular files only) and hashes its whole
       content (SHA-256), refusing to go on if it does not match ``expected_sha256`` or if
       the file changes size while being read;
    2. overwrites every byte in place, through the same inode, with zeros (or random
       bytes), ``fsync``\\ s it;
    3. drops the file's pages from the page cache and reads the content back, checking
       that the device now returns the pattern (``verified`` in the tombstone's detail);
    4. renames the file to a random name in the same directory (so the call's unique id
       does not linger as a directory entry either), unlinks it and ``fsync``\\ s the
       directory;
    5. returns a :class:`Tombstone`: what (path, size, SHA-256 of the original content),
       when, why, by whom, and how.

    Hard links: the content is overwritten under *every* name of the inode (that is the
    point of overwriting in place); only the given name is unlinked. The number of other
    names is written in the tombstone's detail.

``crypto_shred(keyring, key_id)`` — method ``"crypto-shred"``
    (:func:`acd.recordings.keyring.crypto_shred`: beside the keyring, which uses the
    primitives of this module, so the dependency goes one way) destroys the key of a
    *retired* key id (see :meth:`Keyring.destroy <acd.recordings.keyring.Keyring.destroy>`):
    its key material is overwritten and removed, and a destruction record without the
    material is kept so that opening a file sealed with it says "key destroyed" rather
    than "unknown key". Every file sealed with that key id, wherever copies of it are
    (backups, other disks, remapped SSD pages), becomes undecryptable at once.

What overwriting can and cannot guarantee
-----------------------------------------
Overwriting in place replaces the bytes that the *file system* shows for the file. It is
a sound erasure ("Clear" in NIST SP 800-88) on a magnetic disk under a file system that
rewrites existing blocks in place (ext4 in its default ``data=ordered`` mode, XFS without
reflinks). It cannot guarantee that no physical copy of the old bytes remains when:

* the medium is an SSD, eMMC or SD card: the flash translation layer writes the new
  bytes to fresh pages and only marks the old ones stale; they stay readable with
  chip-level tools until garbage collection erases them (TRIM/discard helps, but when is
  up to the firmware);
* the file system is copy-on-write or logs data (btrfs, ZFS, XFS/ext4 with reflinked
  copies, ext4 ``data=journal``, log-structured f2fs): the overwrite goes to new blocks,
  the old ones are freed, not wiped;
* snapshots (LVM, ZFS, btrfs, VM or SAN snapshots), backups, replicas, or copies made
  elsewhere (a download by a browser, a copy for an inquiry) hold the data too;
* the data was ever in swap, or in a file the writer renamed over (a file system may
  leave the old blocks of a replaced file unwiped).

Hence the recording store does not rely on overwriting alone: recordings are sealed
(encrypted, :mod:`acd.recordings.sealed`) as soon as the call ends, so the plain WAV
exists only for the length of a call, and every later copy is ciphertext. Overwriting a
sealed file removes that copy; destroying its key (crypto-shredding) is the stronger
erasure, because it makes *every* copy of the ciphertext unreadable — provided the key
itself was never copied (keep keyring backups under the same retention rules, or not at
all) and the key file's own remnants are not readable (the same SSD caveats apply to the
32-byte key, which is why the keyring should live on a medium whose remnants are
controlled, e.g. an encrypted volume). For the plain WAVs while calls are in progress, an
encrypted volume (LUKS) under the recordings directory closes the remaining gap.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

OVERWRITE_UNLINK = "overwrite+unlink"
CRYPTO_SHRED = "crypto-shred"

_BLOCK = 1 << 20


class ErasureError(Exception):
    """The erasure was refused or failed; the message says which step and why."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Tombstone:
    """The record of one erasure: what, when, why, by whom and how.

    ``sha256`` is the SHA-256 of the erased file's original content for ``kind="file"``,
    and the key's fingerprint (:func:`acd.recordings.keyring.key_fingerprint`) for
    ``kind="key"``; ``size`` is in bytes (32 for a key).
    """

    kind: Literal["file", "key"]
    target: str
    method: str
    sha256: str
    size: int
    erased_at: datetime
    reason: str
    operator: str
    detail: str

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["erased_at"] = self.erased_at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Tombstone:
        fields = dict(data)
        fields["erased_at"] = datetime.fromisoformat(str(fields["erased_at"]))
        return cls(**fields)  # type: ignore[arg-type]


def _hash_fd(fd: int) -> tuple[str, int]:
    digest, offset = hashlib.sha256(), 0
    while block := os.pread(fd, _BLOCK, offset):
        digest.update(block)
        offset += len(block)
    return digest.hexdigest(), offset


def _drop_cache(fd: int) -> bool:
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except (AttributeError, OSError):
        return False
    return True


def _overwrite_fd(fd: int, size: int, pattern: Literal["zeros", "random"]) -> bool:
    """Overwrite ``size`` bytes of ``fd`` in place, fsync, read back; True if verified."""
    written = hashlib.sha256()
    zeros = bytes(min(size, _BLOCK))
    offset = 0
    while offset < size:
        n = min(_BLOCK, size - offset)
        block = zeros[:n] if pattern == "zeros" else secrets.token_bytes(n)
        done = 0
        while done < n:
            done += os.pwrite(fd, memoryview(block)[done:], offset + done)
        written.update(block)
        offset += n
    os.fsync(fd)
    _drop_cache(fd)
    back, offset = hashlib.sha256(), 0
    while offset < size:
        block = os.pread(fd, min(_BLOCK, size - offset), offset)
        if not block:
            break
        back.update(block)
        offset += len(block)
    return offset == size and back.digest() == written.digest()


def overwrite_in_place(path: Path, *, pattern: Literal["zeros", "random"] = "zeros") -> None:
    """Overwrite a file's bytes in place (same inode) and fsync, without unlinking it.

    Used by the keyring before it replaces a file that held key material.
    """
    fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        if not _overwrite_fd(fd, size, pattern):
            raise ErasureError(f"{path}: the overwrite did not read back as written")
    finally:
        os.close(fd)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def overwrite_and_unlink(
    path: Path | str,
    *,
    reason: str = "",
    operator: str = "",
    pattern: Literal["zeros", "random"] = "zeros",
    expected_sha256: str | None = None,
    clock: Callable[[], datetime] = _utcnow,
) -> Tombstone:
    """Overwrite a file in place, verify, unlink it; return its tombstone.

    Raises :class:`ErasureError` (leaving the file untouched) when ``path`` is a symlink or
    not a regular file, when its content does not hash to ``expected_sha256`` (for
    example, a recording that changed after it was sealed), or when it changes size while
    being read. Raises :class:`ErasureError` after overwriting if the read-back does not
    match (the file is then left in place, overwritten, for someone to look at).
    See the module docstring for what overwriting can and cannot guarantee.
    """
    path = Path(path).absolute()
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise ErasureError(f"{path}: cannot open for erasure: {exc.strerror}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ErasureError(f"{path}: not a regular file; refusing to erase it")
        sha256, size = _hash_fd(fd)
        if size != os.fstat(fd).st_size:
            raise ErasureError(f"{path}: the file changed size while it was read; "
                               "is it still being written?")
        if expected_sha256 is not None and sha256 != expected_sha256.lower():
            raise ErasureError(f"{path}: content SHA-256 {sha256} is not the expected "
                               f"{expected_sha256}; refusing to erase it")
        verified = _overwrite_fd(fd, size, pattern)
        if not verified:
            raise ErasureError(f"{path}: the overwrite did not read back as written; "
                               "the file was left in place")
        other_links = os.fstat(fd).st_nlink - 1
    finally:
        os.close(fd)
    hidden = path.with_name(f".erased-{secrets.token_hex(8)}")
    os.rename(path, hidden)
    os.unlink(hidden)
    fsync_dir(path.parent)
    detail = (f"1 pass of {pattern}, fsync, read back from the device and verified, "
              "renamed to a random name, unlinked, directory fsynced")
    if other_links:
        detail += f"; {other_links} other hard link(s) to the same inode now hold {pattern}"
    return Tombstone(kind="file", target=str(path), method=OVERWRITE_UNLINK, sha256=sha256,
                     size=size, erased_at=clock(), reason=reason, operator=operator,
                     detail=detail)
