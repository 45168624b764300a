"""Render the Asterisk configuration from asterisk_conf/ templates, settings and the site.

Files are written into the runtime directory (``<state_dir>/asterisk/etc``); the
installed Asterisk configuration is never touched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import jinja2

from acd.adapters.ami.events import USED_EVENTS
from acd.adapters.asterisk.process import AsteriskInstallation
from acd.adapters.asterisk.prompts import audio_in
from acd.adapters.asterisk.trunks import (
    OUTGOING_TRUNK_VARIABLE,
    TrunkConfig,
    acl_permits,
    site_trunks,
)
from acd.adapters.secrets import SecretStore
from acd.adapters.tls import site_tls_files
from acd.domain.agents import AgentProfile
from acd.domain.clock import TOKYO
from acd.domain.policies import site_policy
from acd.ivr.calendar_dialplan import calendar_context, compile_calendars
from acd.ivr.flow_dialplan import compile_flows, flow_languages, node_context
from acd.ivr.models import Site
from acd.settings import PROJECT_DIR, Settings

TEMPLATES_DIR = PROJECT_DIR / "asterisk_conf"
AMI_USER = "madoguchi"
#: The classes of the controller's AMI login, and why each (manager.conf says it again).
#: Events it reads: system (FullyBooted, Shutdown), call (channels, MixMonitor, DTMF),
#: agent (queue members and callers), user (the dialplan's UserEvents).
AMI_READ = ("system", "call", "agent", "user")
#: Actions it sends: call (Hangup, Redirect, Setvar, StopMixMonitor, BlindTransfer,
#: Atxfer, Bridge, MuteAudio), agent (QueueAdd/Remove/Pause/Penalty), user (UserEvent),
#: reporting (CoreShowChannels), originate (Originate), system (MixMonitor: Asterisk
#: files it under system because its options can run a command; on-demand recording
#: starts it on a live call; DBPut: the emergency switch lives in AstDB, on disk, so that
#: it holds through an Asterisk restart while the controller is down). Never command or
#: config: reloads go through Asterisk's console socket, the event line through global
#: variables.
AMI_WRITE = ("system", "call", "agent", "user", "reporting", "originate")
#: Public holidays are compiled into the dialplan for this many years from the current
#: one (Tokyo time); `acd ivr apply` or a restart re-renders them.
CALENDAR_YEARS = 3
#: Seconds a transfer target or an interpreter may ring before the attempt is given up.
OUTBOUND_DIAL_SECONDS = 30
#: SIP over TLS: the certificate and key, beside the configuration (pjsip.conf names them)
TLS_CERT, TLS_KEY = "madoguchi-tls.pem", "madoguchi-tls.key"


@dataclass(frozen=True)
class RuntimeDirs:
    run: Path

    @property
    def etc(self) -> Path:
        return self.run / "etc"

    @property
    def asterisk_conf(self) -> Path:
        return self.etc / "asterisk.conf"


@dataclass(frozen=True)
class AgentCredentials:
    id: str
    name: str
    password: str
    queues: tuple[str, ...]


def agent_credentials(roster: list[AgentProfile], secrets: SecretStore
                      ) -> list[AgentCredentials]:
    """SIP credentials of the enabled agents (passwords generated on first use)."""
    return [AgentCredentials(a.id, a.name, secrets.get(f"sip:{a.id}"),
                             tuple(m.queue for m in a.queues))
            for a in roster if a.enabled]


def calendar_years(now: datetime | None = None) -> range:
    """The years whose public holidays are compiled: this year in Tokyo and the next two."""
    year = (now or datetime.now(TOKYO)).astimezone(TOKYO).year
    return range(year, year + CALENDAR_YEARS)


def calendar_dialplan(site: Site, now: datetime | None = None) -> str:
    """The ``cal-<name>`` subroutines of every calendar of the site, as dialplan text."""
    return "\n".join(compile_calendars(site.domain_calendars().values(), calendar_years(now)))


def calendar_contexts(site: Site) -> dict[str, str]:
    """The dialplan context of each calendar, by calendar name."""
    return {name: calendar_context(c) for name, c in site.domain_calendars().items()}


def render(settings: Settings, site: Site, installation: AsteriskInstallation,
           secrets: SecretStore, prompts: dict[str, dict[str, str]],
           roster: list[AgentProfile], now: datetime | None = None) -> dict[str, str]:
    """The text of every configuration file, by file name. ``now`` (default: the clock)
    chooses the years whose public holidays the calendars compile."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    trunks = site_trunks(settings, site)
    context = {
        "settings": settings,
        "install": installation,
        "dirs": RuntimeDirs(settings.asterisk_dir),
        "ami_secret": secrets.get("ami"),
        "ami_read": ",".join(AMI_READ),
        "ami_write": ",".join(AMI_WRITE),
        "used_events": USED_EVENTS,
        "agents": agent_credentials(roster, secrets),
        "queues": site.queues,
        "lines": site.lines,
        "languages": sorted(site_languages(site)),
        "prompt": lambda name, language: _prompt_path(prompts, name, language),
        "flows": "\n".join(compile_flows(
            site.flows, site_languages(site),
            lambda name, language: _prompt_path(prompts, name, language),
            site.transfer_policy(), trunk=dial_trunk(trunks))),
        "flow_start": lambda line: node_context(line.flow, site.flows[line.flow].start,
                                                line.language),
        # a flow that decides the opening hours itself: the notice and the recording wait
        # until its calendar node says open (or the call reaches an operator)
        "opens_in_flow": lambda line: (line.flow is not None
                                       and site.flows[line.flow].decides_hours),
        "transfer_extensions": site_policy(site).dialplan_extensions(),
        "dial_timeout": OUTBOUND_DIAL_SECONDS,
        "calendars": calendar_dialplan(site, now),
        "calendar_contexts": calendar_contexts(site),
        "trunks": trunks,
        "trunk_permits": acl_permits(trunks),
        "trunk_limits": any(t.trunk.max_channels for t in trunks),
        "dial_trunk": dial_trunk(trunks),
        "line_trunk": site.line_trunk if len(trunks) > 1 else None,
        "outgoing_trunk_variable": OUTGOING_TRUNK_VARIABLE,
        "recordings_dir": settings.recordings_dir.resolve(),
        "voicemail_dir": settings.voicemail_path.resolve(),
    }
    rendered = {template.removesuffix(".j2"): env.get_template(template).render(context)
                for template in sorted(env.list_templates(extensions=["j2"]))
                if "/" not in template}  # fail2ban/ is the ban server's (adapters/fail2ban)
    return rendered | tls_texts(settings)


def dial_trunk(trunks: list[TrunkConfig]) -> str:
    """The trunk of ``Dial(PJSIP/<number>@<trunk>)``: the one trunk by name, or the
    variable set from the call's line."""
    return trunks[0].name if len(trunks) == 1 else f"${{{OUTGOING_TRUNK_VARIABLE}}}"


def site_languages(site: Site) -> set[str]:
    """Every language a caller may hear: the lines' own and those chosen in flows."""
    return {line.language for line in site.lines} | flow_languages(site.flows.values())


def _prompt_path(prompts: dict[str, dict[str, str]], name: str, language: str) -> str:
    """The prompt in the caller's language, else in Japanese, else in any language."""
    return audio_in(prompts[name], language)


def write_config(settings: Settings, files: dict[str, str],
                 owner: tuple[int, int] | None = None) -> RuntimeDirs:
    """Write every file (0600, owned by Asterisk's user when it runs as one), each by a
    rename so that Asterisk never reads half a file."""
    dirs = RuntimeDirs(settings.asterisk_dir)
    for sub in ("etc", "cache", "lib", "db", "keys", "spool", "run", "log"):
        (dirs.run / sub).mkdir(parents=True, exist_ok=True)
    chown = owner is not None and os.geteuid() == 0
    for name, text in files.items():
        target = dirs.etc / name
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o600)
        if chown and owner is not None:
            os.chown(tmp, *owner)
        tmp.replace(target)
    return dirs


def tls_texts(settings: Settings) -> dict[str, str]:
    """SIP's certificate (with its chain) and key, as files of the configuration (Asterisk,
    once it has dropped root, reads only its own files)."""
    files = site_tls_files(settings)
    return {TLS_CERT: files.cert.read_text(), TLS_KEY: files.key.read_text()}
