"""Sealed recordings: round trip on a real WAV, every kind of range, and every tampering."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import random
import stat
import struct
import wave
from pathlib import Path

import pytest

from acd.recordings.keyring import Keyring, UnknownKeyError
from acd.recordings.sealed import (
    DEFAULT_CHUNK_SIZE,
    MAGIC,
    TAG_BYTES,
    NotSealedError,
    SealedReader,
    SealError,
    TamperedError,
    TruncatedError,
    WrongKeyError,
    open_sealed,
    read_header,
    seal_file,
    seal_recording,
    sealed_path_for,
    verify_sealed,
)

C = DEFAULT_CHUNK_SIZE
SIZE = 480_044  # 30 s at 16,000 B/s plus the 44-byte WAV header
LAST = (SIZE - 1) // C * C  # where the short last chunk starts
RANGES = {
    "whole file": (0, SIZE),
    "empty at the start": (0, 0),
    "empty at the end": (SIZE, SIZE),
    "first byte": (0, 1),
    "the WAV header": (0, 44),
    "exactly chunk 0": (0, C),
    "exactly chunk 1": (C, 2 * C),
    "last byte of a chunk": (C - 1, C),
    "first byte of a chunk": (C, C + 1),
    "across one boundary": (C - 1, C + 1),
    "inside chunks, across several": (C + 5, 3 * C - 7),
    "inside one chunk": (100, 200),
    "boundary to the middle": (3 * C, 3 * C + C // 2),
    "the short last chunk": (LAST, SIZE),
    "into the last chunk": (LAST - 1, SIZE),
    "last byte": (SIZE - 1, SIZE),
    "all but the ends": (1, SIZE - 1),
    "a tail, as after a seek": (SIZE - 1000, SIZE),
}


def make_wav(path: Path, seconds: float = 30.0, rate: int = 8000) -> bytes:
    """An 8 kHz 16-bit mono WAV of a 440 Hz tone, as MixMonitor writes them."""
    frames = bytearray()
    for n in range(int(seconds * rate)):
        frames += struct.pack("<h", int(12000 * math.sin(2 * math.pi * 440 * n / rate)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return path.read_bytes()


@pytest.fixture(scope="module")
def wav_bytes(tmp_path_factory) -> bytes:
    return make_wav(tmp_path_factory.mktemp("wav") / "tone.wav")


@pytest.fixture
def keyring(tmp_path) -> Keyring:
    return Keyring(tmp_path / "keys")


@pytest.fixture
def sealed(tmp_path, wav_bytes, keyring) -> Path:
    plain = tmp_path / "1720764000.42.wav"
    plain.write_bytes(wav_bytes)
    out = sealed_path_for(plain)
    seal_file(plain, out, keyring)
    return out


def test_round_trip_of_a_real_wav(tmp_path, wav_bytes, keyring):
    assert len(wav_bytes) == SIZE
    plain = tmp_path / "call.wav"
    plain.write_bytes(wav_bytes)
    out = tmp_path / "call.wav.mdgs"
    info = seal_file(plain, out, keyring)

    chunks = math.ceil(len(wav_bytes) / C)
    header = read_header(out)
    assert info.key_id == keyring.current_key_id == header.key_id
    assert info.plain_size == len(wav_bytes) == header.plain_size
    assert info.plain_sha256 == hashlib.sha256(wav_bytes).hexdigest()
    assert info.sealed_size == out.stat().st_size == header.length + len(wav_bytes) + 16 * chunks
    assert info.sealed_sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert header.chunk_size == C and header.chunk_count == chunks
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_bytes().startswith(MAGIC)
    assert b"RIFF" not in out.read_bytes() and b"WAVE" not in out.read_bytes()
    assert plain.read_bytes() == wav_bytes  # seal_file leaves the plain file alone
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]

    with open_sealed(out, keyring) as reader:
        assert reader.plain_size == len(wav_bytes)
        assert reader.read_range(0, reader.plain_size) == wav_bytes
        assert reader.read_range(0) == wav_bytes
        check = reader.verify()
        decrypted = reader.read_range(0)
    assert check.plain_sha256 == info.plain_sha256
    with wave.open(io.BytesIO(decrypted)) as back:
        assert (back.getframerate(), back.getnchannels(), back.getsampwidth(),
                back.getnframes()) == (8000, 1, 2, 240_000)
    verified = verify_sealed(out, keyring, expected_sha256=info.plain_sha256)
    assert verified.plain_size == len(wav_bytes)


@pytest.mark.parametrize("start, end", RANGES.values(), ids=RANGES.keys())
def test_every_kind_of_range_equals_the_slice(sealed, wav_bytes, keyring, start, end):
    with SealedReader(sealed, keyring) as reader:
        assert reader.read_range(start, end) == wav_bytes[start:end]
        pieces = list(reader.iter_range(start, end))
    assert b"".join(pieces) == wav_bytes[start:end]
    assert all(0 < len(p) <= C for p in pieces)


def test_random_ranges_with_small_chunks(tmp_path, wav_bytes, keyring):
    plain = tmp_path / "call.wav"
    plain.write_bytes(wav_bytes[:50_000])
    out = tmp_path / "small.mdgs"
    seal_file(plain, out, keyring, chunk_size=4096)
    data = wav_bytes[:50_000]
    rng = random.Random(7)
    with open_sealed(out, keyring) as reader:
        assert reader.header.chunk_count == 13
        for _ in range(300):
            start = rng.randrange(0, len(data) + 1)
            end = rng.randrange(start, len(data) + 1)
            assert reader.read_range(start, end) == data[start:end]


async def test_async_iteration(sealed, wav_bytes, keyring):
    with open_sealed(sealed, keyring) as reader:
        pieces = [p async for p in reader.aiter_range(1234, len(wav_bytes) - 3, batch=100_000)]
    assert b"".join(pieces) == wav_bytes[1234:-3]
    assert len(pieces) == math.ceil((len(wav_bytes) - 3 - 1234) / 100_000)


def test_ranges_out_of_bounds_are_refused(sealed, wav_bytes, keyring):
    with open_sealed(sealed, keyring) as reader:
        for start, end in [(-1, 5), (5, 4), (0, len(wav_bytes) + 1)]:
            with pytest.raises(ValueError):
                reader.read_range(start, end)


def test_empty_file(tmp_path, keyring):
    plain = tmp_path / "empty.wav"
    plain.write_bytes(b"")
    info = seal_file(plain, tmp_path / "empty.mdgs", keyring)
    with open_sealed(tmp_path / "empty.mdgs", keyring) as reader:
        assert reader.plain_size == 0 and reader.header.chunk_count == 1
        assert reader.read_range(0, 0) == b""
        assert reader.verify().plain_sha256 == hashlib.sha256(b"").hexdigest()
    assert info.sealed_size == reader.header.length + TAG_BYTES


def _patch(path: Path, offset: int, new: bytes) -> None:
    data = bytearray(path.read_bytes())
    data[offset:offset + len(new)] = new
    path.write_bytes(bytes(data))


def test_one_changed_byte_in_a_chunk_is_detected(sealed, wav_bytes, keyring):
    header = read_header(sealed)
    offset = header.chunk_offset(2) + 1000
    original = sealed.read_bytes()[offset]
    _patch(sealed, offset, bytes([original ^ 0x01]))
    with open_sealed(sealed, keyring) as reader:
        assert reader.read_range(0, 2 * C) == wav_bytes[:2 * C]  # other chunks still read
        with pytest.raises(TamperedError, match="chunk 2 failed authentication"):
            reader.read_range(2 * C + 10, 2 * C + 20)
        with pytest.raises(TamperedError):
            reader.verify()


def test_a_changed_tag_byte_is_detected(sealed, keyring):
    header = read_header(sealed)
    tag_offset = header.chunk_offset(1) + C  # first byte of chunk 1's tag
    _patch(sealed, tag_offset, bytes([sealed.read_bytes()[tag_offset] ^ 0x80]))
    with open_sealed(sealed, keyring) as reader, pytest.raises(TamperedError, match="chunk 1"):
        reader.read_range(C, C + 1)


def test_swapped_chunks_are_detected(sealed, keyring):
    header = read_header(sealed)
    data = bytearray(sealed.read_bytes())
    span = C + TAG_BYTES
    a, b = header.chunk_offset(1), header.chunk_offset(2)
    data[a:a + span], data[b:b + span] = data[b:b + span], data[a:a + span]
    sealed.write_bytes(bytes(data))
    with open_sealed(sealed, keyring) as reader:
        with pytest.raises(TamperedError, match="chunk 1"):
            reader.read_range(C, C + 1)
        with pytest.raises(TamperedError, match="chunk 2"):
            reader.read_range(2 * C, 2 * C + 1)


def test_a_chunk_from_another_file_is_detected(tmp_path, sealed, wav_bytes, keyring):
    plain = tmp_path / "other.wav"
    plain.write_bytes(wav_bytes)  # same content, same key: only the per-file salt differs
    other = tmp_path / "other.mdgs"
    seal_file(plain, other, keyring)
    header, other_header = read_header(sealed), read_header(other)
    span = C + TAG_BYTES
    chunk = other.read_bytes()[other_header.chunk_offset(1):other_header.chunk_offset(1) + span]
    _patch(sealed, header.chunk_offset(1), chunk)
    with open_sealed(sealed, keyring) as reader, pytest.raises(TamperedError, match="chunk 1"):
        reader.read_range(C, C + 1)


def test_truncation_is_detected(sealed, keyring):
    header = read_header(sealed)
    data = sealed.read_bytes()
    for cut in (header.chunk_offset(header.chunk_count - 1),  # the whole last chunk
                len(data) - 1,                                 # one byte
                header.length,                                 # every chunk
                header.length - 5):                            # into the header
        sealed.write_bytes(data[:cut])
        with pytest.raises(TruncatedError):
            open_sealed(sealed, keyring)


def test_truncation_with_a_forged_plain_size_is_detected(sealed, keyring):
    """Drop the last chunk and rewrite the plain size to match: the header MAC fails."""
    header = read_header(sealed)
    kept = (header.chunk_count - 1) * C
    data = bytearray(sealed.read_bytes()[:header.chunk_offset(header.chunk_count - 1)])
    size_at = 10 + len(header.key_id) + 4
    data[size_at:size_at + 8] = kept.to_bytes(8, "big")
    sealed.write_bytes(bytes(data))
    with pytest.raises(WrongKeyError, match="header authentication failed"):
        open_sealed(sealed, keyring)


def test_appended_data_is_detected(sealed, keyring):
    with open(sealed, "ab") as fh:
        fh.write(b"\0" * 16)
    with pytest.raises(TamperedError, match="after the last chunk"):
        open_sealed(sealed, keyring)


def test_a_changed_header_byte_is_detected(sealed, keyring):
    header = read_header(sealed)
    salt_at = 10 + len(header.key_id) + 12
    _patch(sealed, salt_at, bytes([header.salt[0] ^ 0xFF]))
    with pytest.raises(WrongKeyError):
        open_sealed(sealed, keyring)


def test_a_keyring_without_the_key_id(sealed, tmp_path):
    with pytest.raises(UnknownKeyError, match="not in the keyring"):
        open_sealed(sealed, Keyring(tmp_path / "another-keyring"))


def test_a_different_key_under_the_same_key_id(sealed, tmp_path, keyring):
    """A keyring re-created with the same id but other key material: a clear error."""
    key_id = read_header(sealed).key_id
    impostor_dir = tmp_path / "impostor"
    Keyring(impostor_dir).current()  # creates the directory and a key
    key_file = keyring.path / f"{key_id}.key"
    data = json.loads(key_file.read_text())
    data["key"] = base64.b64encode(os.urandom(32)).decode()
    fd = os.open(impostor_dir / f"{key_id}.key", os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    with pytest.raises(WrongKeyError, match="not the key this file was sealed with"):
        open_sealed(sealed, Keyring(impostor_dir))


def test_a_plain_wav_is_not_a_sealed_file(tmp_path, wav_bytes, keyring):
    plain = tmp_path / "plain.wav"
    plain.write_bytes(wav_bytes)
    with pytest.raises(NotSealedError):
        open_sealed(plain, keyring)


def test_seal_file_never_replaces_an_existing_file(tmp_path, sealed, keyring):
    plain = tmp_path / "again.wav"
    plain.write_bytes(b"x" * 10)
    before = sealed.read_bytes()
    with pytest.raises(FileExistsError):
        seal_file(plain, sealed, keyring)
    assert sealed.read_bytes() == before


def test_verify_with_a_wrong_expectation(sealed, keyring):
    with pytest.raises(SealError, match="expected"):
        verify_sealed(sealed, keyring, expected_sha256="0" * 64)


def test_seal_recording_seals_verifies_and_erases_the_plain_file(tmp_path, wav_bytes, keyring):
    plain = tmp_path / "1720764000.42.wav"
    plain.write_bytes(wav_bytes)
    result = seal_recording(plain, keyring, operator="system")
    assert not plain.exists()
    assert result.sealed_path == tmp_path / "1720764000.42.wav.mdgs"
    assert result.plain_tombstone.sha256 == hashlib.sha256(wav_bytes).hexdigest()
    assert result.plain_tombstone.size == len(wav_bytes)
    assert result.seal.plain_sha256 == result.plain_tombstone.sha256
    with open_sealed(result.sealed_path, keyring) as reader:
        assert reader.read_range(0) == wav_bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1720764000.42.wav.mdgs", "keys"]
