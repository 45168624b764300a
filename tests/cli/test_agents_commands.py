"""`acd agents add|edit|remove|list` on the roster in the database (no stack running): a
queue the flows lack or a bad penalty is refused at once, naming the queues there are."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import FIXTURES


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _acd(state_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "MADOGUCHI_STATE_DIR": str(state_dir),
           "MADOGUCHI_FLOWS_DIR": str(FIXTURES / "flows"),
           "MADOGUCHI_GATEWAY_PORT": str(_free_port()),  # nothing listens: no stack
           "DATABASE_URL": f"sqlite+aiosqlite:///{state_dir}/db.sqlite"}
    return subprocess.run([sys.executable, "-m", "acd.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_roster_commands_check_queues_and_edit_and_remove_agents(state_dir: Path):
    unknown = _acd(state_dir, "agents", "add", "7001", "--name", "山田", "--queue", "nosuch")
    assert unknown.returncode == 1
    assert "no queue 'nosuch'" in unknown.stderr and "main" in unknown.stderr
    penalty = _acd(state_dir, "agents", "add", "7001", "--name", "山田", "--queue", "main:x")
    assert penalty.returncode == 1 and "penalty" in penalty.stderr

    added = _acd(state_dir, "agents", "add", "7001", "--name", "山田", "--queue", "main:2")
    assert added.returncode == 0, added.stderr
    edited = _acd(state_dir, "agents", "edit", "7001", "--queue", "wrapup",
                  "--language", "ja", "--language", "en")
    assert edited.returncode == 0, edited.stderr
    listed = _acd(state_dir, "agents", "list").stdout.splitlines()
    assert listed == ["7001\t山田\twrapup:0\tja,en\tenabled\t(stack not running)"]
    assert _acd(state_dir, "agents", "edit", "7001", "--queue", "nosuch").returncode == 1

    assert _acd(state_dir, "agents", "remove", "7001").returncode == 0
    assert _acd(state_dir, "agents", "list").stdout == ""
    again = _acd(state_dir, "agents", "remove", "7001")
    assert again.returncode == 1 and "no agent 7001" in again.stderr


def test_a_report_on_a_database_without_tables_says_to_migrate(state_dir: Path):
    done = _acd(state_dir, "report", "daily", "--date", "2026-11-20")
    assert done.returncode == 2
    assert "no tables yet: run 'acd migrate'" in done.stderr
