"""Where each part of a backup lives: on this machine (from the settings) and in the
backup's directory.

A data backup holds the database snapshot (``database/``), the recordings directory
(``recordings/``: sealed files, voicemail under it by default), the voicemail directory
when it is elsewhere (``voicemail/``) and the flows when they live in the state directory
(``flows/``; flows kept in git are not state). A keys backup holds the recording keyring
(``keys/``, or ``keys.json`` for a keyring in one file), ``secrets.json`` (AMI, API, SIP
passwords) and ``tls/`` (the local CA and its key).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from acd.settings import Settings

DATABASE_DIR = "database"


@dataclass(frozen=True)
class Part:
    name: str  #: its file or directory in the backup
    path: Path  #: where it lives here


def keyring_path(settings: Settings) -> Path:
    return settings.recording_keys_dir or settings.state_dir / "keys"


def _within(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def data_parts(settings: Settings) -> list[Part]:
    """The directories a data backup copies (whether or not they exist yet)."""
    parts = [Part("recordings", settings.recordings_dir)]
    if not _within(settings.voicemail_path, settings.recordings_dir):
        parts.append(Part("voicemail", settings.voicemail_path))
    if _within(settings.flows_dir, settings.state_dir):
        parts.append(Part("flows", settings.flows_dir))
    return parts


def data_target(settings: Settings, name: str) -> Path:
    """Where the part ``name`` of a data backup goes on this machine."""
    targets = {"recordings": settings.recordings_dir, "voicemail": settings.voicemail_path,
               "flows": settings.flows_dir}
    return targets[name]


def key_parts(settings: Settings) -> list[Part]:
    """The keys, secrets and certificates a keys backup copies."""
    keyring = keyring_path(settings)
    return [Part("keys.json" if keyring.suffix == ".json" else "keys", keyring),
            Part("secrets.json", settings.state_dir / "secrets.json"),
            Part("tls", settings.tls_dir)]
