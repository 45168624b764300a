"""The `acd` command: one sub-command group per module of this package."""

from __future__ import annotations

import argparse
import sys

from acd.cli.agents import add_agent_commands
from acd.cli.backup import add_backup_commands
from acd.cli.emergency import add_emergency_commands
from acd.cli.events import add_event_commands
from acd.cli.ivr import add_ivr_commands
from acd.cli.plan import add_plan_commands
from acd.cli.recordings import add_recording_commands
from acd.cli.reports import add_report_commands
from acd.cli.run import add_run_commands
from acd.cli.service import add_service_commands
from acd.cli.test_call import add_test_call_command
from acd.cli.tls import add_tls_commands
from acd.cli.users import add_user_commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="acd", description="Madoguchi ACD/IVR engine")
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_commands(sub)
    add_ivr_commands(sub)
    add_agent_commands(sub)
    add_event_commands(sub)
    add_emergency_commands(sub)
    add_recording_commands(sub)
    add_user_commands(sub)
    add_report_commands(sub)
    add_plan_commands(sub)
    add_test_call_command(sub)
    add_tls_commands(sub)
    add_backup_commands(sub)
    add_service_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
