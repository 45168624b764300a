"""Secrets generated at first run and kept in the state directory (outside git).

The AMI secret and each agent's SIP password are random, long and never committed.
The file is created with mode 0600.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path


class SecretStore:
    def __init__(self, path: Path) -> None:
        self._path = path

    def _load(self) -> dict[str, str]:
        if not self._path.exists():
            return {}
        return json.loads(self._path.read_text())

    def get(self, name: str) -> str:
        """The secret called ``name``, generated and saved on first use."""
        data = self._load()
        if name not in data:
            data[name] = secrets.token_urlsafe(24)
            self._save(data)
        return data[name]

    def shorter_than(self, length: int) -> list[str]:
        """The names of the secrets shorter than ``length`` (set by hand, not generated)."""
        return sorted(name for name, value in self._load().items() if len(value) < length)

    def _save(self, data: dict[str, str]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
        os.replace(tmp, self._path)
