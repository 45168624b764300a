"""`trunks:` in the site YAML: what the loader accepts, and every refusal with
file:line:column."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from acd.ivr.loader import FlowError, live_change_problems, load_site

LINE_AND_QUEUE = """\
lines:
  - did: "0570000500"
    name: 総合案内
    queue: main
    recording: off
queues:
  - name: main
"""

TRUNKS = """\
trunks:
  - name: city
    match: ["203.0.113.0/28", "198.51.100.7/32"]
  - name: hikari
    registrar: "192.0.2.10:5070"
    username: "0312345678"
    transport: tcp
    max_channels: 2
"""


def flows(tmp_path: Path, **files: str) -> Path:
    directory = tmp_path / "flows"
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return directory


def problems(directory: Path) -> list[str]:
    with pytest.raises(FlowError) as caught:
        load_site(directory)
    return caught.value.problems


def test_trunks_are_read_normalised_and_a_line_leaves_by_the_first_unless_it_names_one(
        tmp_path):
    site = load_site(flows(tmp_path, site=LINE_AND_QUEUE.replace(
        "    recording: off\n", "    recording: off\n  - did: \"0570000600\"\n    name: 税\n"
        "    queue: main\n    recording: off\n    trunk: hikari\n") + TRUNKS))
    city, hikari = site.trunks
    assert city.match == ["203.0.113.0/28", "198.51.100.7"]
    assert city.outgoing_host == "198.51.100.7:5060"  # the first single address
    assert hikari.outgoing_host == "192.0.2.10:5070"  # the registrar
    assert hikari.identified_by() == ["192.0.2.10"]
    assert [site.line_trunk(line) for line in site.lines] == ["city", "hikari"]


def test_without_trunks_the_settings_trunk_is_carrier(tmp_path):
    site = load_site(flows(tmp_path, site=LINE_AND_QUEUE.replace(
        "recording: off\n", "recording: off\n    trunk: carrier\n", 1)))
    assert site.trunks == () and site.trunk_names() == ("carrier",)
    assert site.line_trunk(site.lines[0]) == "carrier"


def test_an_unknown_trunk_on_a_line_is_named_with_its_position(tmp_path):
    directory = flows(tmp_path, site=LINE_AND_QUEUE.replace(
        "recording: off\n", "recording: off\n    trunk: kddi\n", 1) + TRUNKS)
    assert problems(directory) == [
        f"{directory / 'site.yaml'}:6:12: unknown trunk 'kddi' (known: city, hikari)"]


def test_a_trunk_defined_twice_in_two_files_is_refused(tmp_path):
    directory = flows(tmp_path, site=LINE_AND_QUEUE + TRUNKS, more="""\
        trunks:
          - name: hikari
            match: ["192.0.2.99"]
        """)
    assert problems(directory) == [
        f"{directory / 'site.yaml'}:11:11: trunk 'hikari' is defined twice"]


def test_a_bad_network_is_refused_where_it_is_written(tmp_path):
    directory = flows(tmp_path, site=LINE_AND_QUEUE + TRUNKS.replace(
        '"198.51.100.7/32"', '"198.51.100.0/33"'))
    found = problems(directory)
    assert len(found) == 1
    assert found[0].startswith(f"{directory / 'site.yaml'}:10:31: trunks.0.match.1: ")
    assert "'198.51.100.0/33' is neither an IPv4 address nor a network" in found[0]


def test_a_password_in_the_yaml_is_refused_saying_secrets_do_not_belong_there(tmp_path):
    directory = flows(tmp_path, site=LINE_AND_QUEUE + TRUNKS.replace(
        '    username: "0312345678"\n', '    username: "0312345678"\n    password: hunter2\n'))
    found = problems(directory)
    assert len(found) == 1
    assert found[0].startswith(f"{directory / 'site.yaml'}:14:15: trunks.1.password: ")
    assert "secrets do not belong in the YAML" in found[0]
    assert "MADOGUCHI_TRUNK_HIKARI_PASSWORD" in found[0]
    assert "<state_dir>/trunks/hikari.password" in found[0]


@pytest.mark.parametrize(("trunk", "why"), [
    ('  - name: b\n    registrar: "192.0.2.1"\n', "'registrar' and 'username' go together"),
    ('  - name: b\n    match: ["192.0.2.0/24"]\n', "is matched by networks only: give 'host'"),
    ("  - name: b\n", "needs 'match'"),
    ('  - name: B-1\n    match: ["192.0.2.1"]\n', "String should match pattern"),
    ('  - name: global\n    match: ["192.0.2.1"]\n', "'global' is reserved"),
    ('  - name: b\n    match: ["192.0.2.1"]\n    host: sip.example.jp\n',
     "give an IPv4 address"),
    ('  - name: b\n    match: ["192.0.2.1"]\n    transport: wss\n', "'udp', 'tcp' or 'tls'"),
])
def test_an_incomplete_or_malformed_trunk_is_refused(tmp_path, trunk, why):
    directory = flows(tmp_path, site=LINE_AND_QUEUE + "trunks:\n" + trunk)
    found = problems(directory)
    assert len(found) == 1 and found[0].startswith(f"{directory / 'site.yaml'}:")
    assert why in found[0]


def test_an_address_identifying_two_trunks_is_refused(tmp_path):
    directory = flows(tmp_path, site=LINE_AND_QUEUE + TRUNKS + """\
  - name: other
    match: ["203.0.113.5"]
""")
    assert problems(directory) == [
        f"{directory / 'site.yaml'}:17:13: 203.0.113.5 also identifies trunk 'city': "
        "each caller's address must belong to one trunk"]


def test_changed_trunks_need_a_restart(tmp_path):
    before = load_site(flows(tmp_path, site=LINE_AND_QUEUE + TRUNKS))
    after = load_site(flows(tmp_path, site=LINE_AND_QUEUE + TRUNKS.replace(
        "max_channels: 2", "max_channels: 3")))
    assert live_change_problems(before, after) == [
        "trunks changed: restart the stack (acd up) to apply it"]
    assert live_change_problems(before, before) == []
