"""Backups and restores without a running stack: what each backup holds, its manifest
checked before anything is written (a changed byte, a missing, added or escaping file
is refused, naming it), rows and files moved to the new directories, the keys apart and
private, a database in the way refused unless forced, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from acd.adapters.db.engine import make_engine
from acd.adapters.db.schema import agents, recordings
from acd.cli.main import main
from acd.recordings import Keyring, open_sealed, seal_file
from acd.services.backup import BackupError, back_up_data, back_up_keys, dated, prune, restore
from acd.settings import Settings
from acd.stack import migrate_database
from tests.conftest import FIXTURES

PLAIN = b"RIFF" + bytes(range(256)) * 40


def settings_for(root: Path, url: str = "") -> Settings:
    return Settings(state_dir=root / "state", recordings_dir=root / "recordings",
                    flows_dir=FIXTURES / "flows", database_url=url)


async def centre(root: Path, url: str = "") -> Settings:
    """A migrated centre with one agent, one sealed recording, its key and secrets."""
    settings = settings_for(root, url)
    await migrate_database(settings)
    day = settings.recordings_dir / "2026" / "11" / "20"
    day.mkdir(parents=True)
    source = day / "1790000000.1.wav"
    source.write_bytes(PLAIN)
    sealed = day / "1790000000.1.wav.mdgs"
    seal_file(source, sealed, Keyring(settings.state_dir / "keys"))
    source.unlink()
    engine = make_engine(settings.resolved_database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(agents).values(
                id="1001", name="佐藤", languages="ja", enabled=True, created_at=1.0))
            await conn.execute(insert(recordings).values(
                uniqueid="1790000000.1", call_uniqueid="1790000000.1", kind="call",
                line="0570000123", queue="main", caller="0312345678", started_at=1.0,
                ended_at=2.0, status="sealed", retention_until=9e9,
                source_path=str(source), sealed_path=str(sealed)))
    finally:
        await engine.dispose()
    (settings.state_dir / "secrets.json").write_text('{"api": "token"}')
    os.chmod(settings.state_dir / "secrets.json", 0o600)
    return settings


async def rows(settings: Settings) -> tuple[list[str], list[tuple[str, str]]]:
    engine = make_engine(settings.resolved_database_url)
    try:
        async with engine.connect() as conn:
            ids = (await conn.execute(select(agents.c.id))).scalars().all()
            paths = (await conn.execute(select(recordings.c.source_path,
                                               recordings.c.sealed_path))).all()
    finally:
        await engine.dispose()
    return list(ids), [tuple(p) for p in paths]


async def backups(settings: Settings, where: Path) -> tuple[Path, Path]:
    await back_up_data(settings, where / "data")
    await back_up_keys(settings, where / "keys")
    return where / "data", where / "keys"


async def test_a_restore_puts_rows_files_and_keys_under_the_new_directories(tmp_path):
    source = await centre(tmp_path / "old")
    data, keys = await backups(source, tmp_path / "backups")
    assert not (data / "keys").exists() and not (data / "secrets.json").exists()
    assert sorted(p.name for p in keys.iterdir()) == ["keys", "manifest.json",
                                                       "secrets.json"]
    assert all(p.stat().st_mode & 0o077 == 0 for p in keys.rglob("*"))

    target = settings_for(tmp_path / "new")
    done = await restore(target, data, keys)
    assert len(done) == 3 and "file paths moved" in done[0]

    ids, paths = await rows(target)
    assert ids == ["1001"]
    [(plain_path, sealed_path)] = paths
    new_day = target.recordings_dir / "2026" / "11" / "20"
    assert (Path(plain_path), Path(sealed_path)) == (new_day / "1790000000.1.wav",
                                                     new_day / "1790000000.1.wav.mdgs")
    with open_sealed(sealed_path, Keyring(target.state_dir / "keys")) as reader:
        assert reader.read_range(0) == PLAIN
    secrets = target.state_dir / "secrets.json"
    assert json.loads(secrets.read_text()) == {"api": "token"}
    assert secrets.stat().st_mode & 0o777 == 0o600


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damaged", ["database/madoguchi.db",
                                     "recordings/2026/11/20/1790000000.1.wav.mdgs",
                                     "keys:secrets.json"])
async def test_a_changed_byte_is_refused_and_nothing_is_written(tmp_path, damaged):
    data, keys = await backups(await centre(tmp_path / "old"), tmp_path / "backups")
    where, _, name = damaged.rpartition(":")
    path = (keys if where == "keys" else data) / name
    flip_a_byte(path)

    target = settings_for(tmp_path / "new")
    with pytest.raises(BackupError, match="damaged") as refused:
        await restore(target, data, keys)
    assert str(path) in str(refused.value)
    assert not (tmp_path / "new").exists()  # no database, recording, key or secret


async def test_a_missing_added_or_escaping_file_is_refused(tmp_path):
    data, _keys = await backups(await centre(tmp_path / "old"), tmp_path / "backups")
    target = settings_for(tmp_path / "new")
    extra = data / "recordings" / "extra.wav.mdgs"
    extra.write_bytes(b"x")
    with pytest.raises(BackupError, match="not in its manifest"):
        await restore(target, data, None)
    extra.unlink()

    recording = data / "recordings/2026/11/20/1790000000.1.wav.mdgs"
    kept = recording.read_bytes()
    recording.unlink()
    with pytest.raises(BackupError, match="missing from the backup"):
        await restore(target, data, None)
    recording.write_bytes(kept)

    manifest = json.loads((data / "manifest.json").read_text())
    manifest["files"]["../outside"] = {"size": 1, "sha256": "0" * 64}
    (data / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="outside the backup"):
        await restore(target, data, None)

    (data / "manifest.json").unlink()
    with pytest.raises(BackupError, match="not a complete Madoguchi backup"):
        await restore(target, data, None)
    assert not (tmp_path / "new").exists()


async def test_a_backup_of_a_newer_schema_is_refused(tmp_path):
    data, _keys = await backups(await centre(tmp_path / "old"), tmp_path / "backups")
    manifest = json.loads((data / "manifest.json").read_text())
    manifest["details"]["database"]["schema_revision"] = "9999"
    (data / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="revision 9999"):
        await restore(settings_for(tmp_path / "new"), data, None)


async def test_a_database_in_the_way_is_refused_unless_forced(tmp_path):
    source = await centre(tmp_path / "old")
    data, keys = await backups(source, tmp_path / "backups")
    target = settings_for(tmp_path / "new")
    await restore(target, data, keys)
    with pytest.raises(BackupError, match="already holds tables"):
        await restore(target, data, None)
    (target.state_dir / "secrets.json").write_text('{"api": "other"}')
    with pytest.raises(BackupError, match="differ from the backup"):
        await restore(target, None, keys)
    await restore(target, data, keys, force=True)
    assert json.loads((target.state_dir / "secrets.json").read_text()) == {"api": "token"}


async def test_a_backup_goes_only_into_a_new_directory(tmp_path):
    source = await centre(tmp_path / "old")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "something").write_text("x")
    with pytest.raises(BackupError, match="not an empty directory"):
        await back_up_data(source, taken)
    assert sorted(p.name for p in taken.iterdir()) == ["something"]


async def test_dated_backups_keep_only_the_newest(tmp_path):
    source = await centre(tmp_path / "old")
    parent = tmp_path / "daily"
    from datetime import datetime
    for day in (1, 2, 3):
        await back_up_data(source, dated(parent, datetime(2026, 11, day, 2, 30)))
    (parent / "notes").mkdir()  # not a dated backup: left alone
    removed = prune(parent, "data", keep=2)
    assert [p.name for p in removed] == ["20261101-023000"]
    assert sorted(p.name for p in parent.iterdir()) == ["20261102-023000",
                                                        "20261103-023000", "notes"]


def test_the_commands_say_what_is_wrong_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MADOGUCHI_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("MADOGUCHI_RECORDINGS_DIR", str(tmp_path / "recordings"))
    assert main(["restore", str(tmp_path / "nowhere")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    assert main(["backup", str(tmp_path / "b")]) == 2  # no database yet
    assert "holds no tables" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
    assert not (tmp_path / "state" / "madoguchi.db").exists()


async def test_postgresql_round_trip(tmp_path, postgres_admin_url):
    from tests.support.postgres import fresh_database

    old_url, drop_old, _ = await fresh_database(postgres_admin_url)
    new_url, drop_new, _ = await fresh_database(postgres_admin_url)
    try:
        source = await centre(tmp_path / "old", old_url)
        data, keys = await backups(source, tmp_path / "backups")
        assert (data / "database" / "madoguchi.pgdump").stat().st_size > 0
        target = settings_for(tmp_path / "new", new_url)
        await restore(target, data, keys)
        ids, [(_plain, sealed)] = await rows(target)
        assert ids == ["1001"]
        assert Path(sealed).is_relative_to(target.recordings_dir)
        with open_sealed(sealed, Keyring(target.state_dir / "keys")) as reader:
            assert reader.read_range(0) == PLAIN
        with pytest.raises(BackupError, match="already holds tables"):
            await restore(target, data, None)
        sqlite_target = settings_for(tmp_path / "sqlite")
        with pytest.raises(BackupError, match="restore into a postgresql database"):
            await restore(sqlite_target, data, None)
    finally:
        await asyncio.gather(drop_old(), drop_new())
