"""The pid of the Asterisk a stack in ``state_dir`` runs (from the stack's pid file)."""

from __future__ import annotations

from pathlib import Path

from acd.adapters.asterisk.process import running_pid


def asterisk_pid(state_dir: Path) -> int | None:
    return running_pid(state_dir / "asterisk" / "madoguchi-asterisk.pid")
