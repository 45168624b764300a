"""systemd units of Madoguchi: rendered from deploy/systemd/*.j2 with this machine's
paths, written to the unit directory, and systemd told of them.

``madoguchi.service`` runs ``acd up`` (Asterisk is its supervised child, see the unit's
comments); ``madoguchi-backup.service`` with ``madoguchi-backup.timer`` backs the data up
daily. The environment file holds the settings; an example is written when there is none.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

import jinja2

from acd.settings import PROJECT_DIR

TEMPLATES_DIR = PROJECT_DIR / "deploy" / "systemd"
SYSTEM_UNIT_DIR = Path("/etc/systemd/system")
DEFAULT_ENV_FILE = Path("/etc/madoguchi/madoguchi.env")
DEFAULT_BACKUP_DIR = Path("/var/backups/madoguchi")
UNITS = ("madoguchi.service", "madoguchi-backup.service", "madoguchi-backup.timer")


@dataclass(frozen=True)
class ServiceValues:
    """What the units name: the ``acd`` executable, the directories and the user."""

    acd: Path
    state_dir: Path
    working_dir: Path
    project_dir: Path
    env_file: Path
    backup_dir: Path
    keep: int
    backup_time: str
    user: str | None = None


def render_units(values: ServiceValues) -> dict[str, str]:
    """The text of each unit, by file name."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False)
    return {name: env.get_template(f"{name}.j2").render(asdict(values)) for name in UNITS}


def write_units(units: dict[str, str], unit_dir: Path) -> list[Path]:
    """Write (or overwrite) the units in ``unit_dir`` (0644); the files written."""
    unit_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in units.items():
        target = unit_dir / name
        partial = target.with_name(f".{name}.new")
        partial.write_text(text, encoding="utf-8")
        os.chmod(partial, 0o644)
        os.replace(partial, target)
        written.append(target)
    return written


def write_example_env(path: Path) -> bool:
    """Write the example environment file (0600, its directory 0700) unless one exists;
    True when it was written."""
    if path.exists():
        return False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write((TEMPLATES_DIR / "madoguchi.env").read_text(encoding="utf-8"))
    return True


def daemon_reload() -> str | None:
    """``systemctl daemon-reload``; None when done, else why not."""
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        return "systemctl is not installed"
    if not Path("/run/systemd/system").is_dir():
        return "systemd is not running on this machine"
    done = subprocess.run([systemctl, "daemon-reload"], capture_output=True, text=True,
                          timeout=60)
    if done.returncode != 0:
        return f"systemctl daemon-reload failed: {done.stderr.strip()[:300]}"
    return None
