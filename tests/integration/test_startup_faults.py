"""`acd up` refuses to start on bad input with one clear line, leaving nothing running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_PORTS, stack_env


def run_up(env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    """`acd up` that is expected to refuse; one that starts after all is stopped (with all
    it started) and fails the test rather than holding the test ports."""
    process = subprocess.Popen([sys.executable, "-m", "acd.cli.main", "up"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
        pytest.fail(f"acd up did not refuse within {timeout} s; it printed:\n{stderr}")
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def asterisk_processes(state_dir: Path) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "asterisk" in line and str(state_dir) in line]


def test_port_in_use_is_named_and_nothing_starts(state_dir: Path):
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # a stack stopped just before may leave the port in TIME_WAIT: listening still works
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", TEST_PORTS["ami_port"]))
    blocker.listen()
    try:
        done = run_up(stack_env(state_dir, f"sqlite+aiosqlite:///{state_dir}/db.sqlite"))
    finally:
        blocker.close()
    assert done.returncode == 2
    assert f"AMI port 127.0.0.1:{TEST_PORTS['ami_port']}/tcp is already in use" in done.stderr
    assert asterisk_processes(state_dir) == []


def test_unreachable_database_is_named_and_nothing_starts(state_dir: Path):
    url = "postgresql+asyncpg://postgres:hunter2@127.0.0.1:1/nowhere"
    done = run_up(stack_env(state_dir, url))
    assert done.returncode == 2
    assert "database postgresql+asyncpg://postgres:***@127.0.0.1:1/nowhere is unreachable" \
        in done.stderr
    assert "hunter2" not in done.stderr
    assert asterisk_processes(state_dir) == []


def test_malformed_setting_is_named(state_dir: Path):
    env = stack_env(state_dir, "sqlite+aiosqlite:///x.db", MADOGUCHI_SIP_PORT="fifty")
    done = run_up(env)
    assert done.returncode != 0
    assert "MADOGUCHI_SIP_PORT" in done.stderr


def test_ami_beyond_loopback_is_refused(state_dir: Path):
    env = stack_env(state_dir, "sqlite+aiosqlite:///x.db", MADOGUCHI_AMI_ADDRESS="0.0.0.0")
    done = run_up(env)
    assert done.returncode != 0
    assert "MADOGUCHI_AMI_ADDRESS" in done.stderr and "loopback" in done.stderr


def test_sip_beyond_loopback_without_safeguards_names_what_is_missing(state_dir: Path):
    env = stack_env(state_dir, f"sqlite+aiosqlite:///{state_dir}/db.sqlite",
                    MADOGUCHI_SIP_ADDRESS="0.0.0.0", MADOGUCHI_AGENT_TLS="false")
    done = run_up(env)
    assert done.returncode == 2
    assert "refusing to listen beyond loopback" in done.stderr
    assert "agent_tls is off" in done.stderr and "agent_networks" in done.stderr
    assert "media_address" in done.stderr
    assert asterisk_processes(state_dir) == []


@pytest.mark.parametrize("broken, expected", [
    ("lines:\n  - did: '0570000123'\n    name: x\n    queue: nowhere\n    recording: off\n",
     "site.yaml:4:12: unknown queue 'nowhere'"),
    ("queues:\n  - name: main\n    colour: blue\n", "site.yaml:3:5: queues.0.colour"),
    ("queues: [\n", "site.yaml:2:1: invalid YAML"),
])
def test_bad_flows_are_reported_with_file_line_column(state_dir: Path, broken, expected):
    flows = state_dir / "flows"
    flows.mkdir()
    (flows / "site.yaml").write_text(broken)
    env = stack_env(state_dir, f"sqlite+aiosqlite:///{state_dir}/db.sqlite",
                    MADOGUCHI_FLOWS_DIR=str(flows))
    done = run_up(env)
    assert done.returncode == 2
    assert expected in done.stderr
    assert asterisk_processes(state_dir) == []
