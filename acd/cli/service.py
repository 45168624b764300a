"""`acd install-service`: the systemd units of the stack and of its daily backup."""

from __future__ import annotations

import argparse
import os
import pwd
import re
import sys
from pathlib import Path

from acd.adapters.systemd import (
    DEFAULT_BACKUP_DIR,
    DEFAULT_ENV_FILE,
    SYSTEM_UNIT_DIR,
    ServiceValues,
    daemon_reload,
    render_units,
    write_example_env,
    write_units,
)
from acd.cli.common import error, load_settings
from acd.settings import PROJECT_DIR

#: What a path may hold to be written into a unit as is (systemd reads spaces, quotes,
#: backslashes and % specially).
PLAIN_PATH = re.compile(r"^/[A-Za-z0-9._/+@:=,-]*$")


def acd_executable() -> Path:
    """The ``acd`` beside the Python running this command (the virtualenv's)."""
    return Path(sys.executable).absolute().parent / "acd"


def _time(text: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a time of day (HH:MM)")
    return text


def cmd_install_service(args: argparse.Namespace) -> int:
    settings = load_settings()
    acd = acd_executable()
    if not os.access(acd, os.X_OK):
        error(f"{acd} is not an executable: run this as the acd of the installation "
              "(.venv/bin/acd install-service)")
        return 2
    if args.user is not None:
        try:
            pwd.getpwnam(args.user)
        except KeyError:
            error(f"no user {args.user!r} on this machine")
            return 2
    values = ServiceValues(acd=acd, state_dir=settings.state_dir.resolve(),
                           working_dir=PROJECT_DIR, project_dir=PROJECT_DIR,
                           env_file=args.env_file.absolute(),
                           backup_dir=args.backup_dir.absolute(), keep=args.keep,
                           backup_time=args.backup_time, user=args.user)
    for name in ("acd", "state_dir", "working_dir", "env_file", "backup_dir"):
        shown = str(getattr(values, name))
        if not PLAIN_PATH.match(shown):
            error(f"{shown} cannot go into a systemd unit as is (spaces, quotes, % or "
                  "backslashes): move it, or write the unit by hand")
            return 2
    unit_dir = args.unit_dir.absolute()
    try:
        written = write_units(render_units(values), unit_dir)
        env_written = write_example_env(values.env_file)
    except OSError as exc:
        error(f"cannot write the units: {exc}")
        return 2
    for path in written:
        print(f"written {path}")
    if env_written:
        print(f"written {values.env_file} (0600): an example; put the settings there")
    if args.user not in (None, "root"):
        print(f"warning: as {args.user}, acd up cannot start the cached Asterisk root "
              "or ban SIP password guessers (both need root); beyond loopback it refuses "
              "to start without bans")
    if unit_dir == SYSTEM_UNIT_DIR:
        why_not = daemon_reload()
        print("systemd reloaded" if why_not is None else f"not reloaded: {why_not}")
    print("next:\n"
          f"  edit {values.env_file}\n"
          "  systemctl enable --now madoguchi madoguchi-backup.timer\n"
          "  journalctl -u madoguchi -f")
    return 0


def add_service_commands(sub: argparse._SubParsersAction) -> None:
    install = sub.add_parser(
        "install-service", help="write the systemd units: madoguchi.service (acd up) and "
        "a daily backup (madoguchi-backup.service, .timer)")
    install.add_argument("--unit-dir", type=Path, default=SYSTEM_UNIT_DIR, metavar="DIR",
                         help=f"where the units go (default {SYSTEM_UNIT_DIR}; systemd is "
                         "reloaded only there)")
    install.add_argument("--user", metavar="USER",
                         help="run as this user (default root: acd up needs it)")
    install.add_argument("--env-file", type=Path, default=DEFAULT_ENV_FILE, metavar="PATH",
                         help=f"the settings of the service (default {DEFAULT_ENV_FILE}; "
                         "an example is written when missing)")
    install.add_argument("--backup-dir", type=Path, default=DEFAULT_BACKUP_DIR,
                         metavar="DIR", help="where the daily backups go "
                         f"(default {DEFAULT_BACKUP_DIR})")
    install.add_argument("--keep", type=int, default=14, metavar="N",
                         help="daily backups kept (default 14)")
    install.add_argument("--backup-time", type=_time, default="02:30", metavar="HH:MM",
                         help="when the daily backup runs (default 02:30, before the "
                         "03:00 purge)")
    install.set_defaults(func=cmd_install_service)
