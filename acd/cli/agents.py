"""`acd agents …` (the roster) and `acd agent …` (one agent's state in the running stack)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from acd.adapters.asterisk.config import agent_credentials
from acd.adapters.db.roster import Roster
from acd.cli.common import NOT_RUNNING, error, flows_site, gateway, load_settings, roster_call
from acd.domain.agents import AgentProfile, Membership, RosterError
from acd.stack import secret_store


def _memberships(specs: list[str], settings) -> tuple[Membership, ...]:
    """``QUEUE[:PENALTY]`` each; RosterError for a bad penalty or a queue the flows lack."""
    site = flows_site(settings)
    known = {queue.name for queue in site.queues} if site is not None else None
    result = []
    for spec in specs:
        queue, _, penalty = spec.partition(":")
        if not penalty.strip().isdigit() and penalty:
            raise RosterError("BAD_PENALTY", f"--queue {spec!r}: the penalty after ':' must "
                              "be a whole number >= 0")
        if known is not None and queue not in known:
            raise RosterError("QUEUE_UNKNOWN", f"--queue {spec!r}: no queue {queue!r} in the "
                              f"flows ({settings.flows_dir}); queues: "
                              f"{', '.join(sorted(known)) or '(none)'}")
        result.append(Membership(queue, int(penalty or 0)))
    return tuple(result)


def _roster_error(exc: RosterError) -> int:
    print(f"acd: error: {exc}", file=sys.stderr)
    return 1


def cmd_agents_add(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        profile = AgentProfile(args.id, args.name, _memberships(args.queue, settings),
                               tuple(args.language or ["ja"]))
        roster_call(settings, lambda roster: roster.add(profile))
    except RosterError as exc:
        return _roster_error(exc)
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


def cmd_agents_edit(args: argparse.Namespace) -> int:
    """Change an agent's name, queues (all replaced), languages or enable them again."""
    settings = load_settings()

    async def edit(roster: Roster) -> AgentProfile:
        profile = await roster.get(args.id)
        changed = replace(
            profile, name=args.name or profile.name,
            queues=_memberships(args.queue, settings) if args.queue else profile.queues,
            languages=tuple(args.language) if args.language else profile.languages,
            enabled=True if args.enable else profile.enabled)
        await roster.update(changed)
        return changed

    try:
        changed = roster_call(settings, edit)
    except RosterError as exc:
        return _roster_error(exc)
    gateway(settings, "POST", "/api/roster/reload")
    print(f"agent {changed.id}: {changed.name}; queues "
          f"{','.join(f'{m.queue}:{m.penalty}' for m in changed.queues)}; languages "
          f"{','.join(changed.languages)}; {'enabled' if changed.enabled else 'disabled'}")
    return 0


def cmd_agents_remove(args: argparse.Namespace) -> int:
    """Take an agent off the roster; refused while they are logged in to the running stack
    (log them out first). Call records keep the agent's id; `disable` keeps the agent."""
    settings = load_settings()
    live = gateway(settings, "GET", "/api/agents")
    state = next((a for a in live[1] if a["id"] == args.id), None) \
        if live and live[0] == 200 else None
    if state is not None and state["status"] != "logged_out":
        print(f"acd: error: agent {args.id} is {state['status']}: log them out first "
              f"(acd agent logout {args.id})", file=sys.stderr)
        return 1
    try:
        roster_call(settings, lambda roster: roster.remove(args.id))
    except RosterError as exc:
        return _roster_error(exc)
    gateway(settings, "POST", "/api/roster/reload")
    print(f"agent {args.id} removed from the roster")
    return 0


def cmd_agents_list(args: argparse.Namespace) -> int:
    settings = load_settings()
    live = gateway(settings, "GET", "/api/agents")
    states = {a["id"]: a for a in live[1]} if live and live[0] == 200 else {}
    profiles = roster_call(settings, lambda roster: roster.all(include_disabled=True))
    for p in profiles:
        live_state = states.get(p.id, {})
        state = live_state.get("status", "(stack not running)")
        if live_state.get("call"):  # the uniqueid a disposition names
            state += f" call={live_state['call']}"
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
                "complaint": args.complaint, "note": args.note, "faq_prescribed": args.faq}
    answer = gateway(settings, "POST", path, body if body is not None else {})
    if answer is None:
        error(NOT_RUNNING)
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
    edit = agents.add_parser("edit", help="change an agent's name, queues, languages")
    edit.add_argument("id")
    edit.add_argument("--name")
    edit.add_argument("--queue", action="append", metavar="QUEUE[:PENALTY]",
                      help="the agent's queues (replaces them all; repeat for several)")
    edit.add_argument("--language", action="append", choices=["ja", "en"])
    edit.add_argument("--enable", action="store_true", help="enable a disabled agent")
    edit.set_defaults(func=cmd_agents_edit)
    remove = agents.add_parser("remove", help="take an agent off the roster (logged out "
                               "first; their call records keep the id)")
    remove.add_argument("id")
    remove.set_defaults(func=cmd_agents_remove)
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
    agent.add_argument("--uniqueid", help="disposition: the call (acd agents list shows "
                       "each agent's current call)")
    agent.add_argument("--faq", action="store_true",
                       help="disposition: handled as the FAQ prescribes (一次対応率)")
    agent.add_argument("--outcome", default="完了")
    agent.add_argument("--category")
    agent.add_argument("--complaint", action="store_true")
    agent.add_argument("--note", default="")
    agent.set_defaults(func=cmd_agent_state)
