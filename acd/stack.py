"""`acd up`: the whole stack in one process, started in order and stopped cleanly.

Order: check everything that can be checked before starting anything (flows, Asterisk
runtime, free ports, database), render the configuration, start Asterisk, then the
controller and the agent gateway. On SIGINT/SIGTERM, or when a part fails, everything
that was started is stopped in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import structlog
from aiohttp import web
from sqlalchemy.engine import make_url

from acd.adapters.ami.client import AmiClient
from acd.adapters.asterisk.config import (
    AMI_USER,
    RuntimeDirs,
    calendar_years,
    render,
    write_config,
)
from acd.adapters.asterisk.process import (
    AsteriskInstallation,
    AsteriskProcess,
    AsteriskUnavailable,
    ensure_ports_free,
    find_installation,
)
from acd.adapters.asterisk.prompts import PromptError, build_prompts
from acd.adapters.db.engine import Database, make_engine
from acd.adapters.db.event_items import EventStore
from acd.adapters.db.migrate import upgrade
from acd.adapters.db.roster import Roster
from acd.adapters.secrets import SecretStore
from acd.auth.policy import AuthPolicy
from acd.domain.agents import STANDARD_AWAY_REASONS, AgentProfile, Agents, QueuePolicy
from acd.domain.calendar import status_at
from acd.domain.policies import site_policy
from acd.ivr.loader import FlowError, RestartNeeded, live_change_problems, load_site
from acd.ivr.models import Site
from acd.recordings import on_demand
from acd.recordings.store import run_daily_purge, store_from_settings
from acd.reports.scheduler import ReportScheduler
from acd.reports.targets import targets_for
from acd.runtime import Controller
from acd.services.call_controls import CallControls
from acd.services.event_line import EventLines
from acd.settings import Settings
from agent_gateway.app import create_app
from agent_gateway.routes.calls import setup_call_routes
from agent_gateway.routes.reports import REPORTS_DIR

log = structlog.get_logger(__name__)


class StartupError(RuntimeError):
    """Something needed to start is missing or wrong; the message names it."""


def secret_store(settings: Settings) -> SecretStore:
    return SecretStore(settings.state_dir / "secrets.json")


@dataclass(frozen=True)
class Deployment:
    """What `acd up` runs: the validated site, the Asterisk found, the rendered config."""

    settings: Settings
    site: Site
    installation: AsteriskInstallation
    secrets: SecretStore
    prompts: dict[str, dict[str, str]]
    dirs: RuntimeDirs

    def files(self, roster: list[AgentProfile]) -> dict[str, str]:
        """The Asterisk configuration for this roster, by file name (nothing written)."""
        return render(self.settings, self.site, self.installation, self.secrets,
                      self.prompts, roster)

    def render(self, roster: list[AgentProfile]) -> None:
        """(Re-)write the Asterisk configuration for this roster."""
        write_config(self.settings, self.files(roster))

    def with_flows(self, site: Site, prompts: dict[str, dict[str, str]]) -> Deployment:
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


def load_flows(settings: Settings, roster: list[AgentProfile]
               ) -> tuple[Site, dict[str, dict[str, str]]]:
    """Validate the flows against the roster and build their prompts' audio. Writes
    nothing but audio into the prompt cache; every problem is a :class:`FlowError`."""
    site = load_site(settings.flows_dir)
    check_roster(site, roster)
    try:
        prompts = build_prompts(site, settings.flows_dir, settings.sounds_dir)
    except PromptError as exc:
        raise FlowError([str(exc)]) from exc
    return site, prompts


def prepare(settings: Settings, roster: list[AgentProfile]) -> Deployment:
    """Validate the flows, find Asterisk and render the configuration (no process starts)."""
    try:
        site = load_site(settings.flows_dir)
        installation = find_installation(settings.asterisk_root)
        prompts = build_prompts(site, settings.flows_dir, settings.sounds_dir)
        check_roster(site, roster)
    except (FlowError, AsteriskUnavailable, PromptError) as exc:
        raise StartupError(str(exc)) from exc
    deployment = Deployment(settings, site, installation, secret_store(settings), prompts,
                            RuntimeDirs(settings.asterisk_dir))
    deployment.render(roster)
    return deployment


_CONTEXT = re.compile(r"^\[([^\]]+)\]", re.MULTILINE)


def applied_summary(deployment: Deployment, files: dict[str, str], reloaded: list[str],
                    now: datetime | None = None) -> dict:
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


async def load_roster(settings: Settings) -> list[AgentProfile]:
    engine = make_engine(settings.resolved_database_url)
    try:
        return await Roster(engine).all()
    finally:
        await engine.dispose()


async def migrate_database(settings: Settings) -> None:
    url = settings.resolved_database_url
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    try:
        await asyncio.wait_for(upgrade(url), 30)
    except Exception as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        raise StartupError(f"database {shown} is unreachable or unusable: "
                           f"{str(exc).splitlines()[0][:200]}") from exc


async def up(settings: Settings, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    try:
        ensure_ports_free(settings.bind_address,
                          tcp={"AMI": settings.ami_port, "gateway": settings.gateway_port},
                          udp={"SIP": settings.sip_port})
    except OSError as exc:
        raise StartupError(str(exc)) from exc
    await migrate_database(settings)
    deployment = prepare(settings, await load_roster(settings))
    dirs, secrets = deployment.dirs, deployment.secrets

    asterisk = AsteriskProcess(deployment.installation, dirs.asterisk_conf,
                               [settings.state_dir.resolve(), settings.recordings_dir.resolve(),
                                settings.voicemail_path.resolve()],
                               dirs.run / "log" / "asterisk.out")
    engine = make_engine(settings.resolved_database_url)
    roster = Roster(engine)
    runner: web.AppRunner | None = None
    recordings = store_from_settings(settings, engine)
    capture = None
    stack = contextlib.ExitStack()
    try:
        await asterisk.start()
        try:
            await asterisk.wait_ready(settings.bind_address, settings.ami_port)
        except RuntimeError as exc:
            raise StartupError(str(exc)) from exc
        queue: asyncio.Queue = asyncio.Queue()
        if settings.ami_capture_file:
            capture = stack.enter_context(open(settings.ami_capture_file, "ab"))
        ami = AmiClient(settings.bind_address, settings.ami_port, AMI_USER, secrets.get("ami"),
                        queue, capture=capture)
        controller = Controller(ami, queue, Database(engine, settings.state_dir / "spool.jsonl"),
                                deployment.agents(await roster.all()))
        controller.recordings = recordings
        on_demand.attach(ami, controller, recordings, settings.recordings_dir.resolve(),
                         lambda: deployment.site)

        config_lock = asyncio.Lock()  # one render + reload of the configuration at a time

        async def apply_roster() -> None:
            async with config_lock:
                profiles = await roster.all()
                deployment.render(profiles)
                await ami.action({"Action": "Command", "Command": "module reload res_pjsip.so"})
                await controller.update_roster(profiles)

        async def apply_flows() -> dict:
            """Load the flows again and reload Asterisk's dialplan (and queue parameters
            when they changed). Everything is checked before anything is written: a bad
            file raises FlowError and changes nothing. Calls in progress go on."""
            nonlocal deployment
            async with config_lock:
                profiles = await roster.all()
                site, prompts = await asyncio.to_thread(load_flows, settings, profiles)
                refused = live_change_problems(deployment.site, site)
                if refused:
                    raise RestartNeeded(refused)
                new = deployment.with_flows(site, prompts)
                files = await asyncio.to_thread(new.files, profiles)
                queues_conf = new.dirs.etc / "queues.conf"
                queues_changed = (not queues_conf.exists()
                                  or queues_conf.read_text("utf-8") != files["queues.conf"])
                write_config(settings, files)  # each file by temp + rename
                deployment = new
                reloaded = ["dialplan"]
                await ami.action({"Action": "Command", "Command": "dialplan reload"})
                if queues_changed:
                    await ami.action({"Action": "Command",
                                      "Command": "queue reload parameters"})
                    reloaded.append("queue parameters")
                await event_lines.push_days()  # the statuses' prompts may have changed
                summary = applied_summary(new, files, reloaded)
                log.info("ivr.applied", lines=len(site.lines), calendars=summary["calendars"],
                         reloaded=reloaded)
                return summary

        event_lines = EventLines(EventStore(engine), ami,
                                 lambda: (deployment.site, deployment.prompts),
                                 settings.sounds_dir)
        runner = web.AppRunner(create_app(controller, roster, secrets.get("api"), apply_roster,
                                          apply_flows=apply_flows, event_lines=event_lines,
                                          recordings=recordings,
                                          site=lambda: deployment.site,
                                          auth_policy=AuthPolicy.from_settings(settings)),
                               access_log=None)
        runner.app[REPORTS_DIR] = settings.reports_path
        setup_call_routes(runner.app, CallControls(
            ami, lambda: controller.calls, lambda: site_policy(deployment.site),
            controller.log_event, lambda: set(controller.agents.by_id)))
        await runner.setup()
        await web.TCPSite(runner, settings.bind_address, settings.gateway_port).start()
        log.info("stack.up", sip=f"{settings.bind_address}:{settings.sip_port}",
                 ami=f"{settings.bind_address}:{settings.ami_port}",
                 gateway=f"http://{settings.bind_address}:{settings.gateway_port}",
                 asterisk=deployment.installation.version)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(ami.run(), name="ami")
            tasks.create_task(controller.run(), name="controller")
            tasks.create_task(run_daily_purge(recordings), name="recordings")
            tasks.create_task(event_lines.run(), name="event-lines")
            tasks.create_task(ReportScheduler(
                engine, settings.reports_path, settings.report_formats.split(","),
                targets=lambda: targets_for(deployment.site)).run(), name="reports")
            stopper = tasks.create_task(stop.wait(), name="stop")
            await stopper
            raise _Stop
    except* _Stop:
        pass
    finally:
        log.info("stack.stopping")
        if runner is not None:
            await runner.cleanup()
        await recordings.drain()  # sealings (and a purge) under way finish
        await asterisk.stop()
        await engine.dispose()
        stack.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        log.info("stack.stopped")


class _Stop(Exception):
    """Raised inside the task group to cancel its tasks on a stop request."""
