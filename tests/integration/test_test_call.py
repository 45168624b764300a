"""`acd test-call`, the README's test call: it reaches an operator on a queue line and
goes through a menu with keys, on the real stack."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import TEST_PORTS, stack_env
from tests.support.sipp import SippAgent, free_udp_port, register_agents
from tests.support.stack import RunningStack

pytestmark = pytest.mark.integration

QUEUE_LINE, MENU_LINE = "0570000910", "0570000920"
FLOWS = textwrap.dedent(f"""\
    lines:
      - {{did: "{QUEUE_LINE}", name: 試験電話, queue: desk, recording: off}}
      - {{did: "{MENU_LINE}", name: 試験メニュー, flow: menu, recording: off}}
    queues:
      - {{name: desk, max_wait: 60, wrapup_seconds: 0}}
    flows:
      menu:
        start: choose
        nodes:
          choose:
            type: menu
            prompt: choose
            choices: {{"1": bye, "2": desk}}
            timeout: 8
            retries: 0
            default: bye
          desk: {{type: queue, queue: desk}}
          bye: {{type: hangup, prompts: [bye]}}
    prompts:
      choose: {{text: {{ja: 終了は1、窓口は2。}}}}
      bye: {{text: {{ja: さようなら。}}}}
    """)


def _test_call(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "acd.cli.main", "test-call", *args],
                          env=env, capture_output=True, text=True, timeout=120)


async def test_the_test_call_reaches_an_operator_and_goes_through_a_menu(state_dir: Path):
    flows = state_dir / "flows"
    flows.mkdir()
    (flows / "site.yaml").write_text(FLOWS, encoding="utf-8")
    url = f"sqlite+aiosqlite:///{state_dir}/db.sqlite"
    env = stack_env(state_dir, url, MADOGUCHI_FLOWS_DIR=str(flows))
    sipp = state_dir / "sipp"
    async with RunningStack(env, state_dir, TEST_PORTS["gateway_port"]) as stack:
        passwords = await stack.add_agents(["9101"], queues=("desk",))
        contact = {"9101": free_udp_port()}
        await register_agents(list(passwords.items()), TEST_PORTS["sip_port"], contact, sipp)
        async with SippAgent("9101", contact["9101"], sipp, talk_seconds=3):
            plain = await asyncio.to_thread(_test_call, env, QUEUE_LINE, "--pause", "1")
            menu = await asyncio.to_thread(_test_call, env, MENU_LINE, "--keys", "2",
                                           "--pause", "3")
            gone = await asyncio.to_thread(_test_call, env, MENU_LINE, "--keys", "1",
                                           "--pause", "3")
    assert plain.returncode == 0, plain.stderr
    assert "answered by operator 9101" in plain.stdout and "the line hung up" in plain.stdout
    assert menu.returncode == 0, menu.stderr
    assert "answered by operator 9101" in menu.stdout and "menu choose:2" in menu.stdout
    assert gone.returncode == 1 and "menu choose:1" in gone.stdout, gone.stdout + gone.stderr
