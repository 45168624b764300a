"""Brute force blocked: a private fail2ban server that watches Asterisk's security log.

Why fail2ban and not the controller: a ban must hold while the controller is away, must
stop the packets before Asterisk parses them (a pjsip ACL changes only with a reload),
and fail2ban (Debian's package) already does the counting, the ban times, the unbans
after a restart (its database) and the log of every ban. The controller renders its
configuration from the settings, runs it beside Asterisk, restarts it when it dies and
says so when it cannot run (not root, no fail2ban or nft).

A banned source is dropped on the SIP ports (UDP and TCP, TLS included) by an nftables
table of this stack's own (``madoguchi_<8 hex>``), removed when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import jinja2
import structlog

from acd.settings import PROJECT_DIR, Settings

log = structlog.get_logger(__name__)

TEMPLATES_DIR = PROJECT_DIR / "asterisk_conf" / "fail2ban"
JAIL = "madoguchi-sip"
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)


def ban_problem() -> str | None:
    """Why bans cannot be enforced on this machine, or None when they can."""
    if os.geteuid() != 0:
        return "the controller is not root: it cannot add firewall rules"
    missing = [tool for tool in ("fail2ban-server", "fail2ban-client", "nft")
               if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not installed (make setup installs fail2ban, nftables)"
    return None


def left_over_server(pid_file: Path) -> int | None:
    """The pid of the fail2ban server the pid file names, if it still runs."""
    try:
        pid = int(pid_file.read_text().split()[0])
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError, IndexError):
        return None
    return pid if any(part.endswith(b"fail2ban-server") for part in command) else None


class BanGuard:
    """The fail2ban server of one stack: its configuration, process and bans."""

    def __init__(self, settings: Settings, security_log: Path) -> None:
        self.dir = settings.state_dir / "fail2ban"
        self.table = "madoguchi_" + hashlib.sha256(
            str(settings.state_dir.resolve()).encode()).hexdigest()[:8]
        ports = sorted({settings.sip_port, settings.sip_tls_port})
        self.values = {
            "dir": self.dir, "security_log": security_log, "table": self.table,
            "ports": ", ".join(map(str, ports)), "failures": settings.sip_ban_failures,
            "window": settings.sip_ban_window_minutes * 60,
            "bantime": settings.sip_ban_minutes * 60,
        }
        self._proc: asyncio.subprocess.Process | None = None

    def render(self) -> None:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
                                 undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
        for name in env.list_templates(extensions=["j2"]):
            target = self.dir / name.removesuffix(".j2")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(env.get_template(name).render(self.values), encoding="utf-8")
        os.chmod(self.dir, 0o700)

    def _client(self, *args: str) -> list[str]:
        return ["fail2ban-client", "-c", str(self.dir), *args]

    async def start(self) -> None:
        """Start the server; one an earlier controller left running (it was killed) is
        stopped first (its bans come back from its database)."""
        await self._stop_left_over()
        await asyncio.to_thread(self.render)
        with (self.dir / "server.out").open("ab") as out:
            self._proc = await asyncio.create_subprocess_exec(
                "fail2ban-server", "-f", "-x", "-c", str(self.dir), stdin=subprocess.DEVNULL,
                stdout=out, stderr=out, start_new_session=True)
        log.info("bans.started", pid=self._proc.pid, table=self.table,
                 failures=self.values["failures"], ban_seconds=self.values["bantime"])

    async def stop(self, grace: float = 10.0) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(TimeoutError, OSError):
            await asyncio.wait_for(self._run(*self._client("stop")), grace)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), grace)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        log.info("bans.stopped", returncode=proc.returncode)

    async def _stop_left_over(self) -> None:
        pid = left_over_server(self.dir / "fail2ban.pid")
        if pid is None:
            return
        log.warning("bans.left_over_stopped", pid=pid)
        with contextlib.suppress(TimeoutError, OSError):
            await asyncio.wait_for(self._run(*self._client("stop")), 10)
        for _ in range(50):
            if left_over_server(self.dir / "fail2ban.pid") != pid:
                return
            await asyncio.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)

    async def run(self) -> None:
        """Start the server and keep it running (restarted with backoff when it dies)."""
        delays = iter(RESTART_DELAYS)
        while True:
            await self.start()
            assert self._proc is not None
            code = await self._proc.wait()
            delay = next(delays, RESTART_DELAYS[-1])
            log.error("bans.server_died", alarm=True, returncode=code, retry_in=delay,
                      log=self.tail())
            await asyncio.sleep(delay)

    async def banned(self) -> list[str]:
        """The sources banned now."""
        status = await self._run(*self._client("status", JAIL))
        found = re.search(r"Banned IP list:\s*(.*)$", status, re.MULTILINE)
        return found.group(1).split() if found else []

    async def _run(self, *command: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            *command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        out, _ = await proc.communicate()
        return out.decode(errors="replace")

    def tail(self, lines: int = 10) -> str:
        try:
            text = (self.dir / "server.out").read_text(errors="replace")
        except OSError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:])
