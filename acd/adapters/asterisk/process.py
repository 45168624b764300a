"""Find, start and stop the Asterisk that Madoguchi drives.

Asterisk is either the system's (``/usr/sbin/asterisk`` >= 20) or the self-contained
Debian root that ``make setup`` builds in the cache. In the latter case Asterisk runs
chrooted in a private mount namespace, with the state and recordings directories
bind-mounted at the same absolute paths, so every path is identical inside and outside;
the mounts vanish with the process.

Asterisk runs in a session of its own: when the controller dies, Asterisk and its calls
live on. The process writes its pid (with the kernel's start time of that pid, so that
a reused pid is not mistaken for it) to a pid file; a controller that starts while that
Asterisk still runs adopts it (:meth:`AsteriskProcess.adopt`) instead of starting a
second one, and no call is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

MIN_MAJOR = 20
MODULE_DIRS = ("usr/lib/x86_64-linux-gnu/asterisk/modules",
               "usr/lib/aarch64-linux-gnu/asterisk/modules",
               "usr/lib/asterisk/modules", "usr/lib64/asterisk/modules")


class AsteriskUnavailable(RuntimeError):
    """No usable Asterisk; the message says what is missing and how to get it."""


class AsteriskConsoleError(RuntimeError):
    """An Asterisk console command could not be run."""


#: The unprivileged user Asterisk runs as (its Debian package creates it; make setup gives
#: it a uid of its own on the host when Asterisk runs from the cached root).
RUN_USER = "asterisk"


@dataclass(frozen=True)
class AsteriskInstallation:
    root: Path | None  # a chroot holding Asterisk, or None for the system's
    version: str
    moddir: str  # paths as Asterisk sees them
    datadir: str
    owner: tuple[int, int] | None = None  # uid, gid of RUN_USER; None: runs as root
    user: str = RUN_USER

    def path(self, inside: str) -> Path:
        return (self.root / inside.lstrip("/")) if self.root else Path(inside)


def default_cache_root() -> Path:
    cache = os.environ.get("MADOGUCHI_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "madoguchi")
    return Path(cache) / "asterisk-root"


def find_installation(root: Path | None = None) -> AsteriskInstallation:
    candidates: list[Path | None] = [root] if root else [None, default_cache_root()]
    for candidate in candidates:
        binary = (candidate / "usr/sbin/asterisk") if candidate else shutil.which("asterisk")
        if not binary or not Path(binary).exists():
            continue
        version = _version(candidate, Path(binary))
        match = re.match(r"Asterisk (\d+)", version)
        if not match or int(match.group(1)) < MIN_MAJOR:
            continue
        base = candidate or Path("/")
        moddir = next(("/" + d for d in MODULE_DIRS if (base / d / "app_queue.so").exists()), None)
        if moddir is None:
            continue
        return AsteriskInstallation(candidate, version, moddir, "/usr/share/asterisk",
                                    run_user_ids(base))
    raise AsteriskUnavailable(
        f"no Asterisk >= {MIN_MAJOR} found (looked for the system's 'asterisk' and the root "
        f"{default_cache_root()}); run 'make setup' to build one (needs root and debootstrap)"
    )


def run_user_ids(base: Path) -> tuple[int, int] | None:
    """uid and gid of RUN_USER as the installation's own /etc/passwd and /etc/group say
    (the chroot's when Asterisk runs in one); None when there is no such user."""
    def ids(table: str) -> dict[str, int]:
        try:
            rows = (base / "etc" / table).read_text().splitlines()
        except OSError:
            return {}
        return {f[0]: int(f[2]) for f in (r.split(":") for r in rows) if len(f) > 2}

    uid, gid = ids("passwd").get(RUN_USER), ids("group").get(RUN_USER)
    return None if uid is None or gid is None else (uid, gid)


def hand_over(owner: tuple[int, int], run_dir: Path, writable: list[Path],
              traversed: list[Path]) -> None:
    """Give Asterisk's user what it writes: its run directory (everything in it), the
    recordings' and voicemail's directories (0700; the files in them are the sealer's);
    and let its group only traverse the directories above (g+x, no listing)."""
    uid, gid = owner
    for top in (run_dir, *writable):
        top.mkdir(parents=True, exist_ok=True)
        for folder, _subdirs, files in os.walk(top):
            os.chown(folder, uid, gid)
            os.chmod(folder, 0o700)
            if top == run_dir:
                for name in files:
                    os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)
    for path in traversed:
        os.chown(path, -1, gid)
        os.chmod(path, path.stat().st_mode & 0o7777 | 0o010)


def _version(root: Path | None, binary: Path) -> str:
    ready = root / ".madoguchi-ready" if root else None
    if ready and ready.exists():
        return ready.read_text().strip()
    done = subprocess.run([str(binary), "-V"], capture_output=True, text=True, timeout=10)
    return done.stdout.strip()


Listener = tuple[str, str, int, str]  # (what, address, port, "tcp" | "udp")


def ensure_ports_free(listeners: list[Listener]) -> None:
    """Raise OSError naming the first listening port that is taken (or whose address is
    not one of this machine's)."""
    for what, address, port, kind in listeners:
        sock = socket.socket(socket.AF_INET,
                             socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
        except OSError as exc:
            reason = "is already in use" if exc.errno == errno.EADDRINUSE \
                else f"cannot be opened: {exc.strerror}"
            raise OSError(f"{what} port {address}:{port}/{kind} {reason}") from exc
        finally:
            sock.close()


def _start_time(pid: int) -> str | None:
    """The kernel's start time of a live (not zombie) process, or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else fields[19]


def running_pid(pid_file: Path) -> int | None:
    """The pid of the Asterisk the pid file names if that very process still runs."""
    try:
        pid_text, started = pid_file.read_text().split()
    except (OSError, ValueError):
        return None
    pid = int(pid_text)
    return pid if _start_time(pid) == started else None


class AsteriskProcess:
    """One Asterisk process running the rendered configuration in ``config_dir``."""

    def __init__(self, installation: AsteriskInstallation, asterisk_conf: Path,
                 shared_dirs: list[Path], log_file: Path, pid_file: Path | None = None,
                 writable: tuple[Path, ...] = ()) -> None:
        """``shared_dirs`` are seen by Asterisk at the same paths; of them, ``writable``
        are written by Asterisk's user (besides its run directory, the parent of the
        configuration's), the others only traversed."""
        self._inst = installation
        self._conf = asterisk_conf
        self._shared = shared_dirs
        self._writable = writable
        self._log_file = log_file
        self.pid_file = pid_file or log_file.with_suffix(".pid")
        self._proc: asyncio.subprocess.Process | None = None
        self._adopted: int | None = None

    def command(self) -> list[str]:
        """Asterisk in the foreground, with umask 077: every file it writes (recordings
        from their first byte) is 0600, every directory 0700."""
        run = ["/usr/sbin/asterisk", "-f", "-n", "-C", str(self._conf)]
        if self._inst.root is None:
            binary = shutil.which("asterisk") or run[0]
            return ["sh", "-c", 'umask 077 && exec "$@"', "asterisk", binary, *run[1:]]
        root = str(self._inst.root)
        binds = " ".join(
            f'mkdir -p "{root}{d}" && mount --bind "{d}" "{root}{d}" &&' for d in self._shared)
        script = (f'mount --rbind /dev "{root}/dev" && mount -t proc proc "{root}/proc" && '
                  f'{binds} umask 077 && exec chroot "{root}" {" ".join(run)}')
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]

    @property
    def pid(self) -> int | None:
        return self._adopted or (self._proc.pid if self._proc else None)

    @property
    def running(self) -> bool:
        if self._adopted is not None:
            return _start_time(self._adopted) is not None
        return self._proc is not None and self._proc.returncode is None

    def adopt(self) -> bool:
        """Take over the Asterisk an earlier controller started, if it still runs."""
        pid = running_pid(self.pid_file)
        if pid is None:
            return False
        self._adopted = pid
        log.warning("asterisk.adopted", pid=pid, note="an earlier controller's Asterisk "
                    "still runs: its calls go on")
        return True

    def console_command(self, text: str) -> list[str]:
        """``asterisk -rx text`` on this Asterisk's control socket (a file of its run
        directory: only root and Asterisk's user reach it), inside its mount namespace
        when it runs from the self-contained root. Reloads go this way, not through AMI,
        so the controller's AMI login needs no ``command`` right."""
        run = ["/usr/sbin/asterisk", "-C", str(self._conf), "-rx", text]
        if self._inst.root is None:
            return [shutil.which("asterisk") or run[0], *run[1:]]
        return ["nsenter", "-t", str(self.pid), "-m", "--", "chroot", str(self._inst.root),
                *run]

    async def console(self, text: str, timeout: float = 20.0) -> str:
        """Run an Asterisk console command; its output. Raises AsteriskConsoleError when
        Asterisk does not run or the command fails."""
        if not self.running:
            raise AsteriskConsoleError(f"'{text}': Asterisk does not run")
        proc = await asyncio.create_subprocess_exec(
            *self.console_command(text), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise AsteriskConsoleError(f"'{text}': no answer in {timeout:.0f} s") from None
        answer = out.decode(errors="replace")
        if proc.returncode != 0:
            raise AsteriskConsoleError(f"'{text}' failed ({proc.returncode}): "
                                       f"{answer.strip()[:300]}")
        return answer

    async def wait_exit(self, poll: float = 0.5) -> int | None:
        """Wait until Asterisk exits; its exit code (None for an adopted process)."""
        if self._proc is not None and self._adopted is None:
            return await self._proc.wait()
        await self._until_gone(poll)
        return None

    async def _until_gone(self, poll: float) -> None:
        """Poll: a process that is not our child gives no exit to wait for."""
        while True:
            if not self.running:
                return
            await asyncio.sleep(poll)

    async def start(self) -> None:
        for d in self._shared:
            d.mkdir(parents=True, exist_ok=True)
        if self._inst.owner is not None and os.geteuid() == 0:
            traversed = [d for d in self._shared if d not in self._writable]
            await asyncio.to_thread(hand_over, self._inst.owner, self._conf.parent.parent,
                                    list(self._writable), traversed)
        self._log_file.parent.mkdir(parents=True, exist_ok=True)
        with self._log_file.open("ab") as out:  # a local file: opening it does not block
            self._proc = await asyncio.create_subprocess_exec(
                *self.command(), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                start_new_session=True)
        self._adopted = None
        started = _start_time(self._proc.pid)
        if started is not None:
            self.pid_file.write_text(f"{self._proc.pid} {started}\n")
        log.info("asterisk.started", pid=self._proc.pid, version=self._inst.version)

    async def wait_ready(self, host: str, ami_port: int, timeout: float = 60.0) -> None:
        """Wait until AMI accepts connections; fail with Asterisk's own words if it dies."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if not self.running:
                raise RuntimeError(f"Asterisk exited at start: {self.tail_log()}")
            try:
                _, writer = await asyncio.open_connection(host, ami_port)
                writer.close()
                await writer.wait_closed()
                return
            except OSError:
                await asyncio.sleep(0.2)
        raise RuntimeError(f"Asterisk did not open AMI on {host}:{ami_port} in {timeout:.0f} s")

    def tail_log(self, lines: int = 15) -> str:
        try:
            return "\n".join(self._log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def stop(self, grace: float = 10.0) -> None:
        if self._adopted is not None:
            await self._stop_adopted(self._adopted, grace)
            return
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        # Asterisk ignores a SIGTERM that arrives while it is still booting: repeat it.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while proc.returncode is None and loop.time() < deadline:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 1.0)
        if proc.returncode is None:
            log.warning("asterisk.kill", pid=proc.pid)
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        self.pid_file.unlink(missing_ok=True)
        log.info("asterisk.stopped", returncode=proc.returncode)

    async def _stop_adopted(self, pid: int, grace: float) -> None:
        """The same for a process that is not our child (it cannot be waited for)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self.running and loop.time() < deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            await asyncio.sleep(0.5)
        if self.running:
            log.warning("asterisk.kill", pid=pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            await self._until_gone(0.1)
        self.pid_file.unlink(missing_ok=True)
        log.info("asterisk.stopped", adopted=pid)

    async def kill(self) -> None:
        """Kill Asterisk abruptly (used to check that the controller survives it)."""
        if self.running and self.pid is not None:
            os.killpg(self.pid, signal.SIGKILL)
            await self.wait_exit(poll=0.05)
