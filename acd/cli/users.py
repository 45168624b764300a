"""`acd users ...`: the console users (sign-in, roles), managed by an admin on the server.

Works directly on the database (the stack need not run): a disabled user's sessions end
at once, a reset password takes effect at the next sign-in.

    acd users add yamada --name 山田花子 --role agent --agent 1001
    acd users add suzuki --name 鈴木 --role supervisor --extension 2001
    acd users passwd yamada           # asks twice; --password-stdin for scripts
    acd users list
    acd users disable yamada          # enable brings them back
    acd users unlock yamada           # after a lock-out (5 wrong passwords: 15 min)
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from acd.adapters.db.access_log import AccessLog
from acd.adapters.db.engine import make_engine
from acd.adapters.db.sessions import SessionStore
from acd.adapters.db.users import UserError, UserStore
from acd.auth.policy import ROLES, AuthPolicy
from acd.cli.common import load_settings
from acd.stack import StartupError, migrate_database


def _stores(settings):

    engine = make_engine(settings.resolved_database_url)
    policy = AuthPolicy.from_settings(settings)
    return engine, UserStore(engine, policy, AccessLog(engine)), SessionStore(engine, policy)


def _run(work) -> int:
    """Migrate, then ``work(users, sessions)``; a UserError is printed (exit 1)."""

    settings = load_settings()

    async def run():
        await migrate_database(settings)
        engine, users, sessions = _stores(settings)
        try:
            return await work(users, sessions)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run()) or 0
    except UserError as exc:
        print(f"acd: error: {exc.error_id}: {exc.message}", file=sys.stderr)
        return 1
    except StartupError as exc:
        print(f"acd: error: {exc}", file=sys.stderr)
        return 2


def _read_password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("new password (12 characters or more): ")
    if getpass.getpass("again: ") != first:
        print("acd: error: the two passwords differ", file=sys.stderr)
        return None
    return first


def cmd_add(args: argparse.Namespace) -> int:
    password = _read_password(args)
    if password is None:
        return 1

    async def work(users, sessions):
        user = await users.add(args.login, args.name, args.role, password,
                               agent_id=args.agent, extension=args.extension, by="cli")
        print(f"user {user.id} added ({user.role}"
              + (f", agent {user.agent_id}" if user.agent_id else "") + ")")
    return _run(work)


def cmd_passwd(args: argparse.Namespace) -> int:
    password = _read_password(args)
    if password is None:
        return 1

    async def work(users, sessions):
        await users.set_password(args.login, password, by="cli")
        await sessions.end_all(args.login)
        print(f"password of {args.login} changed; their sessions were ended")
    return _run(work)


def cmd_list(args: argparse.Namespace) -> int:
    async def work(users, sessions):
        locked_logins = await users.locked_logins()
        for u in await users.all():
            locked = u.id in locked_logins
            print("\t".join([u.id, u.display_name, u.role, u.agent_id or "-",
                             u.extension or "-", "enabled" if u.enabled else "disabled",
                             "locked" if locked else "-"]))
    return _run(work)


def cmd_disable(args: argparse.Namespace) -> int:
    async def work(users, sessions):
        await users.set_enabled(args.login, False, by="cli")
        await sessions.end_all(args.login)
        print(f"user {args.login} disabled; their sessions were ended")
    return _run(work)


def cmd_enable(args: argparse.Namespace) -> int:
    async def work(users, sessions):
        await users.set_enabled(args.login, True, by="cli")
        print(f"user {args.login} enabled")
    return _run(work)


def cmd_unlock(args: argparse.Namespace) -> int:
    async def work(users, sessions):
        await users.unlock(args.login, by="cli")
        print(f"user {args.login} unlocked")
    return _run(work)


def add_user_commands(sub) -> None:

    users = sub.add_parser("users", help="console users: sign-in and roles").add_subparsers(
        dest="users_command", required=True)
    add = users.add_parser("add", help="add a user (asks for the password)")
    add.add_argument("login")
    add.add_argument("--name", required=True, help="display name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--agent", help="role agent: the agent id of the roster")
    add.add_argument("--extension", help="supervisor: their own phone (listen/whisper/barge)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    add.set_defaults(func=cmd_add)
    passwd = users.add_parser("passwd", help="set a user's password (ends their sessions)")
    passwd.add_argument("login")
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(func=cmd_passwd)
    users.add_parser("list", help="users, roles, state").set_defaults(func=cmd_list)
    disable = users.add_parser("disable", help="disable a user (ends their sessions)")
    disable.add_argument("login")
    disable.set_defaults(func=cmd_disable)
    enable = users.add_parser("enable", help="enable a disabled user again")
    enable.add_argument("login")
    enable.set_defaults(func=cmd_enable)
    unlock = users.add_parser("unlock", help="lift a lock-out")
    unlock.add_argument("login")
    unlock.set_defaults(func=cmd_unlock)
