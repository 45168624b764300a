"""`acd recordings search|purge|certificate|keys` on a real database and keyring."""

from __future__ import annotations

from pathlib import Path

from acd.recordings import parse_csv, verify_csv
from tests.support.recordings import run


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
