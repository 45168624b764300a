"""The keyring, in both forms: first use, rotation, destruction, permissions, crash recovery."""

from __future__ import annotations

import base64
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from acd.recordings.erasure import CRYPTO_SHRED
from acd.recordings.keyring import (
    InsecureKeyringError,
    KeyDestroyedError,
    Keyring,
    KeyringError,
    UnknownKeyError,
    crypto_shred,
    key_fingerprint,
)
from acd.recordings.sealed import open_sealed, read_header, seal_file

FORMS = ["dir", "json"]


def keyring_path(tmp_path: Path, form: str) -> Path:
    return tmp_path / "state" / ("keys" if form == "dir" else "recording-keys.json")


@pytest.fixture(params=FORMS)
def path(request, tmp_path) -> Path:
    return keyring_path(tmp_path, request.param)


def files_of(keyring: Keyring) -> list[Path]:
    if keyring.form == "dir":
        return sorted(p for p in keyring.path.iterdir() if p.is_file())
    return sorted(p for p in keyring.path.parent.iterdir() if p.is_file())


def contains_key(keyring: Keyring, material: bytes) -> bool:
    needles = (material, base64.b64encode(material))
    return any(n in p.read_bytes() for p in files_of(keyring) for n in needles)


def test_the_first_key_is_generated_at_first_use(path):
    keyring = Keyring(path)
    assert not path.exists()  # nothing happens until a key is needed
    assert keyring.keys() == []
    key_id, key = keyring.current()
    assert len(key) == 32
    assert key_id.startswith(datetime.now(UTC).strftime("%Y%m%d-"))
    assert Keyring(path).current() == (key_id, key)  # another process sees the same key
    assert keyring.key(key_id) == key
    [info] = keyring.keys()
    assert (info.key_id, info.state, info.fingerprint) == (key_id, "current",
                                                          key_fingerprint(key))
    for file in files_of(keyring):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    if keyring.form == "dir":
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
        assert (path / "CURRENT").read_text() == f"{key_id}\n"
        assert (path / f"{key_id}.key").exists()


def test_rotation_keeps_old_files_readable(path, tmp_path):
    keyring = Keyring(path)
    plain = tmp_path / "a.wav"
    plain.write_bytes(b"recording one" * 1000)
    old_id = keyring.current_key_id
    seal_file(plain, tmp_path / "a.mdgs", keyring)

    new_id = keyring.rotate()
    assert new_id != old_id and keyring.current_key_id == new_id
    plain.write_bytes(b"recording two" * 1000)
    info = seal_file(plain, tmp_path / "b.mdgs", keyring)
    assert info.key_id == new_id == read_header(tmp_path / "b.mdgs").key_id
    assert read_header(tmp_path / "a.mdgs").key_id == old_id

    fresh = Keyring(path)
    with open_sealed(tmp_path / "a.mdgs", fresh) as reader:
        assert reader.read_range(0) == b"recording one" * 1000
    with open_sealed(tmp_path / "b.mdgs", fresh) as reader:
        assert reader.read_range(0) == b"recording two" * 1000
    states = [(k.key_id, k.state) for k in fresh.keys()]  # noqa: SIM118 (a Keyring)
    assert states == [(old_id, "retired"), (new_id, "current")]


def test_crypto_shredding_a_retired_key(path, tmp_path):
    keyring = Keyring(path)
    plain = tmp_path / "a.wav"
    plain.write_bytes(b"old call" * 500)
    old_id, old_key = keyring.current()
    seal_file(plain, tmp_path / "old.mdgs", keyring)
    with pytest.raises(KeyringError, match="current key; rotate first"):
        crypto_shred(keyring, old_id)

    new_id = keyring.rotate()
    seal_file(plain, tmp_path / "new.mdgs", keyring)
    tombstone = crypto_shred(keyring, old_id, reason="保存期間満了", operator="admin")
    assert tombstone.kind == "key" and tombstone.method == CRYPTO_SHRED
    assert tombstone.target == f"key:{old_id}"
    assert tombstone.sha256 == key_fingerprint(old_key)
    assert (tombstone.reason, tombstone.operator, tombstone.size) == ("保存期間満了", "admin", 32)

    assert not contains_key(keyring, old_key)  # the material is gone from every file
    reopened = Keyring(path)
    with pytest.raises(KeyDestroyedError, match=f"{old_id} was destroyed"):
        open_sealed(tmp_path / "old.mdgs", reopened)
    with pytest.raises(KeyDestroyedError):
        reopened.key(old_id)
    with open_sealed(tmp_path / "new.mdgs", reopened) as reader:  # other keys unaffected
        assert reader.read_range(0) == b"old call" * 500
    states = {k.key_id: (k.state, k.fingerprint) for k in reopened.keys()}  # noqa: SIM118
    assert states == {old_id: ("destroyed", key_fingerprint(old_key)),
                      new_id: ("current", key_fingerprint(reopened.key(new_id)))}
    with pytest.raises(KeyDestroyedError, match="already destroyed"):
        crypto_shred(keyring, old_id)


def test_destroying_overwrites_the_old_bytes_in_place(path):
    """A hard link to the file that held the key shows the overwrite, not the key."""
    keyring = Keyring(path)
    old_id, old_key = keyring.current()
    keyring.rotate()
    held = path / f"{old_id}.key" if keyring.form == "dir" else path
    link = held.with_name("link-to-old-inode")
    os.link(held, link)
    assert base64.b64encode(old_key) in link.read_bytes()
    keyring.destroy(old_id)
    assert base64.b64encode(old_key) not in link.read_bytes()
    assert old_key not in link.read_bytes()


def test_unknown_and_invalid_key_ids(path):
    keyring = Keyring(path)
    keyring.current()
    with pytest.raises(UnknownKeyError):
        keyring.key("20200101-deadbeef")
    with pytest.raises(UnknownKeyError):
        keyring.destroy("20200101-deadbeef")
    for bad in ("../etc/passwd", "", "a/b", ".hidden", "x" * 65):
        with pytest.raises(KeyringError, match="invalid key id"):
            keyring.key(bad)


def test_a_key_file_readable_by_others_is_refused(path):
    keyring = Keyring(path)
    key_id = keyring.current_key_id
    held = path / f"{key_id}.key" if keyring.form == "dir" else path
    held.chmod(0o644)
    with pytest.raises(InsecureKeyringError, match="chmod 600"):
        keyring.key(key_id)


def test_json_keyring_recovers_from_a_crash_before_the_rename(tmp_path):
    path = keyring_path(tmp_path, "json")
    keyring = Keyring(path)
    key_id, key = keyring.current()
    # the state after 'write PATH.new, overwrite PATH' and before 'rename PATH.new'
    content = path.read_bytes()
    fd = os.open(path.with_name(path.name + ".new"), os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, content)
    os.close(fd)
    path.write_bytes(bytes(len(content)))
    assert Keyring(path).current() == (key_id, key)
    second = Keyring(path).rotate()  # and it can change again from there
    assert Keyring(path).current_key_id == second
    assert Keyring(path).key(key_id) == key


def test_dir_keyring_finishes_an_interrupted_destruction(tmp_path):
    path = keyring_path(tmp_path, "dir")
    keyring = Keyring(path)
    old_id, old_key = keyring.current()
    keyring.rotate()
    saved = (path / f"{old_id}.key").read_bytes()
    keyring.destroy(old_id)
    # a crash after the destruction record was written, before the key file was shredded
    fd = os.open(path / f"{old_id}.key", os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, saved)
    os.close(fd)
    with pytest.raises(KeyDestroyedError):
        keyring.key(old_id)
    with pytest.raises(KeyDestroyedError):
        keyring.destroy(old_id)
    assert not (path / f"{old_id}.key").exists()
    assert not contains_key(keyring, old_key)
