"""`acd backup`, `acd restore`: the centre's data and, apart, its keys."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from acd.adapters.asterisk.process import running_pid
from acd.cli.common import error, load_settings
from acd.services.backup import BackupError, Kind, back_up_data, back_up_keys, dated, prune, restore
from acd.stack import asterisk_pid_file


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value = n / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def cmd_backup(args: argparse.Namespace) -> int:
    settings = load_settings()
    kind: Kind = "keys" if args.keys else "data"
    dest = dated(args.dest) if args.dated else args.dest
    try:
        made = asyncio.run((back_up_keys if args.keys else back_up_data)(settings, dest))
        removed = prune(args.dest, kind, args.keep) if args.dated and args.keep else []
    except (BackupError, OSError) as exc:
        error(str(exc))
        return 2
    print(f"backup of the {kind} written to {made.dest}: {len(made.manifest.files)} files, "
          f"{_size(made.size)} (checksums in {made.dest / 'manifest.json'})")
    for path in made.skipped:
        print(f"  left out (still being recorded): {path}")
    for warning in made.warnings:
        print(f"  warning: {warning}")
    for old in removed:
        print(f"  removed the older backup {old}")
    if args.keys:
        print("  keep it apart from the data backups, readable by root only")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    if args.src is None and args.keys is None:
        error("give a data backup (SRC), a keys backup (--keys DIR) or both")
        return 2
    settings = load_settings()
    if running_pid(asterisk_pid_file(settings)) is not None:
        error(f"the stack runs on {settings.state_dir} (its Asterisk does): stop it first "
              "(systemctl stop madoguchi)")
        return 2
    try:
        done = asyncio.run(restore(settings, args.src, args.keys, force=args.force))
    except (BackupError, OSError) as exc:
        error(str(exc))
        return 2
    for line in done:
        print(line)
    if args.src is not None and args.keys is None:
        print("note: the recordings stay unreadable until their keys are restored too "
              "(acd restore --keys DIR)")
    print("next: acd up (or systemctl start madoguchi); it applies newer migrations")
    return 0


def add_backup_commands(sub: argparse._SubParsersAction) -> None:
    backup = sub.add_parser(
        "backup", help="back up the database, recordings and flows (or, with --keys, the "
        "keys, secrets and certificates) into a new directory with a manifest of checksums")
    backup.add_argument("dest", type=Path, metavar="DEST",
                        help="a new (or empty) directory; with --dated, the parent of one")
    backup.add_argument("--keys", action="store_true",
                        help="back up the recording keys, secrets.json and tls/ instead")
    backup.add_argument("--dated", action="store_true",
                        help="write into DEST/YYYYMMDD-HHMMSS/ (for a daily timer)")
    backup.add_argument("--keep", type=int, default=0, metavar="N",
                        help="with --dated: remove all but the N newest backups in DEST")
    backup.set_defaults(func=cmd_backup)

    rest = sub.add_parser(
        "restore", help="restore a backup into the state directory and database of the "
        "current settings (verified first; refused over an existing database)")
    rest.add_argument("src", type=Path, nargs="?", metavar="SRC",
                      help="a data backup made by 'acd backup'")
    rest.add_argument("--keys", type=Path, metavar="DIR",
                      help="a keys backup made by 'acd backup --keys'")
    rest.add_argument("--force", action="store_true",
                      help="replace an existing database and files that differ")
    rest.set_defaults(func=cmd_restore)
