"""`acd emergency ...`: supervisors put a line, or every line, on an emergency
announcement and take it off, through the running stack's HTTP API."""

from __future__ import annotations

import argparse
import getpass
from datetime import datetime
from urllib.parse import quote, urlencode

from acd.cli.common import error, stack_call
from acd.domain.clock import TOKYO
from acd.domain.emergency import ALL_LINES, MODES


def _when(epoch: float | None) -> str:
    return datetime.fromtimestamp(epoch, TOKYO).strftime("%Y-%m-%d %H:%M:%S") \
        if epoch is not None else "-"


def _show(switch: dict) -> str:
    said = switch["text"] or f"[{switch['prompt']}]"
    scope = "every line" if switch["line"] == ALL_LINES else f"line {switch['line']}"
    end = f" until {_when(switch['until'])}" if switch["until"] else ""
    off = f"; off {_when(switch['off_at'])} by {switch['off_by']}" if switch["off_at"] else ""
    return (f"{switch['id']}\t{scope}\t{switch['mode']}\t{said}\ton {_when(switch['on_at'])} "
            f"by {switch['on_by']}{end}{off}")


def _written(data: dict) -> str:
    return "" if data.get("written", True) else \
        "  (Asterisk unreachable now: in force once the controller reconnects)"


def _until(raw: str | None) -> str | None:
    """An end time as given (ISO), in Tokyo time when it names no zone."""
    if raw is None:
        return None
    moment = datetime.fromisoformat(raw)
    return (moment if moment.tzinfo else moment.replace(tzinfo=TOKYO)).isoformat()


def cmd_on(args: argparse.Namespace) -> int:
    try:
        until = _until(args.until)
    except ValueError:
        error(f"--until {args.until!r} is not a time (e.g. 2026-12-04T18:00)")
        return 2
    body = {"line": args.line, "mode": args.mode, "prompt": args.prompt, "text": args.text,
            "language": args.language, "until": until, "by": args.by}
    data = stack_call("POST", "/api/emergency", {k: v for k, v in body.items() if v is not None})
    if data is None:
        return 1
    print(_show(data) + _written(data))
    return 0


def cmd_off(args: argparse.Namespace) -> int:
    data = stack_call("DELETE", f"/api/emergency/{quote(args.line)}?"
                      f"{urlencode({'by': args.by})}")
    if data is None:
        return 1
    print(_show(data) + _written(data))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    data = stack_call("GET", "/api/emergency")
    if data is None:
        return 1
    for switch in data["in_force"]:
        print(_show(switch))
    if not data["in_force"]:
        print("no emergency announcement is on")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    data = stack_call("GET", f"/api/emergency/history?limit={args.limit}")
    if data is None:
        return 1
    for switch in data["switches"]:
        print(_show(switch))
    return 0


def add_emergency_commands(sub) -> None:
    emergency = sub.add_parser(
        "emergency", help="the emergency announcement of a line or of every line (the stack "
        "must be running)").add_subparsers(dest="emergency_command", required=True)
    on = emergency.add_parser("on", help="put a line (or every line) on an announcement")
    on.add_argument("line", help=f"a line's number, or '{ALL_LINES}'")
    said = on.add_mutually_exclusive_group(required=True)
    said.add_argument("--text", help="the announcement, spoken by synthesis")
    said.add_argument("--prompt", help="or a prompt of the flows")
    on.add_argument("--mode", choices=MODES, default="continue",
                    help="after the announcement: the normal flow (default), hang up, or "
                    "record a message")
    on.add_argument("--language", help="the synthesis language (default: the line's)")
    on.add_argument("--until", help="end time, e.g. 2026-12-04T18:00 (Tokyo time)")
    on.add_argument("--by", default=getpass.getuser(), help="who switches (default: you)")
    on.set_defaults(func=cmd_on)
    off = emergency.add_parser("off", help="take the announcement off")
    off.add_argument("line", help=f"a line's number, or '{ALL_LINES}'")
    off.add_argument("--by", default=getpass.getuser(), help="who switches (default: you)")
    off.set_defaults(func=cmd_off)
    emergency.add_parser("status", help="the announcements on now").set_defaults(func=cmd_status)
    history = emergency.add_parser("history", help="every switch, latest first")
    history.add_argument("--limit", type=int, default=50)
    history.set_defaults(func=cmd_history)
