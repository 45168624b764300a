"""Overwrite-and-unlink: the bytes are really overwritten, and the tombstone says what was."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime

import pytest

from acd.recordings.erasure import (
    OVERWRITE_UNLINK,
    ErasureError,
    Tombstone,
    overwrite_and_unlink,
)

T0 = datetime(2026, 7, 12, 1, 2, 3, tzinfo=UTC)


@pytest.mark.parametrize("size", [0, 1, 300_000, 3 * (1 << 20) + 17])
def test_the_bytes_under_the_inode_are_overwritten_with_zeros(tmp_path, size):
    content = os.urandom(size)
    path = tmp_path / "1720764000.42.wav"
    path.write_bytes(content)
    link = tmp_path / "second-name-of-the-same-inode"
    os.link(path, link)

    tombstone = overwrite_and_unlink(path, reason="保存期間満了", operator="yamada",
                                     clock=lambda: T0)
    assert not path.exists()
    assert link.read_bytes() == bytes(size)  # same length, all zeros, nothing of the original
    assert tombstone == Tombstone(
        kind="file", target=str(path), method=OVERWRITE_UNLINK,
        sha256=hashlib.sha256(content).hexdigest(), size=size, erased_at=T0,
        reason="保存期間満了", operator="yamada", detail=tombstone.detail)
    assert "verified" in tombstone.detail and "1 other hard link" in tombstone.detail
    assert sorted(p.name for p in tmp_path.iterdir()) == ["second-name-of-the-same-inode"]


def test_random_pattern(tmp_path):
    content = b"\x01" * 200_000
    path = tmp_path / "call.wav"
    path.write_bytes(content)
    link = tmp_path / "link"
    os.link(path, link)
    overwrite_and_unlink(path, pattern="random")
    after = link.read_bytes()
    assert len(after) == len(content)
    assert after != content and after != bytes(len(content))
    assert after.count(1) < 2000  # random bytes, not the original pattern


def test_a_file_with_unexpected_content_is_left_alone(tmp_path):
    path = tmp_path / "call.wav"
    path.write_bytes(b"changed after sealing")
    with pytest.raises(ErasureError, match="refusing"):
        overwrite_and_unlink(path, expected_sha256="ab" * 32)
    assert path.read_bytes() == b"changed after sealing"
    tombstone = overwrite_and_unlink(
        path, expected_sha256=hashlib.sha256(b"changed after sealing").hexdigest().upper())
    assert tombstone.size == 21


def test_symlinks_directories_and_missing_files_are_refused(tmp_path):
    target = tmp_path / "target.wav"
    target.write_bytes(b"keep me")
    (tmp_path / "link.wav").symlink_to(target)
    with pytest.raises(ErasureError, match="cannot open"):
        overwrite_and_unlink(tmp_path / "link.wav")
    assert target.read_bytes() == b"keep me"
    with pytest.raises(ErasureError):
        overwrite_and_unlink(tmp_path)
    with pytest.raises(ErasureError, match="cannot open"):
        overwrite_and_unlink(tmp_path / "missing.wav")


def test_the_tombstone_is_plain_data(tmp_path):
    path = tmp_path / "call.wav"
    path.write_bytes(b"x" * 10)
    tombstone = overwrite_and_unlink(path, reason="r", operator="o", clock=lambda: T0)
    data = json.loads(json.dumps(tombstone.to_dict()))
    assert data["erased_at"] == "2026-07-12T01:02:03+00:00"
    assert data["sha256"] == hashlib.sha256(b"x" * 10).hexdigest()
    assert Tombstone.from_dict(data) == tombstone
