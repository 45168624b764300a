"""`acd events ...`: staff change the event-information line's events through the running
stack's HTTP API (the same checks, the same push to Asterisk)."""

from __future__ import annotations

import argparse
from urllib.parse import quote, urlencode

from acd.cli.common import stack_call


def _show(item: dict) -> str:
    title = item["title_text"] or f"[{item['title_prompt']}]"
    pushed = "" if item.get("pushed", True) else \
        "  (Asterisk unreachable: announced once the controller reconnects)"
    return (f"{item['id']}\t{item['date']}\t{item['position']}\t{item['status']}\t{title}\t"
            f"by {item['updated_by']}{pushed}")


def cmd_list(args: argparse.Namespace) -> int:
    query = f"?{urlencode({'date': args.date})}" if args.date else ""
    data = stack_call("GET", f"/api/events/{quote(args.events)}{query}")
    if data is None:
        return 1
    for item in data["items"]:
        print(_show(item))
    if not data["items"]:
        print(f"no events on {data['date']}")
    return 0


def cmd_statuses(args: argparse.Namespace) -> int:
    data = stack_call("GET", "/api/event-statuses")
    if data is None:
        return 1
    for status, prompt in data.items():
        print(f"{status}\t{prompt}")
    return 0


def _send_item(method: str, path: str, args: argparse.Namespace, **extra) -> int:
    """Send an event item's given fields (those left out are not sent) and show it."""
    body = {"status": args.status, "by": args.by, "position": args.position,
            "title_text": args.title, "title_prompt": args.title_prompt, **extra}
    data = stack_call(method, path, {k: v for k, v in body.items() if v is not None})
    if data is None:
        return 1
    print(_show(data))
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    return _send_item("POST", f"/api/events/{quote(args.events)}", args, date=args.date)


def cmd_set(args: argparse.Namespace) -> int:
    return _send_item("PATCH", f"/api/events/{quote(args.events)}/{args.id}", args)


def cmd_delete(args: argparse.Namespace) -> int:
    data = stack_call("DELETE", f"/api/events/{quote(args.events)}/{args.id}?"
                 f"{urlencode({'by': args.by})}")
    if data is None:
        return 1
    print(f"deleted {data['id']}")
    return 0


def add_event_commands(sub) -> None:
    events = sub.add_parser("events", help="the event-information line's events (the stack "
                            "must be running)").add_subparsers(dest="events_command",
                                                               required=True)
    listing = events.add_parser("list", help="the events of a day (default today, Tokyo)")
    listing.add_argument("events", help="the events list (a line's 'events:')")
    listing.add_argument("--date", help="YYYY-MM-DD")
    listing.set_defaults(func=cmd_list)
    events.add_parser("statuses", help="the statuses of the flows"
                      ).set_defaults(func=cmd_statuses)
    for name, helptext, func in (("add", "add an event", cmd_add),
                                 ("set", "change an event's status, title or position",
                                  cmd_set)):
        parser = events.add_parser(name, help=helptext)
        parser.add_argument("events")
        if name == "set":
            parser.add_argument("id", type=int)
        parser.add_argument("--status", required=name == "add", help="a status id")
        title = parser.add_mutually_exclusive_group(required=name == "add")
        title.add_argument("--title", help="the title, spoken by synthesis")
        title.add_argument("--title-prompt", help="or a prompt of the flows")
        parser.add_argument("--position", type=int)
        if name == "add":
            parser.add_argument("--date", help="YYYY-MM-DD (default today, Tokyo)")
        parser.add_argument("--by", required=True, help="who makes the change")
        parser.set_defaults(func=func)
    delete = events.add_parser("delete", help="delete an event")
    delete.add_argument("events")
    delete.add_argument("id", type=int)
    delete.add_argument("--by", required=True)
    delete.set_defaults(func=cmd_delete)
