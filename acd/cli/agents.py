"""`acd agents …` (the roster) and `acd agent …` (one agent's state in the running stack)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from acd.adapters.asterisk.config import agent_credentials
from acd.adapters.db.roster import Roster
from acd.cli.common import gateway, load_settings, roster_call
from acd.domain.agents import AgentProfile, Membership, RosterError
from acd.stack import secret_store


def _memberships(specs: list[str]) -> tuple[Membership, ...]:
    result = []
    for spec in specs:
        queue, _, penalty = spec.partition(":")
        result.append(Membership(queue, int(penalty or 0)))
    return tuple(result)


def cmd_agents_add(args: argparse.Namespace) -> int:
    settings = load_settings()
    profile = AgentProfile(args.id, args.name, _memberships(args.queue),
                           tuple(args.language or ["ja"]))
    try:
        roster_call(settings, lambda roster: roster.add(profile))
    except RosterError as exc:
        print(f"acd: error: {exc}", file=sys.stderr)
        return 1
    gateway(settings, "POST", "/api/roster/reload")
    password = secret_store(settings).get(f"sip:{args.id}")
    print(json.dumps({"id": args.id, "sip_user": args.id, "sip_password": password},
                     ensure_ascii=False) if args.json else
          f"agent {args.id} added; SIP user {args.id}, password {password}")
    return 0


def cmd_agents_disable(args: argparse.Namespace) -> int:
    settings = load_settings()

    async def disable(roster: Roster) -> None:
        profile = await roster.get(args.id)
        await roster.update(replace(profile, enabled=False))

    try:
        roster_call(settings, disable)
    except RosterError as exc:
        print(f"acd: error: {exc}", file=sys.stderr)
        return 1
    gateway(settings, "POST", "/api/roster/reload")
    print(f"agent {args.id} disabled")
    return 0


def cmd_agents_list(args: argparse.Namespace) -> int:
    settings = load_settings()
    live = gateway(settings, "GET", "/api/agents")
    states = {a["id"]: a for a in live[1]} if live and live[0] == 200 else {}
    profiles = roster_call(settings, lambda roster: roster.all(include_disabled=True))
    for p in profiles:
        state = states.get(p.id, {}).get("status", "(stack not running)")
        queues = ",".join(f"{m.queue}:{m.penalty}" for m in p.queues)
        print(f"{p.id}\t{p.name}\t{queues}\t{','.join(p.languages)}\t"
              f"{'enabled' if p.enabled else 'disabled'}\t{state}")
    return 0


def cmd_agents_credentials(args: argparse.Namespace) -> int:
    settings = load_settings()
    roster = roster_call(settings, lambda r: r.all())
    creds = agent_credentials(roster, secret_store(settings))
    if args.json:
        print(json.dumps([c.__dict__ for c in creds], ensure_ascii=False, indent=2))
        return 0
    print(f"SIP server {settings.sip_address}:{settings.sip_port} (UDP, TCP), "
          f"TLS {settings.sip_tls_port}" + (" (required, with SRTP)" if settings.agents_need_tls
                                            else ""))
    for c in creds:
        print(f"{c.id}\t{c.name}\tpassword={c.password}\tqueues={','.join(c.queues)}")
    return 0


def cmd_agent_state(args: argparse.Namespace) -> int:
    settings = load_settings()
    body = None
    path = f"/api/agents/{args.id}/{args.action}"
    if args.action == "away":
        body = {"reason": args.reason}
    elif args.action == "disposition":
        body = {"uniqueid": args.uniqueid, "outcome": args.outcome, "category": args.category,
                "complaint": args.complaint, "note": args.note}
    answer = gateway(settings, "POST", path, body if body is not None else {})
    if answer is None:
        print("acd: error: the stack is not running (start it with 'acd up')", file=sys.stderr)
        return 2
    status, data = answer
    if status >= 400:
        print(f"acd: error: {data.get('error_id')}: {data.get('message')}", file=sys.stderr)
        return 1
    reason = f" ({data['reason']})" if data["reason"] else ""
    print(f"agent {data['id']}: {data['status']}{reason}")
    return 0


def add_agent_commands(sub: argparse._SubParsersAction) -> None:
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
