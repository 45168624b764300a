"""`acd recordings search|purge|certificate|keys` on a real database and keyring."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import pytest
import structlog

from acd.adapters.db.engine import make_engine
from acd.adapters.db.migrate import upgrade
from acd.cli.recordings import add_recording_commands
from acd.recordings import Keyring, parse_csv, verify_csv
from acd.recordings.store import RecordingStore
from tests.recordings.test_store import call, write_wav


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="acd")
    add_recording_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def site(state_dir: Path, database_url: str, monkeypatch):
    monkeypatch.setenv("MADOGUCHI_STATE_DIR", str(state_dir))
    monkeypatch.setenv("MADOGUCHI_RECORDINGS_DIR", str(state_dir / "recordings"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MADOGUCHI_LOG_FORMAT", "json")

    async def seed():
        await upgrade(database_url)
        engine = make_engine(database_url)
        store = RecordingStore(engine, Keyring(state_dir / "keys"), settle_seconds=0.01)
        recent = time.time() - 3600  # within its retention period
        for uid, caller, at in (("1700000000.1", "0312345678", 1_700_000_000.0),
                                ("1775000000.2", "09099998888", recent)):
            path = state_dir / "recordings" / f"{uid}.wav"
            write_wav(path, 1.0)
            await store.seal_after_call(call(uid, caller, path, at=at))
        await engine.dispose()

    structlog.reset_defaults()  # the CLI configures logging to a captured stderr
    asyncio.run(seed())
    yield state_dir
    structlog.reset_defaults()


def test_search_purge_certificate_and_keys(site: Path, capsys):
    assert run(["recordings", "search", "--caller", "9999"]) == 0
    out = capsys.readouterr()
    assert out.out.count("\n") == 1 and "1775000000.2" in out.out
    assert "1-1 of 1" in out.err

    assert run(["recordings", "purge", "--all", "--operator", "admin"]) == 1  # no --before
    assert run(["recordings", "purge", "--all", "--before", "2024-01-01", "--operator",
                "admin"]) == 1  # no --reason
    capsys.readouterr()
    assert run(["recordings", "purge", "--all", "--before", "2024-01-01", "--operator",
                "admin", "--reason", "テスト", "--dry-run"]) == 0
    assert "1 recording(s) would be erased" in capsys.readouterr().out
    assert run(["recordings", "purge", "--all", "--before", "2024-01-01", "--operator",
                "admin", "--reason", "テスト"]) == 0
    assert "1 recording(s) erased, 0 failed" in capsys.readouterr().out
    assert run(["recordings", "purge", "--expired", "--operator", "admin"]) == 0
    assert "0 recording(s) erased" in capsys.readouterr().out

    out_file = site / "cert.csv"
    assert run(["recordings", "certificate", "--from", "2020-01-01", "--to", "2099-12-31",
                "--format", "csv", "--lang", "en", "--out", str(out_file)]) == 0
    data = out_file.read_bytes()
    assert verify_csv(data)
    assert [i["recording_id"] for i in parse_csv(data).items] == ["1700000000.1"]

    assert run(["recordings", "keys", "list"]) == 0
    listing = capsys.readouterr().out
    [line] = [x for x in listing.splitlines() if "\tcurrent\t" in x]
    first_key = line.split("\t")[0]
    assert "erased=1" in line and "sealed=1" in line
    assert run(["recordings", "keys", "rotate"]) == 0
    capsys.readouterr()
    assert run(["recordings", "keys", "destroy", first_key, "--operator", "admin",
                "--reason", "漏えい対応"]) == 1  # a recording is still within retention
    assert "KEY" not in capsys.readouterr().out
    assert run(["recordings", "keys", "destroy", first_key, "--operator", "admin",
                "--reason", "漏えい対応", "--force"]) == 0
    assert "1 recording(s) erased" in capsys.readouterr().out
    assert run(["recordings", "search", "--status", "erased", "--json"]) == 0
    assert capsys.readouterr().out.count('"crypto-shred,overwrite+unlink"') == 1
