"""The Asterisk a stack in ``state_dir`` runs: its pid (from the stack's pid file) and
its console (``asterisk -rx``, as the product itself reaches it)."""

from __future__ import annotations

from pathlib import Path

from acd.adapters.asterisk.process import AsteriskProcess, find_installation, running_pid


def asterisk_pid(state_dir: Path) -> int | None:
    return running_pid(state_dir / "asterisk" / "madoguchi-asterisk.pid")


async def asterisk_console(state_dir: Path, command: str) -> str:
    """Run an Asterisk console command against the stack's Asterisk."""
    run = state_dir / "asterisk"
    process = AsteriskProcess(find_installation(), run / "etc" / "asterisk.conf", [],
                              run / "log" / "asterisk.out", run / "madoguchi-asterisk.pid")
    assert process.adopt(), "no Asterisk runs"
    return await process.console(command)
