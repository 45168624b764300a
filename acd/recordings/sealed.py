"""Sealed recordings: chunked AES-256-GCM files that can be decrypted by byte range.

A recording is sealed once its call has ended (:func:`seal_recording`: seal, verify by
decrypting everything back, then erase the plain WAV). Playback opens the sealed file
(:class:`SealedReader`) and decrypts only the chunks a range request touches, so a
browser's audio player can seek.

File format, version 1
----------------------
All integers are unsigned big-endian. ``L`` is the length of the key id.

====== ====== ==============================================================================
offset length field
====== ====== ==============================================================================
0      8      magic ``89 4D 44 47 53 45 41 4C`` (``"\\x89MDGSEAL"``; the high byte catches
              7-bit transfers, as in PNG)
8      1      format version, ``1``
9      1      ``L``, 1..64
10     L      key id, ASCII ``[A-Za-z0-9._-]`` (:mod:`acd.recordings.keyring`)
10+L   4      chunk size ``C``: plaintext bytes per chunk, 1..16 MiB (default 65,536)
14+L   8      plain size ``P``: bytes of the original file
22+L   32     salt, random per file
54+L   7      nonce prefix, random per file
61+L   32     header MAC: HMAC-SHA256(mac_key, bytes 0 .. 61+L-1)
93+L          end of the header; header length ``H = 93 + L``
====== ====== ==============================================================================

Keys. ``enc_key || mac_key = HKDF-SHA256(ikm = the key of the key id, salt = salt,
info = "madoguchi-sealed-v1", length = 64)``: 32 bytes each. Every file thus has its own
AES key, so the 96-bit nonces below only need to be unique within one file.

Chunks. ``n = max(1, ceil(P / C))`` chunks follow the header, back to back. Chunk ``i``
(from 0) seals plaintext bytes ``[i*C, min((i+1)*C, P))`` (the last one may be shorter;
an empty file has one empty chunk) as AES-256-GCM ciphertext followed by its 16-byte tag,
at offset ``H + i*(C+16)``, with

* ``final = 1`` for chunk ``n-1`` and ``0`` for every other chunk,
* nonce ``= nonce prefix (7) || i as u32 (4) || final as u8 (1)`` (12 bytes),
* associated data ``= the whole header (H bytes, MAC included) || i as u32 || final as u8``.

The sealed size is exactly ``H + P + 16*n``.

What this detects. A changed byte anywhere fails a tag (a chunk's) or the header MAC;
a chunk moved to another index, or from another file, fails its tag (the index and
the header are in the nonce and the associated data); a file cut at a chunk boundary or
extended has the wrong size for its header, and the last chunk carries ``final = 1``, so a
shortened file cannot pass as complete even with a forged plain size (which would fail
the header MAC anyway). A header MAC that fails with the right key id means the keyring
holds a different key under that id (a re-created or another site's keyring) or the
header was altered: both are reported as :class:`WrongKeyError`.

The plain file's SHA-256 is not stored in the file (it would let anyone confirm a guess
of the content); :class:`SealInfo` returns it for the database.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
import struct
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from acd.recordings.erasure import Tombstone, fsync_dir, overwrite_and_unlink
from acd.recordings.keyring import Keyring, KeyringError, check_key_id

MAGIC = b"\x89MDGSEAL"
VERSION = 1
DEFAULT_CHUNK_SIZE = 64 * 1024
MAX_CHUNK_SIZE = 16 * 1024 * 1024
SALT_BYTES = 32
NONCE_PREFIX_BYTES = 7
MAC_BYTES = 32
TAG_BYTES = 16
HKDF_INFO = b"madoguchi-sealed-v1"
#: suggested name of a sealed recording: ``<uniqueid>.wav`` becomes ``<uniqueid>.wav.mdgs``
SEALED_SUFFIX = ".mdgs"

_FIXED = struct.Struct(">IQ")  # chunk size, plain size


class SealedFileError(Exception):
    """A sealed recording cannot be read or written; the message says why."""


class NotSealedError(SealedFileError):
    """The file does not start with the sealed-recording magic."""


class UnsupportedFormatError(SealedFileError):
    """A format version (or header value) this code does not know."""


class TruncatedError(SealedFileError):
    """The file is shorter (or longer) than its header says."""


class TamperedError(SealedFileError):
    """A chunk failed authentication: altered, damaged, or moved."""


class WrongKeyError(SealedFileError):
    """The header MAC fails: another key under that key id, or an altered header."""


class SealError(SealedFileError):
    """Sealing failed or its verification did not match; the plain file is untouched."""


@dataclass(frozen=True)
class SealedHeader:
    version: int
    key_id: str
    chunk_size: int
    plain_size: int
    salt: bytes
    nonce_prefix: bytes
    mac: bytes
    raw: bytes  #: the header bytes as stored, MAC included

    @property
    def length(self) -> int:
        return len(self.raw)

    @property
    def chunk_count(self) -> int:
        return max(1, -(-self.plain_size // self.chunk_size))

    @property
    def sealed_size(self) -> int:
        return self.length + self.plain_size + TAG_BYTES * self.chunk_count

    def chunk_offset(self, index: int) -> int:
        return self.length + index * (self.chunk_size + TAG_BYTES)

    def chunk_plain_length(self, index: int) -> int:
        return min(self.chunk_size, self.plain_size - index * self.chunk_size)


@dataclass(frozen=True)
class SealInfo:
    key_id: str
    plain_size: int
    plain_sha256: str
    sealed_size: int
    sealed_sha256: str
    chunk_size: int


@dataclass(frozen=True)
class VerifyInfo:
    key_id: str
    plain_size: int
    plain_sha256: str


@dataclass(frozen=True)
class SealResult:
    """What :func:`seal_recording` did: the sealed file and the plain file's tombstone."""

    sealed_path: Path
    seal: SealInfo
    plain_tombstone: Tombstone


def _derive(key: bytes, salt: bytes) -> tuple[bytes, bytes]:
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=salt, info=HKDF_INFO).derive(key)
    return okm[:32], okm[32:]


def _header_body(key_id: str, chunk_size: int, plain_size: int, salt: bytes,
                 prefix: bytes) -> bytes:
    kid = key_id.encode("ascii")
    return (MAGIC + bytes([VERSION, len(kid)]) + kid + _FIXED.pack(chunk_size, plain_size)
            + salt + prefix)


def _nonce_aad(header: SealedHeader, index: int) -> tuple[bytes, bytes]:
    final = 1 if index == header.chunk_count - 1 else 0
    tail = struct.pack(">IB", index, final)
    return header.nonce_prefix + tail, header.raw + tail


def parse_header(data: bytes, where: str = "sealed file") -> SealedHeader:
    """Parse (not authenticate) a header from the first bytes of a sealed file."""
    if len(data) < len(MAGIC) or data[:len(MAGIC)] != MAGIC:
        if len(data) < len(MAGIC) and MAGIC.startswith(data):
            raise TruncatedError(f"{where}: shorter than a sealed-recording header")
        raise NotSealedError(f"{where}: not a sealed recording (no {MAGIC!r} magic)")
    if len(data) < 10:
        raise TruncatedError(f"{where}: shorter than a sealed-recording header")
    version, kid_len = data[8], data[9]
    if version != VERSION:
        raise UnsupportedFormatError(f"{where}: sealed format version {version}; "
                                     f"this code reads version {VERSION}")
    if not 1 <= kid_len <= 64:
        raise UnsupportedFormatError(f"{where}: key id length {kid_len} out of range")
    length = 93 + kid_len
    if len(data) < length:
        raise TruncatedError(f"{where}: shorter than its header ({length} bytes)")
    pos = 10 + kid_len
    try:
        key_id = check_key_id(data[10:pos].decode("ascii"))
    except (UnicodeDecodeError, KeyringError) as exc:
        raise UnsupportedFormatError(f"{where}: invalid key id in the header") from exc
    chunk_size, plain_size = _FIXED.unpack_from(data, pos)
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise UnsupportedFormatError(f"{where}: chunk size {chunk_size} out of range")
    pos += _FIXED.size
    salt = data[pos:pos + SALT_BYTES]
    pos += SALT_BYTES
    prefix = data[pos:pos + NONCE_PREFIX_BYTES]
    pos += NONCE_PREFIX_BYTES
    mac = data[pos:pos + MAC_BYTES]
    return SealedHeader(version, key_id, chunk_size, plain_size, salt, prefix, mac,
                        bytes(data[:length]))


def read_header(path: Path | str) -> SealedHeader:
    """The header of a sealed file, without a key (e.g. to find the files of a key id).

    Not authenticated: use it to route, never to trust.
    """
    with open(path, "rb") as fh:
        return parse_header(fh.read(93 + 64), str(path))


def sealed_path_for(plain_path: Path | str) -> Path:
    plain_path = Path(plain_path)
    return plain_path.with_name(plain_path.name + SEALED_SUFFIX)


def _read_exactly(fh, n: int) -> bytes:
    data = fh.read(n)
    while len(data) < n:
        more = fh.read(n - len(data))
        if not more:
            break
        data += more
    return data


def seal_file(plain_path: Path | str, sealed_path: Path | str, keyring: Keyring, *,
              chunk_size: int = DEFAULT_CHUNK_SIZE) -> SealInfo:
    """Seal ``plain_path`` into ``sealed_path`` (0600) with the keyring's current key.

    The output is written to a temporary name in the same directory, fsynced, and linked
    to ``sealed_path`` only when complete; an existing ``sealed_path`` is never replaced
    (:class:`FileExistsError`). The plain file is left as it is: see
    :func:`seal_recording` for seal, verify and erase.
    """
    plain_path, sealed_path = Path(plain_path), Path(sealed_path)
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk size {chunk_size} out of range 1..{MAX_CHUNK_SIZE}")
    if sealed_path.exists():
        raise FileExistsError(f"{sealed_path} already exists")
    key_id, key = keyring.current()
    salt, prefix = secrets.token_bytes(SALT_BYTES), secrets.token_bytes(NONCE_PREFIX_BYTES)
    enc_key, mac_key = _derive(key, salt)
    aead = AESGCM(enc_key)
    tmp = sealed_path.with_name(f".{sealed_path.name}.{secrets.token_hex(4)}.partial")
    plain_sha, sealed_sha = hashlib.sha256(), hashlib.sha256()
    with open(plain_path, "rb", buffering=0) as src:
        plain_size = os.fstat(src.fileno()).st_size
        body = _header_body(key_id, chunk_size, plain_size, salt, prefix)
        raw = body + hmac.new(mac_key, body, hashlib.sha256).digest()
        header = parse_header(raw)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            with os.fdopen(fd, "wb", buffering=1 << 20) as out:
                out.write(raw)
                sealed_sha.update(raw)
                for index in range(header.chunk_count):
                    want = header.chunk_plain_length(index)
                    chunk = _read_exactly(src, want)
                    if len(chunk) != want:
                        raise SealError(f"{plain_path}: shrank while being sealed")
                    plain_sha.update(chunk)
                    nonce, aad = _nonce_aad(header, index)
                    sealed = aead.encrypt(nonce, chunk, aad)
                    out.write(sealed)
                    sealed_sha.update(sealed)
                if src.read(1):
                    raise SealError(f"{plain_path}: grew while being sealed (is the call "
                                    "still being recorded?)")
                out.flush()
                os.fsync(out.fileno())
                # so that verification reads the device, not the page cache
                os.posix_fadvise(out.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
            os.link(tmp, sealed_path)
        finally:
            tmp.unlink(missing_ok=True)
    fsync_dir(sealed_path.parent)
    return SealInfo(key_id=key_id, plain_size=plain_size, plain_sha256=plain_sha.hexdigest(),
                    sealed_size=header.sealed_size, sealed_sha256=sealed_sha.hexdigest(),
                    chunk_size=chunk_size)


class SealedReader:
    """An open sealed recording; decrypts byte ranges of the plain content on demand.

    Opening reads and authenticates the header and checks the file's size, so a wrong
    or destroyed key, a header change and truncation are reported here; a changed chunk
    is reported when a range touching it is read. Ranges are half-open, like slices:
    ``read_range(start, end)`` is ``plain[start:end]``; an HTTP ``Range: bytes=a-b`` is
    ``read_range(a, b + 1)``. Reads use ``pread`` and keep no position, so one reader can
    serve several ranges, also from threads. Raises :class:`acd.recordings.keyring.
    KeyringError` subclasses for a key that is unknown or destroyed, and
    :class:`SealedFileError` subclasses for everything about the file.
    """

    def __init__(self, path: Path | str, keyring: Keyring) -> None:
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            self.header = parse_header(os.pread(self._fd, 93 + 64, 0), str(self.path))
            try:
                key = keyring.key(self.header.key_id)
            except KeyringError as exc:
                raise type(exc)(f"{self.path}: {exc}") from exc
            enc_key, mac_key = _derive(key, self.header.salt)
            expected = hmac.new(mac_key, self.header.raw[:-MAC_BYTES], hashlib.sha256).digest()
            if not hmac.compare_digest(expected, self.header.mac):
                raise WrongKeyError(
                    f"{self.path}: header authentication failed: the keyring's key "
                    f"{self.header.key_id} is not the key this file was sealed with (a "
                    "re-created or another keyring?), or the header was altered")
            actual = os.fstat(self._fd).st_size
            if actual < self.header.sealed_size:
                raise TruncatedError(f"{self.path}: truncated: {actual} bytes, the header "
                                     f"says {self.header.sealed_size}")
            if actual > self.header.sealed_size:
                raise TamperedError(f"{self.path}: {actual - self.header.sealed_size} bytes "
                                    "of unexpected data after the last chunk")
            self._aead = AESGCM(enc_key)
        except BaseException:
            os.close(self._fd)
            raise

    @property
    def key_id(self) -> str:
        return self.header.key_id

    @property
    def plain_size(self) -> int:
        return self.header.plain_size

    @property
    def chunk_size(self) -> int:
        return self.header.chunk_size

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> SealedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_chunk(self, index: int) -> bytes:
        """The plaintext of chunk ``index``, authenticated."""
        header = self.header
        if not 0 <= index < header.chunk_count:
            raise IndexError(f"chunk {index} out of 0..{header.chunk_count - 1}")
        want = header.chunk_plain_length(index) + TAG_BYTES
        sealed = os.pread(self._fd, want, header.chunk_offset(index))
        if len(sealed) != want:
            raise TruncatedError(f"{self.path}: chunk {index} is cut short")
        nonce, aad = _nonce_aad(header, index)
        try:
            return self._aead.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise TamperedError(f"{self.path}: chunk {index} failed authentication: the "
                                "file was altered, damaged, or its chunks reordered") from None

    def _check_range(self, start: int, end: int | None) -> tuple[int, int]:
        end = self.plain_size if end is None else end
        if not 0 <= start <= end <= self.plain_size:
            raise ValueError(f"range [{start}, {end}) is not within [0, {self.plain_size}]")
        return start, end

    def iter_range(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Plaintext ``[start, end)`` as a series of pieces, at most one chunk each."""
        start, end = self._check_range(start, end)
        size = self.chunk_size
        pos = start
        while pos < end:
            index = pos // size
            chunk = self.read_chunk(index)
            base = index * size
            piece = chunk[pos - base:min(end - base, len(chunk))]
            yield piece
            pos += len(piece)

    def read_range(self, start: int, end: int | None = None) -> bytes:
        """Plaintext ``[start, end)`` (``end`` defaults to the end of the file)."""
        return b"".join(self.iter_range(start, end))

    async def aiter_range(self, start: int = 0, end: int | None = None, *,
                          batch: int = 1 << 20) -> AsyncIterator[bytes]:
        """Like :meth:`iter_range`, reading and decrypting in a worker thread.

        Yields pieces of up to about ``batch`` bytes, so the event loop is not blocked by
        disk reads, and a thread hop is paid per ``batch`` rather than per chunk.
        """
        start, end = self._check_range(start, end)
        pos = start
        while pos < end:
            stop = min(end, pos + max(batch, 1))
            data = await asyncio.to_thread(self.read_range, pos, stop)
            yield data
            pos = stop

    def verify(self) -> VerifyInfo:
        """Decrypt every chunk; the plain size and SHA-256 of the content."""
        digest = hashlib.sha256()
        for piece in self.iter_range():
            digest.update(piece)
        return VerifyInfo(self.key_id, self.plain_size, digest.hexdigest())


def open_sealed(path: Path | str, keyring: Keyring) -> SealedReader:
    return SealedReader(path, keyring)


def verify_sealed(path: Path | str, keyring: Keyring, *,
                  expected_sha256: str | None = None,
                  expected_size: int | None = None) -> VerifyInfo:
    """Decrypt the whole file; raise :class:`SealError` if it is not what was expected."""
    with SealedReader(path, keyring) as reader:
        info = reader.verify()
    if expected_size is not None and info.plain_size != expected_size:
        raise SealError(f"{path}: decrypts to {info.plain_size} bytes, "
                        f"expected {expected_size}")
    if expected_sha256 is not None and info.plain_sha256 != expected_sha256.lower():
        raise SealError(f"{path}: decrypts to SHA-256 {info.plain_sha256}, "
                        f"expected {expected_sha256}")
    return info


def seal_recording(plain_path: Path | str, keyring: Keyring, *,
                   sealed_path: Path | str | None = None,
                   chunk_size: int = DEFAULT_CHUNK_SIZE,
                   reason: str = "sealed at rest after the call",
                   operator: str = "system") -> SealResult:
    """Seal a finished recording, verify the sealed file, then erase the plain one.

    Verification decrypts the sealed file read back from the device and compares its size
    and SHA-256 with what was read from the plain file; the plain file is then erased with
    :func:`acd.recordings.erasure.overwrite_and_unlink`, which refuses if the plain file no
    longer hashes to what was sealed. If verification fails, the sealed file is removed,
    the plain file kept, and :class:`SealError` raised.
    """
    plain_path = Path(plain_path)
    sealed = Path(sealed_path) if sealed_path is not None else sealed_path_for(plain_path)
    info = seal_file(plain_path, sealed, keyring, chunk_size=chunk_size)
    try:
        verify_sealed(sealed, keyring, expected_sha256=info.plain_sha256,
                      expected_size=info.plain_size)
    except (SealedFileError, KeyringError) as exc:
        sealed.unlink(missing_ok=True)
        raise SealError(f"{sealed}: verification after sealing failed; the plain file "
                        f"{plain_path} was kept: {exc}") from exc
    tombstone = overwrite_and_unlink(plain_path, reason=reason, operator=operator,
                                     expected_sha256=info.plain_sha256)
    return SealResult(sealed, info, tombstone)
