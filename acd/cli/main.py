"""The `acd` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from acd.cli.events import add_event_commands
from acd.cli.recordings import add_recording_commands
from acd.cli.reports import add_report_commands
from acd.cli.users import add_user_commands
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
    settings = _settings()
    deployment = _render_offline(settings)
    if deployment is None:
        return 2
    print(f"rendered {deployment.dirs.etc} for {deployment.installation.version}")
    return 0


def _render_offline(settings: Settings):
    """Migrate, read the roster and render the Asterisk configuration (no process
    starts); the Deployment, or None after printing why not."""
    from acd.stack import StartupError, load_roster, migrate_database, prepare

    configure(settings.log_format)
    try:
        asyncio.run(migrate_database(settings))
        return prepare(settings, asyncio.run(load_roster(settings)))
    except StartupError as exc:
        print(f"acd: error: {exc}", file=sys.stderr)
        return None


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
          f"{len(site.prompts)} prompts)")
    return 0


def cmd_apply(args: argparse.Namespace) -> int:
    """Validate the flows, then have the running stack render them and reload its
    dialplan; when the stack is not running, validate and render only."""
    from acd.ivr.loader import FlowError, load_site

    settings = _settings()
    try:
        load_site(settings.flows_dir)  # a bad file is refused before anything is written
    except FlowError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    if _gateway(settings, "GET", "/healthz") is None:  # the stack is not running
        deployment = _render_offline(settings)
        if deployment is None:
            return 2
        print(f"{settings.flows_dir}: ok; rendered {deployment.dirs.etc} (the stack is not "
              "running: `acd up` loads it)")
        return 0
    answer = _gateway(settings, "POST", "/api/ivr/apply", {}, timeout=120)
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


def _roster_call(settings: Settings, work):
    from acd.adapters.db.engine import make_engine
    from acd.adapters.db.roster import Roster
    from acd.stack import migrate_database

    async def run():
        await migrate_database(settings)
        engine = make_engine(settings.resolved_database_url)
        try:
            return await work(Roster(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _gateway(settings: Settings, method: str, path: str, body: dict | None = None,
             timeout: float = 10):
    """Call the running stack's API; (status, json) or None when it is not running."""
    import urllib.error
    import urllib.request

    from acd.stack import secret_store

    request = urllib.request.Request(
        f"http://{settings.bind_address}:{settings.gateway_port}{path}", method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {secret_store(settings).get('api')}",
                 "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
    except OSError:
        return None


def _memberships(specs: list[str]):
    from acd.domain.agents import Membership

    result = []
    for spec in specs:
        queue, _, penalty = spec.partition(":")
        result.append(Membership(queue, int(penalty or 0)))
    return tuple(result)


def cmd_agents_add(args: argparse.Namespace) -> int:
    from acd.adapters.db.roster import RosterError
    from acd.domain.agents import AgentProfile

    settings = _settings()
    profile = AgentProfile(args.id, args.name, _memberships(args.queue),
                           tuple(args.language or ["ja"]))
    try:
        _roster_call(settings, lambda roster: roster.add(profile))
    except RosterError as exc:
        print(f"acd: error: {exc}", file=sys.stderr)
        return 1
    _gateway(settings, "POST", "/api/roster/reload")
    from acd.stack import secret_store

    password = secret_store(settings).get(f"sip:{args.id}")
    print(json.dumps({"id": args.id, "sip_user": args.id, "sip_password": password},
                     ensure_ascii=False) if args.json else
          f"agent {args.id} added; SIP user {args.id}, password {password}")
    return 0


def cmd_agents_disable(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from acd.adapters.db.roster import RosterError

    settings = _settings()

    async def disable(roster):
        profile = await roster.get(args.id)
        await roster.update(replace(profile, enabled=False))

    try:
        _roster_call(settings, disable)
    except RosterError as exc:
        print(f"acd: error: {exc}", file=sys.stderr)
        return 1
    _gateway(settings, "POST", "/api/roster/reload")
    print(f"agent {args.id} disabled")
    return 0


def cmd_agents_list(args: argparse.Namespace) -> int:
    settings = _settings()
    live = _gateway(settings, "GET", "/api/agents")
    states = {a["id"]: a for a in live[1]} if live and live[0] == 200 else {}
    profiles = _roster_call(settings, lambda roster: roster.all(include_disabled=True))
    for p in profiles:
        state = states.get(p.id, {}).get("status", "(stack not running)")
        queues = ",".join(f"{m.queue}:{m.penalty}" for m in p.queues)
        print(f"{p.id}\t{p.name}\t{queues}\t{','.join(p.languages)}\t"
              f"{'enabled' if p.enabled else 'disabled'}\t{state}")
    return 0


def cmd_agents_credentials(args: argparse.Namespace) -> int:
    from acd.adapters.asterisk.config import agent_credentials
    from acd.stack import secret_store

    settings = _settings()
    roster = _roster_call(settings, lambda r: r.all())
    creds = agent_credentials(roster, secret_store(settings))
    if args.json:
        print(json.dumps([c.__dict__ for c in creds], ensure_ascii=False, indent=2))
        return 0
    print(f"SIP server {settings.bind_address}:{settings.sip_port} (UDP)")
    for c in creds:
        print(f"{c.id}\t{c.name}\tpassword={c.password}\tqueues={','.join(c.queues)}")
    return 0


def cmd_agent_state(args: argparse.Namespace) -> int:
    settings = _settings()
    body = None
    path = f"/api/agents/{args.id}/{args.action}"
    if args.action == "away":
        body = {"reason": args.reason}
    elif args.action == "disposition":
        body = {"uniqueid": args.uniqueid, "outcome": args.outcome, "category": args.category,
                "complaint": args.complaint, "note": args.note}
    answer = _gateway(settings, "POST", path, body if body is not None else {})
    if answer is None:
        print("acd: error: the stack is not running (start it with 'acd up')", file=sys.stderr)
        return 2
    status, data = answer
    if status >= 400:
        print(f"acd: error: {data.get('error_id')}: {data.get('message')}", file=sys.stderr)
        return 1
    print(f"agent {data['id']}: {data['status']}" + (f" ({data['reason']})" if data["reason"] else ""))
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
    ivr.add_parser("apply", help="validate the flows and load them into the running stack "
                   "(dialplan reload; calls in progress go on), or render them when it is "
                   "not running").set_defaults(func=cmd_apply)
    agents = sub.add_parser("agents", help="the agent roster").add_subparsers(
        dest="agents_command", required=True)
    add = agents.add_parser("add", help="add an agent (prints the generated SIP password)")
    add.add_argument("id")
    add.add_argument("--name", required=True)
    add.add_argument("--queue", action="append", required=True, metavar="QUEUE[:PENALTY]")
    add.add_argument("--language", action="append", choices=["ja", "en"], default=None)
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=cmd_agents_add)
    disable = agents.add_parser("disable", help="disable an agent (kept for the records)")
    disable.add_argument("id")
    disable.set_defaults(func=cmd_agents_disable)
    agents.add_parser("list", help="agents, their queues and live state"
                      ).set_defaults(func=cmd_agents_list)
    creds = agents.add_parser("credentials", help="SIP credentials for the agents' softphones")
    creds.add_argument("--json", action="store_true")
    creds.set_defaults(func=cmd_agents_credentials)
    agent = sub.add_parser("agent", help="one agent's state (the stack must be running)")
    agent.add_argument("action", choices=["login", "logout", "ready", "away", "disposition"])
    agent.add_argument("id")
    agent.add_argument("--reason", default="break", help="away reason")
    agent.add_argument("--uniqueid", help="disposition: the call")
    agent.add_argument("--outcome", default="完了")
    agent.add_argument("--category")
    agent.add_argument("--complaint", action="store_true")
    agent.add_argument("--note", default="")
    agent.set_defaults(func=cmd_agent_state)
    add_event_commands(sub)
    add_recording_commands(sub)
    add_user_commands(sub)
    add_report_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
