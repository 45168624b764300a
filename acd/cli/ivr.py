"""`acd ivr validate|apply`: the admins' flows."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from acd.cli.common import gateway, load_settings
from acd.cli.run import render_offline
from acd.ivr.loader import FlowError, load_site


def cmd_validate(args: argparse.Namespace) -> int:
    settings = load_settings()
    sources = [Path(p) for p in args.paths] if args.paths else [settings.flows_dir]
    try:
        site = load_site(sources)
    except FlowError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    print(f"{' '.join(map(str, sources))}: ok ({len(site.lines)} lines, {len(site.queues)} "
          f"queues, {len(site.prompts)} prompts)")
    return 0


def cmd_apply(args: argparse.Namespace) -> int:
    """Validate the flows, then have the running stack render them and reload its
    dialplan; when the stack is not running, validate and render only."""
    settings = load_settings()
    try:
        load_site(settings.flows_dir)  # a bad file is refused before anything is written
    except FlowError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    if gateway(settings, "GET", "/healthz") is None:  # the stack is not running
        deployment = render_offline(settings)
        if deployment is None:
            return 2
        print(f"{settings.flows_dir}: ok; rendered {deployment.dirs.etc} (the stack is not "
              "running: `acd up` loads it)")
        return 0
    answer = gateway(settings, "POST", "/api/ivr/apply", {}, timeout=120)
    if answer is None:
        print("acd: error: the running stack did not answer; look at its log",
              file=sys.stderr)
        return 2
    status, data = answer
    if status == 200:
        for line in data["lines"]:
            calendar = f"calendar {line['calendar']}" if line["calendar"] else "no calendar"
            serves = (f"events {line['events']}" if line.get("events")
                      else f"queue {line['queue']}")
            print(f"line {line['did']} {line['name']}: {serves}, {calendar}, "
                  f"{line['status_now']} now")
        print(f"applied {settings.flows_dir}: {len(data['contexts'])} dialplan contexts, "
              f"holidays compiled for {data['holiday_years'][0]}-{data['holiday_years'][1]}; "
              f"reloaded {', '.join(data['reloaded'])}")
        return 0
    data = data or {}
    print(f"acd: error: {data.get('error_id')}: {data.get('message')}", file=sys.stderr)
    details = data.get("details")
    for item in details if isinstance(details, list) else [details] if details else []:
        print(item, file=sys.stderr)
    return 1 if status in (409, 422) else 2


def add_ivr_commands(sub: argparse._SubParsersAction) -> None:
    ivr = sub.add_parser("ivr", help="IVR flows").add_subparsers(dest="ivr_command", required=True)
    validate = ivr.add_parser("validate", help="check ivr_flows/*.yaml")
    validate.add_argument("paths", nargs="*", metavar="PATH",
                          help="flows directories or files, read together as one site "
                          "(default: the flows directory of the settings)")
    validate.set_defaults(func=cmd_validate)
    ivr.add_parser("apply", help="validate the flows and load them into the running stack "
                   "(dialplan reload; calls in progress go on), or render them when it is "
                   "not running").set_defaults(func=cmd_apply)
