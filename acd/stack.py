"""`acd up`: the whole stack in one process, started in order and stopped cleanly.

Order: check everything that can be checked before starting anything (flows, Asterisk
runtime, free ports, database), render the configuration, start Asterisk, then the
controller and the agent gateway. On SIGINT/SIGTERM, or when a part fails, everything
that was started is stopped in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.ami.client import AmiClient
from acd.adapters.asterisk.config import (
    AMI_USER,
    RuntimeDirs,
)
from acd.adapters.asterisk.process import (
    AsteriskProcess,
    AsteriskUnavailable,
    Listener,
    ensure_ports_free,
    find_installation,
    running_pid,
)
from acd.adapters.asterisk.prompts import PromptError, build_prompts
from acd.adapters.asterisk.queue_log import QueueLog
from acd.adapters.asterisk.trunks import TrunkSecretError
from acd.adapters.db.access_log import AccessLog
from acd.adapters.db.call_records import CallRecords
from acd.adapters.db.emergencies import EmergencyStore
from acd.adapters.db.engine import Database, make_engine
from acd.adapters.db.escalations import EscalationStore
from acd.adapters.db.event_items import EventStore
from acd.adapters.db.migrate import upgrade
from acd.adapters.db.roster import Roster
from acd.adapters.db.sessions import SessionStore
from acd.adapters.db.staff_ratings import StaffRatings
from acd.adapters.db.users import UserStore
from acd.adapters.db.voicemails import VoicemailStore
from acd.adapters.fail2ban import BanGuard, ban_problem
from acd.adapters.secrets import SecretStore
from acd.adapters.tls import server_context, site_tls_files
from acd.auth.policy import AuthPolicy
from acd.domain.agents import AgentProfile
from acd.ivr.loader import FlowError, load_site
from acd.ivr.models import Site
from acd.recordings.factory import store_from_settings
from acd.recordings.on_demand import OnDemandRecorder
from acd.recordings.schedule import run_daily_purge
from acd.recordings.sealing import failures_to_event_log
from acd.reports.scheduler import ReportScheduler
from acd.runtime import Controller
from acd.services.call_controls import CallControls
from acd.services.emergency import EmergencySwitch
from acd.services.event_line import EventLines
from acd.services.event_log import EventLog
from acd.services.flows import (
    Deployment,
    FlowsService,
    RunningFlows,
    check_roster,
)
from acd.settings import STRONG_SECRET_LENGTH, Settings
from agent_gateway.app import GatewayServices, create_app

log = structlog.get_logger(__name__)


class StartupError(RuntimeError):
    """Something needed to start is missing or wrong; the message names it."""


class StackFailed(RuntimeError):
    """A part died and could not be brought back: the stack stops (exit code 3) so that
    its supervisor (systemd) acts; the message names the part."""


#: Seconds before each attempt to restart an Asterisk that died under the stack.
ASTERISK_RESTART_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)


def asterisk_pid_file(settings: Settings) -> Path:
    return RuntimeDirs(settings.asterisk_dir).run / "madoguchi-asterisk.pid"


async def supervise_asterisk(asterisk: AsteriskProcess, settings: Settings) -> None:
    """Restart Asterisk whenever it dies (with backoff); :class:`StackFailed` when it
    does not come back. The controller reconnects and resynchronises by itself."""
    while True:
        code = await asterisk.wait_exit()
        log.error("asterisk.died", alarm=True, returncode=code, log=asterisk.tail_log(5))
        for attempt, delay in enumerate(ASTERISK_RESTART_DELAYS, 1):
            await asyncio.sleep(delay)
            try:
                await asterisk.start()
                await asterisk.wait_ready(settings.ami_address, settings.ami_port, 30)
            except (RuntimeError, OSError) as exc:
                log.error("asterisk.restart_failed", attempt=attempt, error=str(exc)[:300])
                await asterisk.stop()
                continue
            log.warning("asterisk.restarted", attempt=attempt, pid=asterisk.pid)
            break
        else:
            raise StackFailed(f"Asterisk died and did not start again after "
                              f"{len(ASTERISK_RESTART_DELAYS)} attempts:\n"
                              f"{asterisk.tail_log()}")


def secret_store(settings: Settings) -> SecretStore:
    return SecretStore(settings.state_dir / "secrets.json")


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
    try:
        deployment.render(roster)
    except TrunkSecretError as exc:
        raise StartupError(str(exc)) from exc
    return deployment


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


def gateway_services(engine: AsyncEngine, db: Database, controller: Controller,
                     roster: Roster, api_token: str, apply_roster: Callable[[], Awaitable[None]],
                     site: Callable[[], Site | None], auth_policy: AuthPolicy,
                     reports_dir: Path, **features: Any) -> GatewayServices:
    """The stores of the gateway over ``engine`` (the access log written through ``db``,
    spooled while the database is away); ``features``: the optional services
    (apply_flows, event_lines, emergency, recordings, call_controls)."""
    access = AccessLog(engine, writer=db.save_access)
    return GatewayServices(
        controller=controller, api_token=api_token, roster=roster, apply_roster=apply_roster,
        users=UserStore(engine, auth_policy, access), sessions=SessionStore(engine, auth_policy),
        access_log=access, auth_policy=auth_policy, escalations=EscalationStore(engine),
        staff_ratings=StaffRatings(engine),
        voicemails=VoicemailStore(engine), call_records=CallRecords(engine), site=site,
        reports_dir=reports_dir, **features)


def listeners(settings: Settings, adopting: bool) -> list[Listener]:
    """Every port `acd up` opens (Asterisk's only when it is not adopted)."""
    mine: list[Listener] = [("gateway", settings.gateway_address, settings.gateway_port, "tcp")]
    if adopting:
        return mine
    sip = settings.sip_address
    return mine + [("AMI", settings.ami_address, settings.ami_port, "tcp"),
                   ("SIP", sip, settings.sip_port, "udp"),
                   ("SIP", sip, settings.sip_port, "tcp"),
                   ("SIP TLS", sip, settings.sip_tls_port, "tcp")]


async def up(settings: Settings, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    # an Asterisk an earlier controller left running holds SIP and AMI: it is adopted
    adopting = running_pid(asterisk_pid_file(settings)) is not None
    try:
        ensure_ports_free(listeners(settings, adopting))
    except OSError as exc:
        raise StartupError(str(exc)) from exc
    await migrate_database(settings)
    deployment = prepare(settings, await load_roster(settings))
    dirs, secrets = deployment.dirs, deployment.secrets
    exposed = settings.exposure_problems(secrets.shorter_than(STRONG_SECRET_LENGTH))
    no_bans = ban_problem()
    if no_bans and not settings.sip_on_loopback:
        exposed.append(f"SIP password guessers cannot be banned: {no_bans}")
    if exposed:
        raise StartupError("refusing to listen beyond loopback: " + "; ".join(exposed))
    running = RunningFlows(deployment)

    recordings_dirs = (settings.recordings_dir.resolve(), settings.voicemail_path.resolve())
    asterisk = AsteriskProcess(deployment.installation, dirs.asterisk_conf,
                               [settings.state_dir.resolve(), *recordings_dirs],
                               dirs.run / "log" / "asterisk.out", asterisk_pid_file(settings),
                               writable=recordings_dirs)
    engine = make_engine(settings.resolved_database_url)
    roster = Roster(engine)
    runner: web.AppRunner | None = None

    async def seal_what_waited() -> None:  # the database is back after an outage
        await recordings.recover(older_than=0.0)

    db = Database(engine, settings.state_dir / "spool.jsonl", on_recovered=seal_what_waited)
    event_log = EventLog(db)
    recordings = store_from_settings(settings, engine, retention_for=running.retention_days,
                                     on_failure=failures_to_event_log(event_log.append))
    capture = None
    bans: BanGuard | None = None
    stack = contextlib.ExitStack()
    try:
        if not asterisk.adopt():
            await asterisk.start()
        try:
            await asterisk.wait_ready(settings.ami_address, settings.ami_port)
        except RuntimeError as exc:
            raise StartupError(str(exc)) from exc
        if no_bans:
            log.error("bans.unavailable", alarm=True, reason=no_bans)
        else:
            bans = BanGuard(settings, dirs.run / "log" / "security.log")
        queue: asyncio.Queue = asyncio.Queue()
        if settings.ami_capture_file:
            capture = stack.enter_context(
                await asyncio.to_thread(open, settings.ami_capture_file, "ab"))
        ami = AmiClient(settings.ami_address, settings.ami_port, AMI_USER, secrets.get("ami"),
                        queue, capture=capture)
        on_demand = OnDemandRecorder(ami, lambda: controller.calls, recordings,
                                     settings.recordings_dir.resolve(), running.recording_policy,
                                     event_log.append)
        controller = Controller(ami, queue, db, deployment.agents(await roster.all()),
                                event_log=event_log, recordings=recordings, on_demand=on_demand,
                                queue_log=QueueLog(dirs.run / "log" / "queue_log"))

        event_lines = EventLines(EventStore(engine), ami, running.site_and_prompts,
                                 settings.sounds_dir)
        emergency = EmergencySwitch(EmergencyStore(engine), ami, running.site_and_prompts,
                                    settings.sounds_dir)

        async def flows_applied() -> None:  # lines and prompts may have changed
            await event_lines.push_days()
            await emergency.write()

        flows = FlowsService(settings, running, roster, asterisk.console,
                             roster_changed=controller.update_roster,
                             flows_applied=flows_applied)
        call_controls = CallControls(ami, lambda: controller.calls, running.transfer_policy,
                                     event_log.append, lambda: set(controller.agents.by_id),
                                     presented=running.presented_number,
                                     trunk=running.outgoing_trunk)
        services = gateway_services(
            engine, db, controller, roster, secrets.get("api"), flows.apply_roster,
            running.current_site, AuthPolicy.from_settings(settings), settings.reports_path,
            apply_flows=flows.apply_flows, event_lines=event_lines, emergency=emergency,
            recordings=recordings, call_controls=call_controls)
        runner = web.AppRunner(create_app(services), access_log=None)
        await runner.setup()
        https = server_context(site_tls_files(settings)) if settings.gateway_https else None
        await web.TCPSite(runner, settings.gateway_address, settings.gateway_port,
                          ssl_context=https).start()
        log.info("stack.up", sip=f"{settings.sip_address}:{settings.sip_port}",
                 sip_tls=f"{settings.sip_address}:{settings.sip_tls_port}",
                 ami=f"{settings.ami_address}:{settings.ami_port}",
                 gateway=settings.gateway_url,
                 asterisk=deployment.installation.version)
        async with asyncio.TaskGroup() as tasks:
            db.resume()  # a spool an earlier run left is written back
            tasks.create_task(ami.run(), name="ami")
            tasks.create_task(supervise_asterisk(asterisk, settings), name="asterisk")
            if bans is not None:
                tasks.create_task(bans.run(), name="bans")
            tasks.create_task(controller.run(), name="controller")
            tasks.create_task(run_daily_purge(recordings), name="recordings")
            tasks.create_task(event_lines.run(), name="event-lines")
            tasks.create_task(emergency.run(), name="emergency")
            tasks.create_task(ReportScheduler(
                engine, settings.reports_path, settings.report_formats.split(","),
                targets=running.targets).run(), name="reports")
            stopper = tasks.create_task(stop.wait(), name="stop")
            await stopper
            raise _Stop
    except* _Stop:
        pass
    except* StackFailed as failed:
        raise failed.exceptions[0] from None
    finally:
        log.info("stack.stopping")
        if runner is not None:
            await runner.cleanup()
        await recordings.drain()  # sealings (and a purge) under way finish
        await asterisk.stop()
        if bans is not None:
            await bans.stop()
        if not await db.flush(timeout=10):
            log.error("stack.spool_kept", alarm=True, spool=str(settings.state_dir /
                      "spool.jsonl"), note="written back at the next start")
        await engine.dispose()
        stack.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        log.info("stack.stopped")


class _Stop(Exception):
    """Raised inside the task group to cancel its tasks on a stop request."""
