"""The trunks of the site YAML rendered into pjsip.conf and the dialplan, with their
passwords from the environment or the state directory (never from the YAML)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from acd.adapters.asterisk.config import render
from acd.adapters.asterisk.process import AsteriskInstallation
from acd.adapters.asterisk.trunks import TrunkSecretError, site_trunks
from acd.adapters.secrets import SecretStore
from acd.ivr.loader import load_site
from acd.settings import Settings
from tests.conftest import FIXTURES

FLOW_WITH_TRANSFER = """\
flows:
  tax:
    start: out
    nodes:
      out: {type: transfer, to: shimin}
"""


def site_dir(tmp_path: Path) -> Path:
    flows = tmp_path / "flows"
    shutil.copytree(FIXTURES / "flows", flows)
    shutil.copy(FIXTURES / "trunks" / "trunks.yaml", flows)
    (flows / "tax.yaml").write_text(FLOW_WITH_TRANSFER, encoding="utf-8")
    return flows


def rendered(tmp_path: Path) -> dict[str, str]:
    s = Settings(state_dir=tmp_path / "state", flows_dir=site_dir(tmp_path))
    site = load_site(s.flows_dir)
    prompts = {name: {"ja": f"/sounds/{name}"} for name in site.prompts}
    return render(s, site, AsteriskInstallation(None, "Asterisk 22.0.0", "/m", "/d"),
                  SecretStore(tmp_path / "secrets.json"), prompts, [])


def section(text: str, header: str) -> str:
    return text.split(f"\n{header}\n", 1)[1].split("\n\n", 1)[0]


def test_each_trunk_has_its_endpoint_identify_registration_and_a_place_in_the_acl(
        tmp_path, monkeypatch):
    monkeypatch.setenv("MADOGUCHI_TRUNK_HIKARI_PASSWORD", "from-the-env-42")
    pjsip = rendered(tmp_path)["pjsip.conf"]
    assert "permit = 127.0.0.0/8\npermit = 127.0.31.0/24\npermit = 127.0.31.9\n" \
        "permit = 127.0.32.7\npermit = 127.0.32.8\n\n" in pjsip
    city = section(pjsip, "[city](endpoint-defaults)")
    assert "set_var = MDG_TRUNK=city\nset_var = MDG_TRUNK_CHANNELS=0\n" \
        "set_var = GROUP(trunks)=city" in city
    assert "outbound_auth" not in city and "[city-registration]" not in pjsip
    assert "endpoint = city\nmatch = 127.0.31.0/24" in pjsip
    hikari = section(pjsip, "[hikari](endpoint-defaults)")
    assert "set_var = MDG_TRUNK_CHANNELS=2\n" in hikari
    assert "outbound_auth = hikari-auth" in hikari
    assert "username = 0312345678\npassword = from-the-env-42\n" in pjsip
    assert "server_uri = sip:127.0.32.7:5060\n" in pjsip
    assert "endpoint = hikari\nmatch = 127.0.32.7" in pjsip  # known by its registrar
    assert "type = aor\ncontact = sip:127.0.32.8:5060\n" in pjsip  # outgoing calls: host
    assert "[carrier]" not in pjsip  # the settings' trunk only without trunks:


def test_a_line_leaves_by_its_trunk_and_a_full_trunk_refuses_a_call(tmp_path, monkeypatch):
    monkeypatch.setenv("MADOGUCHI_TRUNK_HIKARI_PASSWORD", "pw")
    files = rendered(tmp_path)
    plan, calls = files["extensions.conf"], files["extensions_calls.conf"]
    assert "exten => 0570000777,1,Set(__MDG_TRUNK_OUT=hikari)\n" \
        " same => n,Goto(line-0570000777,s,1)\n" in plan
    assert "exten => 0570000123,1,Set(__MDG_TRUNK_OUT=city)\n" in plan
    assert "Dial(PJSIP/0570999001@${MDG_TRUNK_OUT},60," in plan  # the flow's transfer
    assert "Dial(PJSIP/${NUM}@${MDG_TRUNK_OUT},30," in calls
    assert "?city:${MDG_TRUNK_OUT})})" in calls  # no line's trunk known: the first
    assert ('GotoIf($["${MDG_TRUNK_OUT}" = "hikari" & ${GROUP_COUNT(hikari@trunks)} >= 2]'
            "?full)") in calls
    line = section(plan, "[line-0570000777]")
    assert (" same => n,GotoIf($[(${MDG_TRUNK_CHANNELS} > 0 & "
            "${GROUP_COUNT(${MDG_TRUNK}@trunks)} > ${MDG_TRUNK_CHANNELS})]?busy,1)") in line
    assert "exten => busy,1,UserEvent(MadoguchiOverflow,Reason: channels,Destination: busy)" \
        in line


def test_the_password_comes_from_a_private_file_of_the_state_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("MADOGUCHI_TRUNK_HIKARI_PASSWORD", raising=False)
    s = Settings(state_dir=tmp_path / "state", flows_dir=site_dir(tmp_path))
    site = load_site(s.flows_dir)
    with pytest.raises(TrunkSecretError) as missing:
        site_trunks(s, site)
    assert "trunk 'hikari' registers with 127.0.32.7:5060 but has no password" in str(missing.value)
    assert "MADOGUCHI_TRUNK_HIKARI_PASSWORD" in str(missing.value)
    secret = s.trunks_dir / "hikari.password"
    assert str(secret) in str(missing.value)
    secret.parent.mkdir(parents=True)
    secret.write_text("from-the-file-7\n")
    secret.chmod(0o644)
    with pytest.raises(TrunkSecretError, match="may be read by others .*chmod 600"):
        site_trunks(s, site)
    secret.chmod(0o600)
    assert [t.password for t in site_trunks(s, site)] == [None, "from-the-file-7"]
    assert [t.password for t in site_trunks(s, site, {"MADOGUCHI_TRUNK_HIKARI_PASSWORD":
                                                       "env-first"})] == [None, "env-first"]


def test_without_trunks_the_carrier_settings_are_the_one_trunk(tmp_path):
    s = Settings(state_dir=tmp_path / "state", flows_dir=FIXTURES / "flows",
                 carrier_address="127.0.0.5", carrier_port=5070)
    (trunk,) = site_trunks(s, load_site(s.flows_dir))
    assert (trunk.name, trunk.trunk.identified_by(), trunk.trunk.outgoing_host) == \
        ("carrier", ["127.0.0.5"], "127.0.0.5:5070")
