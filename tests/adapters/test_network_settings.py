"""The network settings: where each part listens, what is refused, and what `acd up`
needs before it listens beyond loopback."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from acd.adapters.asterisk.config import render
from acd.adapters.asterisk.process import AsteriskInstallation
from acd.adapters.secrets import SecretStore
from acd.domain.agents import AgentProfile, Membership
from acd.ivr.loader import load_site
from acd.settings import Settings
from tests.conftest import FIXTURES


def settings(tmp_path, **values) -> Settings:
    return Settings(state_dir=tmp_path / "state", flows_dir=FIXTURES / "flows", **values)


def test_defaults_stay_on_loopback_and_need_nothing_more(tmp_path):
    s = settings(tmp_path)
    assert (s.sip_address, s.ami_address, s.gateway_address) == ("127.0.0.1",) * 3
    assert s.sip_on_loopback and not s.agents_need_tls and not s.gateway_https
    assert s.gateway_url == "http://127.0.0.1:8080"
    assert s.exposure_problems(weak_secrets=["ami"]) == []


def test_ami_is_refused_beyond_loopback_with_a_reason(tmp_path):
    with pytest.raises(ValidationError, match="AMI must listen on a loopback address"):
        settings(tmp_path, ami_address="0.0.0.0")


def test_an_interface_name_is_its_address_and_an_unknown_one_is_refused(tmp_path):
    assert settings(tmp_path, sip_address="lo").sip_address == "127.0.0.1"
    with pytest.raises(ValidationError, match="neither an IPv4 address nor an interface"):
        settings(tmp_path, gateway_address="no-such-if0")


def test_networks_are_normalised_and_a_bad_one_is_refused(tmp_path):
    assert settings(tmp_path, agent_networks=["10.1.2.3/24"]).agent_networks == ["10.1.2.0/24"]
    with pytest.raises(ValidationError, match="local_networks"):
        settings(tmp_path, local_networks=["10.0.0.0/33"])


def test_a_key_without_its_certificate_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="go together"):
        settings(tmp_path, tls_key_file=tmp_path / "k.pem")


def test_beyond_loopback_every_missing_safeguard_is_named(tmp_path):
    s = settings(tmp_path, sip_address="0.0.0.0", gateway_address="0.0.0.0", agent_tls=False,
                 https=False)
    problems = " | ".join(s.exposure_problems(weak_secrets=["sip:1001"]))
    assert "agent_tls is off" in problems
    assert "name media_address" in problems
    assert "agent_networks allows loopback only" in problems
    assert "gateway listens on 0.0.0.0 without https" in problems
    assert "weak secrets" in problems and "sip:1001" in problems


def test_beyond_loopback_tls_and_https_are_the_defaults(tmp_path):
    s = settings(tmp_path, sip_address="0.0.0.0", gateway_address="0.0.0.0",
                 media_address="127.0.0.1", agent_networks=["192.168.10.0/24"])
    assert s.agents_need_tls and s.gateway_https
    assert s.gateway_url == "https://127.0.0.1:8080"
    assert s.exposure_problems(weak_secrets=[]) == []


def test_pjsip_renders_the_transports_nat_acl_and_srtp_for_agents(tmp_path):
    s = settings(tmp_path, sip_address="0.0.0.0", agent_networks=["192.168.10.0/24"],
                 external_signaling_address="203.0.113.5", local_networks=["192.168.0.0/16"])
    site = load_site(s.flows_dir)
    prompts = {name: {"ja": f"/sounds/{name}"} for name in site.prompts}
    files = render(s, site, AsteriskInstallation(None, "Asterisk 22.0.0", "/m", "/d"),
                   SecretStore(tmp_path / "secrets.json"), prompts,
                   [AgentProfile("1001", "山田", (Membership(site.queues[0].name),))])
    pjsip = files["pjsip.conf"]
    for protocol, port in (("udp", 5060), ("tcp", 5060), ("tls", 5061)):
        assert f"[transport-{protocol}]\ntype = transport\nprotocol = {protocol}\n" \
               f"bind = 0.0.0.0:{port}\n" in pjsip
    assert pjsip.count("external_signaling_address = 203.0.113.5") == 3
    assert pjsip.count("external_media_address = 203.0.113.5") == 3
    assert pjsip.count("local_net = 192.168.0.0/16") == 3
    assert "deny = 0.0.0.0/0.0.0.0\npermit = 192.168.10.0/24\npermit = 127.0.0.2\n" in pjsip
    assert "\nmedia_address" not in pjsip  # 0.0.0.0 is no address to announce
    assert "BEGIN CERTIFICATE" in files["madoguchi-tls.pem"]
    assert "PRIVATE KEY" in files["madoguchi-tls.key"]
    assert (tmp_path / "state" / "tls" / "ca.pem").exists()  # the local CA issued it
    agent = pjsip.split("[1001](endpoint-defaults)\n", 1)[1].split("\n\n", 1)[0]
    assert "transport = transport-tls\nmedia_encryption = sdes\n" in agent


def test_a_registering_trunk_needs_its_credentials_and_an_address(tmp_path):
    with pytest.raises(ValidationError, match="needs carrier_username and carrier_password"):
        settings(tmp_path, carrier_registrar="203.0.113.9:5060")
    with pytest.raises(ValidationError, match="carrier_registrar"):
        settings(tmp_path, carrier_registrar="sip.example.jp", carrier_username="u",
                 carrier_password="p")
    s = settings(tmp_path, carrier_registrar="203.0.113.9:5080", carrier_username="0312345678",
                 carrier_password="s3cret", carrier_transport="tcp")
    assert s.carrier_host == "203.0.113.9:5080"
    assert "s3cret" not in repr(s)  # a secret is never printed with the settings
    site = load_site(s.flows_dir)
    prompts = {name: {"ja": f"/sounds/{name}"} for name in site.prompts}
    pjsip = render(s, site, AsteriskInstallation(None, "Asterisk 22.0.0", "/m", "/d"),
                   SecretStore(tmp_path / "secrets.json"), prompts, [])["pjsip.conf"]
    assert "server_uri = sip:203.0.113.9:5080;transport=tcp\n" in pjsip
    assert "outbound_auth = carrier-auth\n" in pjsip and "password = s3cret\n" in pjsip
    assert "match = 127.0.0.2\nmatch = 203.0.113.9\n" in pjsip
    assert "contact = sip:203.0.113.9:5080\n" in pjsip
