"""PostgreSQL for tests: a server to use, and a fresh database per test.

:func:`postgres_server` (async; :func:`postgres_server_sync` for synchronous callers such
as a session-scoped fixture) returns a libpq-style URL for an *admin* connection,
``postgresql://postgres@127.0.0.1:<port>/<database>``, usable with ``asyncpg.connect``:

* If a server on ``host:port`` (default 127.0.0.1:5432) lets user ``postgres`` in without
  a password (trust) and may create databases, that server is used; the URL names the
  database ``test`` if it exists there, else ``postgres``.
* Otherwise a private server is started: ``initdb`` (the newest
  ``/usr/lib/postgresql/*/bin/initdb``) into a new temporary directory, run as the
  ``postgres`` OS user when we are root (initdb refuses root: ``runuser -u postgres --``),
  then ``pg_ctl start`` on a free port of 127.0.0.1 with trust auth, durability off
  (fsync, synchronous_commit, full_page_writes: it is throw-away) and its Unix socket in
  its own directory. It is stopped (``pg_ctl stop -m immediate``) and deleted when the
  Python process exits (``atexit``; a SIGKILLed test run leaves it behind). One private
  server per process and probed address is started and then reused.
* No PostgreSQL binaries: RuntimeError asking to install Debian's postgresql.

:func:`fresh_database` creates a uniquely named database on such a server and returns
its SQLAlchemy URL (``postgresql+asyncpg://...``) with an async ``drop`` function.

Every step is bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5432
ADMIN_USER = "postgres"
PREFERRED_DATABASES = ("test", "postgres")
INITDB_GLOB = "/usr/lib/postgresql/*/bin/initdb"

_private_servers: dict[tuple[str, int], str] = {}  # probed address -> private server URL


# --------------------------------------------------------------------------- server

async def postgres_server(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
                          probe_timeout: float = 5.0, start_timeout: float = 120.0) -> str:
    """An admin URL of a usable PostgreSQL server: the one on ``host:port`` if it
    accepts ``postgres`` with trust auth, otherwise a private one started for this
    process (see the module docstring)."""
    _loopback(host)
    url = await _probe(host, port, probe_timeout)
    if url is not None:
        return url
    key = (host, port)
    if key not in _private_servers:
        _private_servers[key] = await _start_private(start_timeout)
    return _private_servers[key]


def postgres_server_sync(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, **kwargs) -> str:
    """:func:`postgres_server` for synchronous code; works inside a running event loop too
    (it then runs in a helper thread with its own loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(postgres_server(host, port, **kwargs))
    result: list[str] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(asyncio.run(postgres_server(host, port, **kwargs)))
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=run, name="postgres_server")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def _loopback(host: str) -> None:
    if not host.startswith("127."):
        raise ValueError(f"{host!r} is not a loopback address; tests use 127.0.0.0/8 only")


def _url(host: str, port: int, database: str, scheme: str = "postgresql") -> str:
    return f"{scheme}://{ADMIN_USER}@{host}:{port}/{quote(database)}"


async def _probe(host: str, port: int, timeout: float) -> str | None:
    """The admin URL of the server on host:port if it is usable as is, else None."""
    for database in PREFERRED_DATABASES:
        url = _url(host, port, database)
        try:
            conn = await asyncpg.connect(url, timeout=timeout)
        except asyncpg.InvalidCatalogNameError:
            continue  # no such database: try the next one
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return None  # nothing listening, a password asked, or not PostgreSQL
        try:
            can_create = await asyncio.wait_for(conn.fetchval(
                "SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user"),
                timeout)
        finally:
            await conn.close(timeout=timeout)
        return url if can_create else None
    return None


def _free_tcp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _bindir() -> Path:
    def version(path: str) -> tuple[int, ...]:
        match = re.search(r"/postgresql/([\d.]+)/", path)
        return tuple(int(p) for p in match.group(1).split(".")) if match else (0,)

    found = sorted(glob.glob(INITDB_GLOB), key=version)
    if not found:
        raise RuntimeError(
            f"no PostgreSQL server to test with: nothing accepts user {ADMIN_USER!r} on the "
            f"probed address and no {INITDB_GLOB} to start one; install Debian's postgresql "
            "(make setup does)")
    return Path(found[-1]).parent


def _as_postgres() -> list[str]:
    """Command prefix to run PostgreSQL's tools: as the postgres OS user when root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(ADMIN_USER)
    except KeyError:
        raise RuntimeError(f"running as root, but there is no {ADMIN_USER!r} OS user to run "
                           "initdb as; install Debian's postgresql (make setup does)") from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root, but runuser (util-linux) is missing")
    return [runuser, "-u", ADMIN_USER, "--"]


async def _run(args: list[str], timeout: float, what: str) -> str:
    """Run a command; its output, or RuntimeError with that output on failure/timeout."""
    proc = await asyncio.create_subprocess_exec(
        *args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise RuntimeError(f"{what} did not finish in {timeout:.0f} s") from None
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit code {proc.returncode}):\n{text.strip()}")
    return text


class PrivatePostgres:
    """A throw-away server of our own (initdb into a temporary directory) that a test may
    stop and start again -- a database outage -- on the same port and data. Deleted at
    exit (``atexit``) at the latest."""

    def __init__(self, *, crash_safe: bool = False) -> None:
        #: crash_safe: every commit reaches the WAL before it is acknowledged, so a stop
        #: with ``-m immediate`` loses nothing acknowledged (else durability is off).
        self.crash_safe = crash_safe
        self.bindir = _bindir()
        self.prefix = _as_postgres()
        self.root = Path(tempfile.mkdtemp(prefix="madoguchi-pg-"))
        self.data, self.sockets = self.root / "data", self.root / "socket"
        self.logfile = self.root / "postgres.log"
        self.port = 0
        self._server: dict[str, object] = {}
        atexit.register(_cleanup, self.root, self.data, self.bindir, self.prefix, self._server)

    @property
    def admin_url(self) -> str:
        return _url(DEFAULT_HOST, self.port, "postgres")

    async def create(self, timeout: float = 120.0) -> str:
        """initdb and start; the admin URL."""
        self.sockets.mkdir()
        if self.prefix:  # the postgres user must own its directories
            entry = pwd.getpwnam(ADMIN_USER)
            for path in (self.root, self.sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        await _run([*self.prefix, str(self.bindir / "initdb"), "-D", str(self.data), "-U",
                    ADMIN_USER, "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"],
                   timeout, "initdb")
        self.port = _free_tcp_port(DEFAULT_HOST)
        await self.start(timeout)
        return self.admin_url

    async def start(self, timeout: float = 60.0) -> None:
        options = (f"-c listen_addresses={DEFAULT_HOST} -p {self.port} -k {self.sockets} "
                   "-c fsync=off -c full_page_writes=off"
                   + ("" if self.crash_safe else " -c synchronous_commit=off"))
        try:
            await _run([*self.prefix, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l",
                        str(self.logfile), "-o", options, "-w", "-t", str(int(timeout)),
                        "start"], timeout + 5, "pg_ctl start")
        except RuntimeError as exc:
            log = self.logfile.read_text(errors="replace")[-3000:] \
                if self.logfile.exists() else ""
            raise RuntimeError(f"{exc}\n{self.logfile}:\n{log}") from None
        self._server["running"] = True
        conn = await asyncpg.connect(self.admin_url, timeout=timeout)
        await conn.close()

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop at once (``-m immediate``: as a crash would): connections break."""
        await _run([*self.prefix, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m",
                    "immediate", "-w", "-t", str(int(timeout)), "stop"], timeout + 5,
                   "pg_ctl stop")
        self._server["running"] = False


async def _start_private(timeout: float) -> str:
    """A throw-away server for the whole run; its admin URL. Cleanup at exit."""
    return await PrivatePostgres().create(timeout)


def _cleanup(root: Path, data: Path, bindir: Path, prefix: list[str],
             server: dict[str, object]) -> None:
    """At exit: stop the private server (immediate), kill it if need be, delete its files."""
    if server.get("running"):
        with contextlib.suppress(Exception):
            subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                            "-w", "-t", "20", "stop"], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=30)
        pidfile = data / "postmaster.pid"
        with contextlib.suppress(Exception):
            if pidfile.exists():  # still there: pg_ctl could not stop it
                os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
    shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- databases

class FreshDatabase(NamedTuple):
    """``url, drop = await fresh_database(admin_url)``; ``await drop()`` when done."""

    url: str  # SQLAlchemy URL: postgresql+asyncpg://postgres@127.0.0.1:PORT/NAME
    drop: Callable[[], Awaitable[None]]
    name: str


async def fresh_database(admin_url: str, prefix: str = "madoguchi_test",
                         timeout: float = 30.0) -> FreshDatabase:
    """CREATE a new, uniquely named database on the server of ``admin_url``.

    Returns ``(url, drop, name)``: ``url`` is an SQLAlchemy asyncpg URL for it and
    ``drop()`` an async function that drops it, first ending any connection still open
    to it (``WITH (FORCE)``, PostgreSQL >= 13), so a test that forgot to dispose of its
    engine does not make cleanup fail. ``drop`` may be called more than once.
    """
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,30}", prefix):
        raise ValueError(f"database name prefix {prefix!r}: lower-case letters, digits, _")
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(admin_url, timeout=timeout)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"', timeout=timeout)
    finally:
        await conn.close(timeout=timeout)

    parts = urlsplit(admin_url)
    url = urlunsplit(("postgresql+asyncpg", parts.netloc, f"/{name}", "", ""))

    async def drop() -> None:
        admin = await asyncpg.connect(admin_url, timeout=timeout)
        try:
            if admin.get_server_version() >= (13, 0):
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                                    timeout=timeout)
            else:
                await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE datname = $1", name, timeout=timeout)
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}"', timeout=timeout)
        finally:
            await admin.close(timeout=timeout)

    return FreshDatabase(url, drop, name)


__all__ = ["FreshDatabase", "fresh_database", "postgres_server", "postgres_server_sync"]
