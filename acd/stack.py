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

import structlog
from aiohttp import web
from sqlalchemy.engine import make_url

from acd.adapters.ami import AmiClient
from acd.adapters.asterisk_runtime import (
    AsteriskProcess,
    AsteriskUnavailable,
    ensure_ports_free,
    find_installation,
)
from acd.adapters.db import Database, make_engine
from acd.asterisk_config import AMI_USER, render, write_config
from acd.ivr.loader import FlowError, load_site
from acd.migrate import upgrade
from acd.prompts import PromptError, build_prompts
from acd.runtime import Controller
from acd.secrets import SecretStore
from acd.settings import Settings
from agent_gateway.app import create_app

log = structlog.get_logger(__name__)


class StartupError(RuntimeError):
    """Something needed to start is missing or wrong; the message names it."""


def secret_store(settings: Settings) -> SecretStore:
    return SecretStore(settings.state_dir / "secrets.json")


def prepare(settings: Settings):
    """Validate the flows, find Asterisk and render the configuration (no process starts)."""
    try:
        site = load_site(settings.flows_dir)
        installation = find_installation(settings.asterisk_root)
        prompts = build_prompts(site, settings.flows_dir, settings.sounds_dir)
    except (FlowError, AsteriskUnavailable, PromptError) as exc:
        raise StartupError(str(exc)) from exc
    secrets = secret_store(settings)
    dirs = write_config(settings, render(settings, site, installation, secrets, prompts))
    return site, installation, secrets, dirs


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
    _site, installation, secrets, dirs = prepare(settings)

    asterisk = AsteriskProcess(installation, dirs.asterisk_conf,
                               [settings.state_dir.resolve(), settings.recordings_dir.resolve()],
                               dirs.run / "log" / "asterisk.out")
    engine = make_engine(settings.resolved_database_url)
    runner: web.AppRunner | None = None
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
        controller = Controller(ami, queue, Database(engine, settings.state_dir / "spool.jsonl"))
        runner = web.AppRunner(create_app(controller), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, settings.bind_address, settings.gateway_port).start()
        log.info("stack.up", sip=f"{settings.bind_address}:{settings.sip_port}",
                 ami=f"{settings.bind_address}:{settings.ami_port}",
                 gateway=f"http://{settings.bind_address}:{settings.gateway_port}",
                 asterisk=installation.version)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(ami.run(), name="ami")
            tasks.create_task(controller.run(), name="controller")
            stopper = tasks.create_task(stop.wait(), name="stop")
            await stopper
            raise _Stop
    except* _Stop:
        pass
    finally:
        log.info("stack.stopping")
        if runner is not None:
            await runner.cleanup()
        await asterisk.stop()
        await engine.dispose()
        stack.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        log.info("stack.stopped")


class _Stop(Exception):
    """Raised inside the task group to cancel its tasks on a stop request."""
