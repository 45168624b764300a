"""The flows a running stack serves, and changing them while it runs.

``Deployment`` is one validated, rendered state: the site read from ``ivr_flows/``, the
Asterisk found, the prompts' audio and where the configuration is written. ``RunningFlows``
holds the deployment now in force: every part that needs the site asks it (the consoles,
call controls, reports, on-demand recording, the event line), so an applied change is seen
everywhere at once. ``FlowsService`` is the only thing that changes it: ``apply_flows``
(``acd ivr apply``) and ``apply_roster`` (agents added or changed), one at a time, each
checking everything before writing anything.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import structlog

from acd.adapters.asterisk.config import RuntimeDirs, calendar_years, render, write_config
from acd.adapters.asterisk.process import AsteriskInstallation
from acd.adapters.asterisk.prompts import PromptError, build_prompts
from acd.adapters.db.roster import Roster
from acd.adapters.secrets import SecretStore
from acd.domain.agents import STANDARD_AWAY_REASONS, AgentProfile, Agents, QueuePolicy
from acd.domain.calendar import status_at
from acd.domain.policies import TransferPolicy, site_policy
from acd.ivr.loader import FlowError, RestartNeeded, live_change_problems, load_site
from acd.ivr.models import Line, Site
from acd.reports.figures import Targets
from acd.reports.targets import targets_for
from acd.settings import Settings

log = structlog.get_logger(__name__)

Prompts = dict[str, dict[str, str]]


@dataclass(frozen=True)
class Deployment:
    """What `acd up` runs: the validated site, the Asterisk found, the rendered config."""

    settings: Settings
    site: Site
    installation: AsteriskInstallation
    secrets: SecretStore
    prompts: Prompts
    dirs: RuntimeDirs

    def files(self, roster: list[AgentProfile]) -> dict[str, str]:
        """The Asterisk configuration for this roster, by file name (nothing written)."""
        return render(self.settings, self.site, self.installation, self.secrets,
                      self.prompts, roster)

    def render(self, roster: list[AgentProfile]) -> None:
        """(Re-)write the Asterisk configuration for this roster."""
        write_config(self.settings, self.files(roster), self.installation.owner)

    def with_flows(self, site: Site, prompts: Prompts) -> Deployment:
        """The same deployment running other flows (a new value: this one is frozen)."""
        return replace(self, site=site, prompts=prompts)

    def agents(self, roster: list[AgentProfile]) -> Agents:
        """The agents' domain state for this roster and the site's queue policies."""
        policies = {q.name: QueuePolicy(q.name, q.wrapup_seconds, q.wrapup_extension_seconds,
                                        q.strategy)
                    for q in self.site.queues}
        reasons = frozenset(STANDARD_AWAY_REASONS) | frozenset(self.site.away_reasons)
        return Agents(policies=policies, away_reasons=reasons).with_roster(roster)


def check_roster(site: Site, roster: list[AgentProfile]) -> None:
    """The agents of the roster serve only queues the flows define."""
    unknown = sorted({m.queue for a in roster for m in a.queues} - {q.name for q in site.queues})
    if unknown:
        raise FlowError([f"agents serve queues that the flows do not define: "
                         f"{', '.join(unknown)}"])


def load_flows(settings: Settings, roster: list[AgentProfile]) -> tuple[Site, Prompts]:
    """Validate the flows against the roster and build their prompts' audio. Writes
    nothing but audio into the prompt cache; every problem is a :class:`FlowError`."""
    site = load_site(settings.flows_dir)
    check_roster(site, roster)
    try:
        prompts = build_prompts(site, settings.flows_dir, settings.sounds_dir)
    except PromptError as exc:
        raise FlowError([str(exc)]) from exc
    return site, prompts


_CONTEXT = re.compile(r"^\[([^\]]+)\]", re.MULTILINE)


def applied_summary(deployment: Deployment, files: dict[str, str], reloaded: list[str],
                    now: datetime | None = None) -> dict[str, Any]:
    """What `acd ivr apply` loaded: the lines (with their calendar's status now), the
    calendars, the dialplan contexts and what Asterisk reloaded."""
    now = now or datetime.now(UTC)
    calendars = deployment.site.domain_calendars()
    years = calendar_years(now)
    return {
        "flows_dir": str(deployment.settings.flows_dir),
        "lines": [{"did": line.did, "name": line.name, "queue": line.queue,
                   "events": line.events, "calendar": line.calendar,
                   "status_now": status_at(calendars[line.calendar], now).value
                   if line.calendar else "open"}
                  for line in deployment.site.lines],
        "calendars": sorted(calendars),
        "holiday_years": [years[0], years[-1]],
        "contexts": [name for name in _CONTEXT.findall(files["extensions.conf"])
                     if name not in ("general", "globals")],
        "reloaded": reloaded,
    }


class RunningFlows:
    """The deployment in force. Read by everyone; replaced only by :class:`FlowsService`."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    @property
    def site(self) -> Site:
        return self.deployment.site

    def site_and_prompts(self) -> tuple[Site, Prompts]:
        return self.deployment.site, self.deployment.prompts

    def current_site(self) -> Site:
        return self.deployment.site

    def transfer_policy(self) -> TransferPolicy:
        return site_policy(self.deployment.site)

    def targets(self) -> Targets:
        return targets_for(self.deployment.site)

    def line(self, did: str) -> Line | None:
        return next((line for line in self.deployment.site.lines if line.did == did), None)

    def presented_number(self, did: str) -> str:
        """The number the line's outgoing calls present (its own for an unknown line)."""
        line = self.line(did)
        return did if line is None else line.presented_number

    def outgoing_trunk(self, did: str) -> str:
        """The trunk the line's outgoing calls leave by (the first for an unknown line)."""
        site = self.deployment.site
        line = self.line(did)
        return site.trunk_names()[0] if line is None else site.line_trunk(line)

    def recording_policy(self, did: str) -> str | None:
        """The line's recording policy (always, on_demand, off), None for an unknown line."""
        line = self.line(did)
        return None if line is None else line.recording

    def retention_days(self, did: str) -> int | None:
        """The line's own retention of recordings and personal data, if it sets one."""
        line = self.line(did)
        return None if line is None else line.retention_days

    def known_lines(self) -> tuple[set[str], set[str]]:
        """The configured lines (DIDs) and queues."""
        site = self.deployment.site
        return {line.did for line in site.lines}, {q.name for q in site.queues}


class FlowsService:
    """Applies new flows or a changed roster to the running stack, one change at a time.

    ``roster_changed`` tells the controller the new roster; ``flows_applied`` runs after
    new flows are in force (the event line re-pushes its statuses, whose prompts may have
    changed).
    """

    def __init__(self, settings: Settings, running: RunningFlows, roster: Roster,
                 console: Callable[[str], Awaitable[str]],
                 roster_changed: Callable[[list[AgentProfile]], Awaitable[None]],
                 flows_applied: Callable[[], Awaitable[object]]) -> None:
        self._settings = settings
        self._running = running
        self._roster = roster
        self._console = console  # Asterisk's console: reloads need no AMI right
        self._roster_changed = roster_changed
        self._flows_applied = flows_applied
        self._lock = asyncio.Lock()  # one render + reload of the configuration at a time

    async def apply_roster(self) -> None:
        """Re-render pjsip.conf for the roster now in the database and reload PJSIP."""
        async with self._lock:
            profiles = await self._roster.all()
            await asyncio.to_thread(self._running.deployment.render, profiles)
            await self._console("module reload res_pjsip.so")
            await self._roster_changed(profiles)

    async def apply_flows(self) -> dict[str, Any]:
        """Load the flows again and reload Asterisk's dialplan (and queue parameters when
        they changed). Everything is checked before anything is written: a bad file raises
        FlowError and changes nothing. Calls in progress go on."""
        async with self._lock:
            current = self._running.deployment
            profiles = await self._roster.all()
            site, prompts = await asyncio.to_thread(load_flows, self._settings, profiles)
            refused = live_change_problems(current.site, site)
            if refused:
                raise RestartNeeded(refused)
            new = current.with_flows(site, prompts)
            files = await asyncio.to_thread(new.files, profiles)
            queues_conf = new.dirs.etc / "queues.conf"
            queues_changed = (not queues_conf.exists()
                              or queues_conf.read_text("utf-8") != files["queues.conf"])
            await asyncio.to_thread(write_config, self._settings, files,  # temp + rename
                                    new.installation.owner)
            self._running.deployment = new
            reloaded = ["dialplan"]
            await self._console("dialplan reload")
            if queues_changed:
                await self._console("queue reload parameters")
                reloaded.append("queue parameters")
            await self._flows_applied()
            summary = applied_summary(new, files, reloaded)
            log.info("ivr.applied", lines=len(site.lines), calendars=summary["calendars"],
                     reloaded=reloaded)
            return summary
