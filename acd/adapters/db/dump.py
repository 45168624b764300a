"""A consistent copy of the whole database, and putting one back.

SQLite: the sqlite3 online backup API copies a live database page by page into a new
file as one consistent snapshot (writers of the running stack go on meanwhile).
PostgreSQL: ``pg_dump --format=custom`` (one transaction snapshot of the database of
``DATABASE_URL``), restored with ``pg_restore --clean --if-exists --single-transaction``.
The password never appears on a command line: it goes in ``PGPASSWORD``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import inspect
from sqlalchemy.engine import URL, make_url

from acd.adapters.db.engine import UNREACHABLE, make_engine

Dialect = Literal["sqlite", "postgresql"]
#: pg_dump and pg_restore of a large database may take long; a hung one must not hang us.
PG_TOOL_TIMEOUT = 3 * 3600
#: The file name of the snapshot in a backup, by dialect.
DUMP_NAMES: dict[Dialect, str] = {"sqlite": "madoguchi.db", "postgresql": "madoguchi.pgdump"}


class DumpError(RuntimeError):
    """The database cannot be copied or put back; the message says why."""


@dataclass(frozen=True)
class DatabaseAt:
    """Where the database of a SQLAlchemy URL is."""

    url: str

    @property
    def parsed(self) -> URL:
        return make_url(self.url)

    @property
    def dialect(self) -> Dialect:
        backend = self.parsed.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise DumpError(f"unsupported database {backend!r}: SQLite or PostgreSQL only")
        return backend  # type: ignore[return-value]

    @property
    def sqlite_file(self) -> Path:
        name = self.parsed.database
        if not name or name == ":memory:":
            raise DumpError("an in-memory SQLite database cannot be backed up")
        return Path(name)

    @property
    def shown(self) -> str:
        return self.parsed.render_as_string(hide_password=True)


def dump(url: str, target: Path) -> None:
    """Write a consistent snapshot of the database at ``url`` to the new file ``target``."""
    db = DatabaseAt(url)
    if db.dialect == "sqlite":
        _sqlite_dump(db.sqlite_file, target)
    else:
        _pg_tool(db, ["pg_dump", "--format=custom", "--no-owner", f"--file={target}"])


def load(url: str, snapshot: Path, dialect: Dialect) -> None:
    """Put the snapshot ``snapshot`` (made by :func:`dump` from a ``dialect`` database)
    in place of the database at ``url``."""
    db = DatabaseAt(url)
    if db.dialect != dialect:
        raise DumpError(f"the backup holds a {dialect} database but DATABASE_URL is "
                        f"{db.dialect} ({db.shown}); restore into a {dialect} database")
    if dialect == "sqlite":
        _sqlite_load(snapshot, db.sqlite_file)
    else:
        _pg_tool(db, ["pg_restore", "--clean", "--if-exists", "--no-owner",
                      "--single-transaction", "--exit-on-error", str(snapshot)],
                 database_option=True)


async def holds_tables(url: str) -> bool:
    """True when the database at ``url`` already has tables (a SQLite file is not
    created by asking)."""
    db = DatabaseAt(url)
    if db.dialect == "sqlite" and not db.sqlite_file.exists():
        return False
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: inspect(c).get_table_names())
    except UNREACHABLE as exc:
        raise DumpError(f"database {db.shown} is unreachable: "
                        f"{str(exc).splitlines()[0][:200]}") from exc
    finally:
        await engine.dispose()
    return bool(names)


def _sqlite_dump(source: Path, target: Path) -> None:
    if not source.is_file():
        raise DumpError(f"no SQLite database at {source}")
    try:
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src, \
                closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
    except sqlite3.Error as exc:
        raise DumpError(f"cannot copy the SQLite database {source}: {exc}") from exc


def _sqlite_load(snapshot: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.restoring")
    shutil.copyfile(snapshot, partial)
    os.chmod(partial, 0o600)
    for stale in ("-wal", "-shm", "-journal"):  # of the database being replaced
        target.with_name(target.name + stale).unlink(missing_ok=True)
    os.replace(partial, target)


def _pg_tool(db: DatabaseAt, command: list[str], database_option: bool = False) -> None:
    """Run pg_dump/pg_restore on the database of ``db`` (connection in the environment)."""
    if shutil.which(command[0]) is None:
        raise DumpError(f"{command[0]} is not installed (Debian: apt-get install "
                        "postgresql-client; make setup installs it)")
    url = db.parsed
    env = dict(os.environ, PGHOST=url.host or "127.0.0.1", PGPORT=str(url.port or 5432),
               PGDATABASE=url.database or "", PGCONNECT_TIMEOUT="10")
    if url.username:
        env["PGUSER"] = url.username
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    ssl = url.query.get("ssl") or url.query.get("sslmode")
    if isinstance(ssl, str):
        env["PGSSLMODE"] = ssl
    if database_option:  # pg_restore writes SQL to stdout unless it is given a database
        command = [*command[:1], f"--dbname={url.database}", *command[1:]]
    try:
        done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=PG_TOOL_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise DumpError(f"{command[0]} of {db.shown} took longer than "
                        f"{PG_TOOL_TIMEOUT} s") from exc
    if done.returncode != 0:
        raise DumpError(f"{command[0]} of {db.shown} failed: "
                        f"{done.stderr.strip()[-500:] or done.returncode}")
