"""Carrier trunks as an admin writes them under ``trunks:`` in the site YAML.

A trunk is known on inbound calls by the addresses or networks it calls from (``match``)
and, when it registers, by its registrar's address; outgoing calls (transfers,
interpreters) leave by the trunk of their line. A trunk's password is never in the YAML,
which goes into git: it comes from the environment or the state directory
(acd/adapters/asterisk/trunks.py).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

#: The one trunk of a site whose YAML has no ``trunks:``: made of the carrier_* settings.
SETTINGS_TRUNK = "carrier"
#: Lower case, digits and '_': a pjsip section name, and a part of an environment
#: variable's name (MADOGUCHI_TRUNK_<NAME>_PASSWORD) without ambiguity.
TRUNK_NAME = r"^[a-z][a-z0-9_]{0,30}$"
#: Section names pjsip.conf already uses for something else.
RESERVED_NAMES = frozenset({"global", "system"})
DEFAULT_SIP_PORT = 5060


def password_env(name: str) -> str:
    """The environment variable holding the password of trunk ``name``."""
    return f"MADOGUCHI_TRUNK_{name.upper()}_PASSWORD"


def address_and_port(value: str) -> str:
    """``address[:port]`` with an IPv4 address (the ACL and identify need addresses)."""
    host, _, port = value.partition(":")
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        raise ValueError(f"{value!r}: give an IPv4 address, optionally with :port") from None
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"bad port in {value!r}")
    return value


def address_or_network(value: str) -> str:
    """An IPv4 address, or a network in CIDR form (normalised: 10.1.2.3/24 is
    10.1.2.0/24, a /32 is its address)."""
    try:
        network = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is neither an IPv4 address nor a network (CIDR, e.g. "
                         "203.0.113.0/28)") from None
    return str(network.network_address) if network.prefixlen == 32 else str(network)


def host_of(address: str) -> str:
    """The address of ``address[:port]``."""
    return address.partition(":")[0]


class Trunk(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=TRUNK_NAME, description="the trunk's id (lower case, digits, "
                      "'_'): its pjsip endpoint, and lines' 'trunk:'")
    match: list[Annotated[str, AfterValidator(address_or_network)]] = Field(
        default=[], description="addresses or CIDR networks the trunk's inbound calls "
        "come from")
    host: str | None = Field(default=None, description="address[:port] outgoing calls are "
                             "sent to; default: the registrar, else the first address of "
                             "'match' on port 5060")
    registrar: str | None = Field(default=None, description="address[:port] the trunk "
                                  "registers with (digest credentials); its address "
                                  "identifies the trunk too")
    username: str | None = Field(default=None, min_length=1, pattern=r"^[^\s@:;]+$",
                                 description="the digest user (often the contract's number)")
    password: None = Field(default=None, description="never here: secrets do not belong "
                           "in the YAML")
    transport: Literal["udp", "tcp", "tls"] = "udp"
    max_channels: int = Field(default=0, ge=0, le=10_000, description="calls the trunk "
                              "carries at once (0: no limit); one more inbound call hears "
                              "its line's busy message and is counted as overflow, reason "
                              "'channels'")

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_NAMES:
            raise ValueError(f"'{value}' is reserved in pjsip.conf; choose another name")
        return value

    @field_validator("host", "registrar")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return None if value is None else address_and_port(value)

    @field_validator("password", mode="before")
    @classmethod
    def _no_secret(cls, value: object, info: ValidationInfo) -> None:
        name = info.data.get("name", "<name>")
        raise ValueError(f"secrets do not belong in the YAML (it goes into git): remove "
                         f"'password' and give it in the environment ({password_env(name)}) "
                         f"or in the file <state_dir>/trunks/{name}.password (mode 0600)")

    @model_validator(mode="after")
    def _identified_and_reachable(self) -> Trunk:
        if not self.match and not self.registrar:
            raise ValueError(f"trunk '{self.name}' needs 'match' (the addresses or networks "
                             "it calls from) or a 'registrar'")
        if (self.registrar is None) != (self.username is None):
            raise ValueError(f"trunk '{self.name}': 'registrar' and 'username' go together")
        if self.outgoing_host is None:
            raise ValueError(f"trunk '{self.name}' is matched by networks only: give "
                             "'host', the address[:port] its outgoing calls go to")
        return self

    @property
    def outgoing_host(self) -> str | None:
        """Where outgoing calls go: ``host``, else the registrar, else the first single
        address of ``match`` on port 5060."""
        if self.host or self.registrar:
            return self.host or self.registrar
        single = [m for m in self.match if "/" not in m]
        return f"{single[0]}:{DEFAULT_SIP_PORT}" if single else None

    def identified_by(self) -> list[str]:
        """What identifies the trunk's inbound requests: ``match`` and the registrar."""
        found = list(self.match)
        if self.registrar and host_of(self.registrar) not in found:
            found.append(host_of(self.registrar))
        return found

    def networks(self) -> list[ipaddress.IPv4Network]:
        return [ipaddress.IPv4Network(m) for m in self.identified_by()]
