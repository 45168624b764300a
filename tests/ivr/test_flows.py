"""IVR flows in YAML: node validation with file:line:column, the examples, the compiled
dialplan of menus, language choice and the event menu, and the transfer allow-list."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from acd.adapters.asterisk.config import site_languages
from acd.domain.policies import TransferRefused
from acd.ivr.flow_dialplan import compile_flows
from acd.ivr.loader import FlowError, load_site
from acd.settings import PROJECT_DIR

HEAD = """\
lines:
  - did: "0467000100"
    name: 代表
    flow: main
    recording: off
queues:
  - name: tax
transfers:
  allow: ["0467XXXXXX"]
  departments: {fire: "0467000119"}
prompts:
  hello: {text: {ja: こんにちは, en: Hello}}
flows:
  main:
    start: menu
    nodes:
"""


def problems(tmp_path: Path, nodes: str) -> list[str]:
    path = tmp_path / "site.yaml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(nodes), " " * 6), encoding="utf-8")
    with pytest.raises(FlowError) as raised:
        load_site(path)
    return [p.removeprefix(f"{path}:") for p in raised.value.problems]


GOOD = """\
menu:
  type: menu
  prompt: hello
  choices: {"1": tax, "#": bye}
  default: tax
tax: {type: queue, queue: tax}
bye: {type: hangup}
"""


def test_a_valid_flow_loads_and_gives_its_transfer_policy(tmp_path: Path):
    path = tmp_path / "site.yaml"
    path.write_text(HEAD + textwrap.indent(GOOD, " " * 6), encoding="utf-8")
    site = load_site(path)
    assert site.lines[0].flow == "main" and set(site.flows["main"].nodes) == {"menu", "tax", "bye"}
    policy = site.transfer_policy()
    assert policy.resolve("fire") == "0467000119"
    assert policy.resolve("0467-23-3000") == "0467233000"
    with pytest.raises(TransferRefused):
        policy.resolve("09012345678")


def test_unknown_node_bad_key_unknown_prompt_and_transfer_outside_the_allow_list(tmp_path):
    found = problems(tmp_path, """\
        menu:
          type: menu
          prompt: hello
          choices: {"1": tax, "2": nowhere, "12": tax, "3": out}
          default: tax
        tax: {type: queue, queue: tax, prompt: nosuch}
        out: {type: transfer, to: "09012345678"}
        """)
    assert found == [
        "20:34: flow 'main': node 'menu' leads to unknown node 'nowhere' "
        "(nodes: menu, out, tax)",
        "20:43: bad DTMF key '12': a choice is one key, 0-9, * or # (quote it: \"1\")",
        "22:46: unknown prompt 'nosuch' (known: hello)",
        "23:33: transfer target '09012345678' is outside the allow-list: the number matches "
        "no allowed pattern (0467XXXXXX) (add it under 'transfers: allow:' or "
        "'departments:')",
    ]


def test_unreachable_node_and_loop_without_exit(tmp_path: Path):
    found = problems(tmp_path, """\
        menu:
          type: menu
          prompt: hello
          choices: {"1": again}
          default: again
        again: {type: play, prompts: [hello], next: menu}
        orphan: {type: hangup}
        """)
    assert found == [
        "23:7: flow 'main': node 'orphan' is unreachable from start node 'menu'",
        "17:7: flow 'main': loop without exit: menu -> again -> menu (no queue, voicemail, "
        "transfer, events or hangup node can be reached from it)",
    ]


def test_a_loop_with_an_exit_is_fine_and_unknown_keys_name_their_place(tmp_path: Path):
    path = tmp_path / "site.yaml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent("""\
        menu:
          type: menu
          prompt: hello
          choices: {"1": again, "9": tax}
          default: tax
        again: {type: play, prompts: [hello], next: menu}
        tax: {type: queue, queue: tax}
        """), " " * 6), encoding="utf-8")
    load_site(path)
    found = problems(tmp_path, """\
        menu: {type: menu, prompt: hello, choices: {"1": tax}, default: tax, colour: red}
        tax: {type: queue, queue: tax}
        """)
    assert len(found) == 1
    assert found[0].startswith("17:76: flows.main.nodes.menu.colour: Extra inputs")


def test_the_municipal_examples_validate_and_compile():
    site = load_site(PROJECT_DIR / "ivr_flows" / "examples")
    assert {"kamakura-main", "kamakura-events", "kawagoe-main", "shinjuku-main",
            "sapporo-elderly", "sapporo-payment"} <= set(site.flows)
    departments = site.flows["kamakura-main"].nodes["departments"]
    assert len(departments.choices) == 10
    assert site_languages(site) == {"ja", "en"}
    text = "\n".join(compile_flows(site.flows, site_languages(site),
                                   lambda name, lang: f"/s/{name}.{lang}",
                                   site.transfer_policy()))
    # the language choice leads into the English contexts, whose prompts are English
    assert "exten => 2,1,Set(CHANNEL(language)=en)" in text
    assert " same => n,Goto(fl-kamakura-main-hours-en,s,1)" in text
    assert "Background(/s/kama_departments.en)" in text
    # transfers dial the department's number; event menus read AstDB at choice time
    assert "Dial(PJSIP/0467000203@carrier,60,b(mdg-presented^s^1))" in text
    assert "Set(EVSTATUS=${GLOBAL(${EVFAM}${EXTEN}_status)})" in text
    assert "Background(${PRESS${EVN}})" in text
    assert site.event_lines()["kamakura-events"].language == "ja"
