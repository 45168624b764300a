"""The one settings model of Madoguchi, validated at start.

Every value can be given as an environment variable prefixed ``MADOGUCHI_`` (for example
``MADOGUCHI_SIP_PORT=5070``); the database is chosen by ``DATABASE_URL`` as is usual.
"""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parent.parent
#: A secret (AMI, SIP, API) shorter than this is refused beyond loopback.
STRONG_SECRET_LENGTH = 24


def is_loopback(address: str) -> bool:
    return ipaddress.IPv4Address(address).is_loopback


def local_address(value: str) -> str:
    """An IPv4 address (0.0.0.0 for every one), or the address of a named interface."""
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        pass
    address = interface_address(value)
    if address is None:
        raise ValueError(f"{value!r} is neither an IPv4 address nor an interface of this "
                         "machine with an IPv4 address")
    return address


def interface_address(name: str) -> str | None:
    """The first IPv4 address of the interface ``name``, or None."""
    if name not in {n for _, n in socket.if_nameindex()}:
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            packed = fcntl.ioctl(sock.fileno(), 0x8915,  # SIOCGIFADDR
                                 struct.pack("256s", name.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MADOGUCHI_", extra="forbid", frozen=True)

    state_dir: Path = Field(
        default=PROJECT_DIR / "var",
        description="Generated secrets, the rendered Asterisk config, its database and logs, "
        "the SQLite database and synthesized prompts. Never committed.",
    )
    recordings_dir: Path = PROJECT_DIR / "recordings"
    voicemail_dir: Path | None = Field(default=None, description="voicemail messages; "
                                       "default: <recordings_dir>/voicemail")
    flows_dir: Path = PROJECT_DIR / "ivr_flows"
    database_url: str = Field(
        default="",
        validation_alias=AliasChoices("DATABASE_URL", "MADOGUCHI_DATABASE_URL"),
        description="SQLAlchemy async URL; empty means a SQLite file in state_dir.",
    )
    sip_address: str = Field(
        default="127.0.0.1", description="where SIP (UDP, TCP and TLS) listens: an address "
        "of this machine, 0.0.0.0 for all, or an interface name (eth0)")
    sip_port: int = Field(default=5060, ge=1, le=65535, description="SIP over UDP and TCP")
    sip_tls_port: int = Field(default=5061, ge=1, le=65535, description="SIP over TLS")
    media_address: str | None = Field(
        default=None, description="where RTP listens (default: the SIP address)")
    rtp_start: int = Field(default=10000, ge=1024, le=65535)
    rtp_end: int = Field(default=10999, ge=1024, le=65535)
    external_signaling_address: str | None = Field(
        default=None, description="the public address SIP announces to agents outside "
        "local_networks (NAT)")
    external_media_address: str | None = Field(
        default=None, description="the public address RTP announces (NAT; default: the "
        "external signalling address)")
    local_networks: list[str] = Field(
        default_factory=list, description="networks (CIDR) that reach SIP without NAT; "
        "the external addresses are announced to everyone else")
    agent_networks: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8"], description="networks (CIDR) the agents' "
        "softphones may register and call from; every other source is refused")
    agent_tls: bool | None = Field(
        default=None, description="agents' softphones must use TLS and SRTP (SDES); "
        "default: yes when SIP listens beyond loopback")
    tls_cert_file: Path | None = Field(
        default=None, description="certificate (PEM, with its chain) of SIP over TLS and "
        "of the consoles over https; empty: a local CA in <state_dir>/tls issues one")
    tls_key_file: Path | None = Field(default=None, description="its private key (PEM)")
    tls_names: list[str] = Field(
        default_factory=list, description="host names and addresses the generated "
        "certificate is issued for (default: the SIP and gateway addresses, localhost)")
    ami_address: str = Field(default="127.0.0.1", description="where AMI listens: "
                             "loopback only")
    ami_port: int = Field(default=5038, ge=1, le=65535)
    carrier_address: str = Field(
        default="127.0.0.2",
        description="Source address that identifies the carrier trunk (inbound calls); "
        "the carrier_* settings are the trunk of a site YAML without 'trunks:'",
    )
    carrier_port: int = Field(
        default=5060, ge=1, le=65535, description="SIP port of the carrier at "
        "carrier_address, for outgoing calls (transfers, interpreters in three-way calls)")
    carrier_registrar: str | None = Field(
        default=None, description="host[:port] the carrier trunk registers with (outbound "
        "registration with digest credentials); empty: the carrier is known by its address")
    carrier_username: str | None = Field(default=None, description="the trunk's digest "
                                         "user (often the contract's number)")
    carrier_password: SecretStr | None = Field(
        default=None, description="the trunk's digest password: from the environment "
        "(MADOGUCHI_CARRIER_PASSWORD) or the systemd environment file, never from git")
    carrier_transport: Literal["udp", "tcp", "tls"] = "udp"
    gateway_address: str = Field(
        default="127.0.0.1", description="where the agent gateway (consoles, API) listens: "
        "an address, 0.0.0.0 or an interface name")
    gateway_port: int = Field(default=8080, ge=1, le=65535)
    asterisk_root: Path | None = Field(
        default=None,
        description="A Debian root holding Asterisk (built by make setup); "
        "empty means the system's Asterisk or the cached root.",
    )
    ami_capture_file: Path | None = Field(
        default=None, description="append the raw AMI stream to this file (for bug reports "
        "and adapter test fixtures)")
    recording_retention_days: int = Field(
        default=90, ge=1, le=3650, description="days a recording is kept after its call; the "
        "daily purge (03:00 JST) erases it then, keeping a tombstone")
    recording_keys_dir: Path | None = Field(
        default=None, description="keyring that seals recordings (default <state_dir>/keys); "
        "keep it out of the recordings' backups")
    recording_seal_voicemail: bool = Field(default=True, description="seal voicemail too")
    recording_agents_play_own: bool = Field(
        default=False, description="agents may search and play the recordings of their own "
        "calls (supervisors and admins may play every recording)")
    reports_dir: Path | None = Field(default=None, description="where the scheduled KPI "
                                     "reports are written (default <state_dir>/reports)")
    report_formats: str = Field(default="pdf,xlsx", pattern=r"^(csv|xlsx|html|pdf)"
                                r"(,(csv|xlsx|html|pdf))*$", description="formats of the "
                                "scheduled reports, comma-separated")
    log_format: str = Field(default="auto", pattern="^(auto|json|console)$")
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60, description="a console "
                                      "session unused this long ends")
    session_absolute_hours: int = Field(default=12, ge=1, le=7 * 24, description="every "
                                        "console session ends this long after sign-in")
    login_max_failures: int = Field(default=5, ge=1, le=100, description="wrong passwords "
                                    "in a row that lock an account")
    login_lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    https: bool | None = Field(
        default=None, description="the consoles are served over https (HSTS, Secure "
        "cookies) with the TLS certificate; default: yes when the gateway listens beyond "
        "loopback")
    console_networks: list[str] = Field(
        default_factory=list, description="networks (CIDR) the consoles and the API may be "
        "used from (403 for any other source); empty: every source")
    login_source_max_failures: int = Field(
        default=20, ge=1, le=10_000, description="wrong sign-ins from one source address "
        "(any account) before that source is refused for login_lockout_minutes")
    sip_ban_failures: int = Field(
        default=10, ge=1, le=1000, description="failed SIP authentications (wrong password, "
        "unknown account, refused by ACL) from one source before it is banned")
    sip_ban_window_minutes: int = Field(default=10, ge=1, le=24 * 60)
    sip_ban_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60, description="how long "
                                 "a banned source is refused")

    @field_validator("ami_address")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        if not is_loopback(value):
            raise ValueError("AMI must listen on a loopback address (127.0.0.0/8): with its "
                             "secret it controls every call; reach it over SSH if needed")
        return value

    @field_validator("sip_address", "gateway_address", "media_address")
    @classmethod
    def _local_address(cls, value: str | None) -> str | None:
        return None if value is None else local_address(value)

    @field_validator("carrier_address", "external_signaling_address",
                     "external_media_address")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        if value is not None:
            ipaddress.IPv4Address(value)
        return value

    @field_validator("carrier_registrar")
    @classmethod
    def _address_and_port(cls, value: str | None) -> str | None:
        if value is not None:
            host, _, port = value.partition(":")
            ipaddress.IPv4Address(host)  # an address: the trunk is identified by it
            if port and not (port.isdigit() and 0 < int(port) < 65536):
                raise ValueError(f"bad port in {value!r}")
        return value

    @field_validator("local_networks", "agent_networks", "console_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return [str(ipaddress.IPv4Network(net, strict=False)) for net in value]

    @model_validator(mode="after")
    def _registration_credentials(self) -> Settings:
        if self.carrier_registrar and not (self.carrier_username and self.carrier_password):
            raise ValueError("carrier_registrar needs carrier_username and carrier_password "
                             "(MADOGUCHI_CARRIER_USERNAME, MADOGUCHI_CARRIER_PASSWORD)")
        return self

    @property
    def carrier_host(self) -> str:
        """Where outgoing calls go: the registrar when the trunk registers, else the
        carrier's address."""
        if self.carrier_registrar:
            return self.carrier_registrar
        return f"{self.carrier_address}:{self.carrier_port}"

    @model_validator(mode="after")
    def _key_with_cert(self) -> Settings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together: give both, or "
                             "neither (a local CA then issues the certificate)")
        return self

    @property
    def rtp_address(self) -> str:
        return self.media_address or self.sip_address

    @property
    def sip_on_loopback(self) -> bool:
        return is_loopback(self.sip_address) and is_loopback(self.rtp_address)

    @property
    def agents_need_tls(self) -> bool:
        return (not self.sip_on_loopback) if self.agent_tls is None else self.agent_tls

    @property
    def gateway_https(self) -> bool:
        return (not is_loopback(self.gateway_address)) if self.https is None else self.https

    @property
    def gateway_url(self) -> str:
        """Where this machine reaches its own gateway."""
        host = "127.0.0.1" if self.gateway_address == "0.0.0.0" else self.gateway_address
        return f"{'https' if self.gateway_https else 'http'}://{host}:{self.gateway_port}"

    def exposure_problems(self, weak_secrets: list[str]) -> list[str]:
        """What must be in place before SIP or the gateway listen beyond loopback: TLS
        for the agents, their networks, https for the consoles, strong secrets."""
        problems = []
        if not self.sip_on_loopback:
            where = f"SIP listens on {self.sip_address} (RTP on {self.rtp_address})"
            if not self.agents_need_tls:
                problems.append(f"{where} but agent_tls is off: softphones must use TLS "
                                "and SRTP (MADOGUCHI_AGENT_TLS=true)")
            if self.rtp_address == "0.0.0.0":
                problems.append(f"{where}: name media_address, the address RTP is announced "
                                "with (MADOGUCHI_MEDIA_ADDRESS)")
            if all(ipaddress.IPv4Network(n).is_loopback for n in self.agent_networks):
                problems.append(f"{where} but agent_networks allows loopback only: name "
                                "the desks' networks (MADOGUCHI_AGENT_NETWORKS="
                                "'[\"192.168.10.0/24\"]')")
        if not is_loopback(self.gateway_address) and not self.gateway_https:
            problems.append(f"the gateway listens on {self.gateway_address} without https "
                            "(MADOGUCHI_HTTPS=true)")
        if weak_secrets and not (self.sip_on_loopback and is_loopback(self.gateway_address)):
            problems.append(f"weak secrets in {self.state_dir / 'secrets.json'}: "
                            f"{', '.join(weak_secrets)} (shorter than "
                            f"{STRONG_SECRET_LENGTH} characters; delete them to have them "
                            "generated again)")
        return problems

    @property
    def tls_dir(self) -> Path:
        return self.state_dir / "tls"

    @property
    def trunks_dir(self) -> Path:
        """Passwords of the site YAML's trunks, one ``<name>.password`` file (0600) each."""
        return self.state_dir / "trunks"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.state_dir / 'madoguchi.db'}"

    @property
    def voicemail_path(self) -> Path:
        return self.voicemail_dir or self.recordings_dir / "voicemail"

    @property
    def asterisk_dir(self) -> Path:
        """Runtime directory of the rendered Asterisk configuration and its data."""
        return self.state_dir / "asterisk"

    @property
    def reports_path(self) -> Path:
        return self.reports_dir or self.state_dir / "reports"

    @property
    def sounds_dir(self) -> Path:
        return self.state_dir / "sounds"
