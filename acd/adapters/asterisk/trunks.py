"""The site's carrier trunks as pjsip.conf renders them, each with its password.

The trunks come from the site YAML (``trunks:``) or, when it has none, from the carrier_*
settings as one trunk named ``carrier``. A password is never in the YAML: it is read from
the environment (``MADOGUCHI_TRUNK_<NAME>_PASSWORD``) or else from
``<state_dir>/trunks/<name>.password``, a file only its owner may read (0600).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from acd.ivr.models import Site
from acd.ivr.trunk_models import SETTINGS_TRUNK, Trunk, host_of, password_env
from acd.settings import Settings

#: The channel variable naming the trunk a call's outgoing legs leave by (a site with
#: more than one trunk: from-carrier sets it from the line, inherited by every leg; the
#: controller sets it on the interpreter's leg).
OUTGOING_TRUNK_VARIABLE = "MDG_TRUNK_OUT"


class TrunkSecretError(ValueError):
    """A registering trunk's password is missing or not kept safe; the message says
    where it is looked for."""


@dataclass(frozen=True)
class TrunkConfig:
    trunk: Trunk
    password: str | None

    @property
    def name(self) -> str:
        return self.trunk.name

    @property
    def uri_transport(self) -> str:
        """What a SIP URI of the trunk adds for its transport (nothing for UDP)."""
        return "" if self.trunk.transport == "udp" else f";transport={self.trunk.transport}"



def acl_permits(trunks: list[TrunkConfig]) -> list[str]:
    """What the ACL lets in for the trunks: their matches, their registrars' and their
    outgoing hosts' addresses, each once."""
    found: dict[str, None] = {}
    for config in trunks:
        found.update(dict.fromkeys(config.trunk.identified_by()))
        found.setdefault(host_of(config.trunk.outgoing_host or ""))
    return [address for address in found if address]


def settings_trunk(settings: Settings) -> TrunkConfig:
    """The carrier_* settings as one trunk (a site YAML without ``trunks:``)."""
    trunk = Trunk(name=SETTINGS_TRUNK, match=[settings.carrier_address],
                  host=settings.carrier_host, registrar=settings.carrier_registrar,
                  username=settings.carrier_username, transport=settings.carrier_transport)
    password = settings.carrier_password
    return TrunkConfig(trunk, password.get_secret_value() if password else None)


def site_trunks(settings: Settings, site: Site, environ: Mapping[str, str] | None = None
                ) -> list[TrunkConfig]:
    """Every trunk of the site with its password; :class:`TrunkSecretError` names what
    is missing."""
    if not site.trunks:
        return [settings_trunk(settings)]
    environ = os.environ if environ is None else environ
    return [TrunkConfig(t, trunk_password(t, settings.trunks_dir, environ) if t.registrar
                        else None)
            for t in site.trunks]


def trunk_password(trunk: Trunk, directory: Path, environ: Mapping[str, str]) -> str:
    """The password of a registering trunk: the environment's, else its file's."""
    variable = password_env(trunk.name)
    if environ.get(variable):
        return environ[variable]
    path = directory / f"{trunk.name}.password"
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise TrunkSecretError(
            f"trunk '{trunk.name}' registers with {trunk.registrar} but has no password: "
            f"set the environment variable {variable} or write it into {path} "
            "(mode 0600)") from None
    if mode & 0o077:
        raise TrunkSecretError(f"{path} may be read by others (mode {mode & 0o777:o}): "
                               f"chmod 600 {path}")
    password = path.read_text(encoding="utf-8").strip()
    if not password:
        raise TrunkSecretError(f"{path} is empty: write the password of trunk "
                               f"'{trunk.name}' into it (or set {variable})")
    return password
