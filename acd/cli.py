"""The `acd` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from acd.logging_setup import configure
from acd.settings import Settings


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"MADOGUCHI_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
                             for e in exc.errors())
        raise SystemExit(f"acd: error: bad setting: {problems}") from None


def cmd_up(args: argparse.Namespace) -> int:
    from acd.stack import StartupError, up

    settings = _settings()
    configure(settings.log_format)
    try:
        asyncio.run(up(settings))
    except StartupError as exc:
        print(f"acd: error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from acd.stack import StartupError, prepare

    settings = _settings()
    configure(settings.log_format)
    try:
        _site, installation, _secrets, dirs = prepare(settings)
    except StartupError as exc:
        print(f"acd: error: {exc}", file=sys.stderr)
        return 2
    print(f"rendered {dirs.etc} for {installation.version}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from acd.stack import StartupError, migrate_database

    settings = _settings()
    try:
        asyncio.run(migrate_database(settings))
    except StartupError as exc:
        print(f"acd: error: {exc}", file=sys.stderr)
        return 2
    print("database is at the latest schema")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from acd.ivr.loader import FlowError, load_site

    settings = _settings()
    flows_dir = Path(args.dir) if args.dir else settings.flows_dir
    try:
        site = load_site(flows_dir)
    except FlowError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    print(f"{flows_dir}: ok ({len(site.lines)} lines, {len(site.queues)} queues, "
          f"{len(site.agents)} agents)")
    return 0


def cmd_agents_credentials(args: argparse.Namespace) -> int:
    from acd.asterisk_config import agent_credentials
    from acd.ivr.loader import FlowError, load_site
    from acd.stack import secret_store

    settings = _settings()
    try:
        site = load_site(settings.flows_dir)
    except FlowError as exc:
        print(exc, file=sys.stderr)
        return 1
    creds = agent_credentials(site, secret_store(settings))
    if args.json:
        print(json.dumps([c.__dict__ for c in creds], ensure_ascii=False, indent=2))
        return 0
    print(f"SIP server {settings.bind_address}:{settings.sip_port} (UDP)")
    for c in creds:
        print(f"{c.id}\t{c.name}\tpassword={c.password}\tqueues={','.join(c.queues)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="acd", description="Madoguchi ACD/IVR engine")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="run Asterisk, the controller and the agent gateway"
                   ).set_defaults(func=cmd_up)
    sub.add_parser("render", help="render the Asterisk configuration only"
                   ).set_defaults(func=cmd_render)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    ivr = sub.add_parser("ivr", help="IVR flows").add_subparsers(dest="ivr_command", required=True)
    validate = ivr.add_parser("validate", help="check ivr_flows/*.yaml")
    validate.add_argument("dir", nargs="?", help="flows directory (default: settings)")
    validate.set_defaults(func=cmd_validate)
    agents = sub.add_parser("agents", help="agents").add_subparsers(dest="agents_command",
                                                                   required=True)
    creds = agents.add_parser("credentials", help="SIP credentials for the agents' softphones")
    creds.add_argument("--json", action="store_true")
    creds.set_defaults(func=cmd_agents_credentials)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
