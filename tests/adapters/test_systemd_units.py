"""`acd install-service` into a directory: units that systemd-analyze accepts, running
the installation's own `acd`, with the settings' state directory and environment file;
the stack's unit restarts on failure and signals only `acd up` (Asterisk is its child),
the timer backs the data up daily."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

from acd.cli.main import main

SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"


def read_unit(path: Path) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(path.read_text())
    return unit


def install(tmp_path: Path, monkeypatch, *extra: str) -> Path:
    monkeypatch.setenv("MADOGUCHI_STATE_DIR", str(tmp_path / "state"))
    units = tmp_path / "units"
    assert main(["install-service", "--unit-dir", str(units), "--env-file",
                 str(tmp_path / "etc" / "madoguchi.env"), "--backup-dir",
                 str(tmp_path / "backups"), *extra]) == 0
    return units


def test_the_units_are_valid_and_run_this_installation(tmp_path, monkeypatch, capsys):
    units = install(tmp_path, monkeypatch)
    out = capsys.readouterr().out
    assert "systemctl enable --now madoguchi madoguchi-backup.timer" in out
    names = sorted(p.name for p in units.iterdir())
    assert names == ["madoguchi-backup.service", "madoguchi-backup.timer",
                     "madoguchi.service"]

    verify = subprocess.run([SYSTEMD_ANALYZE, "verify", *(str(units / n) for n in names)],
                            capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stderr
    assert str(units) not in verify.stderr, verify.stderr  # no warning about our files

    stack = read_unit(units / "madoguchi.service")["Service"]
    command, argument = stack["ExecStart"].split()
    assert os.access(command, os.X_OK) and Path(command).name == "acd"
    assert argument == "up"
    assert stack["Restart"] == "on-failure"
    assert stack["KillMode"] == "process"
    assert stack["EnvironmentFile"] == f"-{tmp_path / 'etc' / 'madoguchi.env'}"
    assert stack["Environment"] == f"MADOGUCHI_STATE_DIR={tmp_path / 'state'}"
    assert "User" not in stack  # root: it mounts Asterisk's root and bans with nftables

    backup = read_unit(units / "madoguchi-backup.service")["Service"]
    assert backup["Type"] == "oneshot"
    assert backup["ExecStart"] == f"{command} backup --dated --keep 14 {tmp_path / 'backups'}"
    assert backup["EnvironmentFile"] == stack["EnvironmentFile"]
    timer = read_unit(units / "madoguchi-backup.timer")
    assert timer["Timer"]["OnCalendar"] == "*-*-* 02:30"
    assert timer["Install"]["WantedBy"] == "timers.target"

    env_file = tmp_path / "etc" / "madoguchi.env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert "DATABASE_URL" in env_file.read_text()


def test_a_user_and_a_time_go_into_the_units_and_an_env_file_is_kept(tmp_path, monkeypatch):
    env_file = tmp_path / "etc" / "madoguchi.env"
    env_file.parent.mkdir()
    env_file.write_text("DATABASE_URL=postgresql+asyncpg://x@127.0.0.1/x\n")
    units = install(tmp_path, monkeypatch, "--user", "nobody", "--backup-time", "04:15",
                    "--keep", "3")
    assert read_unit(units / "madoguchi.service")["Service"]["User"] == "nobody"
    assert read_unit(units / "madoguchi-backup.timer")["Timer"]["OnCalendar"] == \
        "*-*-* 04:15"
    assert "--keep 3" in read_unit(units / "madoguchi-backup.service")["Service"]["ExecStart"]
    assert env_file.read_text() == "DATABASE_URL=postgresql+asyncpg://x@127.0.0.1/x\n"


def test_an_unknown_user_is_refused_and_nothing_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MADOGUCHI_STATE_DIR", str(tmp_path / "state"))
    assert main(["install-service", "--unit-dir", str(tmp_path / "units"), "--user",
                 "no-such-user-here", "--env-file", str(tmp_path / "env")]) == 2
    assert "no user 'no-such-user-here'" in capsys.readouterr().err
    assert not (tmp_path / "units").exists() and not (tmp_path / "env").exists()
