"""`acd up`, `acd render`, `acd migrate`: the stack itself."""

from __future__ import annotations

import argparse
import asyncio
import sys

from acd.cli.common import load_settings
from acd.logging_setup import configure
from acd.services.flows import Deployment
from acd.settings import Settings
from acd.stack import StackFailed, StartupError, load_roster, migrate_database, prepare, up


def cmd_up(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure(settings.log_format)
    try:
        asyncio.run(up(settings))
    except StartupError as exc:
        print(f"acd: error: {exc}", file=sys.stderr)
        return 2
    except StackFailed as exc:
        print(f"acd: error: {exc}", file=sys.stderr)
        return 3
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    settings = load_settings()
    deployment = render_offline(settings)
    if deployment is None:
        return 2
    print(f"rendered {deployment.dirs.etc} for {deployment.installation.version}")
    return 0


def render_offline(settings: Settings) -> Deployment | None:
    """Migrate, read the roster and render the Asterisk configuration (no process
    starts); the Deployment, or None after printing why not."""
    configure(settings.log_format)
    try:
        asyncio.run(migrate_database(settings))
        return prepare(settings, asyncio.run(load_roster(settings)))
    except StartupError as exc:
        print(f"acd: error: {exc}", file=sys.stderr)
        return None


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        asyncio.run(migrate_database(settings))
    except StartupError as exc:
        print(f"acd: error: {exc}", file=sys.stderr)
        return 2
    print("database is at the latest schema")
    return 0


def add_run_commands(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("up", help="run Asterisk, the controller and the agent gateway"
                   ).set_defaults(func=cmd_up)
    sub.add_parser("render", help="render the Asterisk configuration only"
                   ).set_defaults(func=cmd_render)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
