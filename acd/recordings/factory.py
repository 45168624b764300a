"""The recording store from the settings, for the stack and the CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.closes import CloseWatcher
from acd.ivr.loader import FlowError, load_site
from acd.recordings.keyring import Keyring
from acd.recordings.models import DEFAULT_RETENTION_DAYS
from acd.recordings.sealing import FailureCallback
from acd.recordings.store import RecordingStore

log = structlog.get_logger(__name__)

RetentionLookup = Callable[[str], int | None]


def settings_values(settings: Any) -> tuple[Path, int, bool]:
    """``(keys_dir, retention_days, seal_voicemail)`` from the settings; the defaults
    (``<state_dir>/keys``, 90, True) stand in for the fields ``recording_keys_dir``,
    ``recording_retention_days`` and ``recording_seal_voicemail`` where they are absent."""
    keys_dir = getattr(settings, "recording_keys_dir", None) or settings.state_dir / "keys"
    days = getattr(settings, "recording_retention_days", None) or DEFAULT_RETENTION_DAYS
    seal_voicemail = getattr(settings, "recording_seal_voicemail", True)
    return Path(keys_dir), int(days), bool(seal_voicemail)


def retention_from_flows(settings: Any) -> RetentionLookup | None:
    """The lines' ``retention_days`` read from the flows on disk (for the CLI; the running
    stack passes those of the flows in force). ``None`` when the flows cannot be read:
    every line then has the default."""
    flows_dir = getattr(settings, "flows_dir", None)
    if flows_dir is None:
        return None
    try:
        site = load_site(Path(flows_dir))
    except (FlowError, OSError) as exc:  # a broken flow must not stop an erasure
        log.warning("recording.flows_unreadable", error=str(exc)[:200],
                    detail="every line gets the default retention")
        return None
    days = {line.did: getattr(line, "retention_days", None) for line in site.lines}
    return days.get


def store_from_settings(settings: Any, engine: AsyncEngine, *,
                        retention_for: RetentionLookup | None = None,
                        on_failure: FailureCallback | None = None,
                        **kwargs: Any) -> RecordingStore:
    """The stack's (or the CLI's) recording store, from the settings.

    ``retention_for(line DID)`` gives a line's retention days (``None``: the setting's
    default); without it they are read from the flows on disk
    (:func:`retention_from_flows`). ``on_failure(row)`` is told of every recording that
    could not be sealed. ``kwargs`` go to :class:`RecordingStore`.
    """
    keys_dir, days, seal_voicemail = settings_values(settings)
    kwargs.setdefault("seal_voicemail", seal_voicemail)
    if getattr(settings, "recordings_dir", None) is not None:  # swept for plain files
        kwargs.setdefault("recordings_dir", Path(settings.recordings_dir))
        kwargs.setdefault("voicemail_dir", Path(settings.voicemail_path))
        kwargs.setdefault("closes", CloseWatcher(
            [kwargs["recordings_dir"], kwargs["voicemail_dir"]]))
    kwargs.setdefault("agents_play_own", bool(getattr(settings, "recording_agents_play_own",
                                                      False)))
    return RecordingStore(engine, Keyring(keys_dir), retention_days=days,
                          retention_for=retention_for if retention_for is not None
                          else retention_from_flows(settings),
                          on_failure=on_failure, **kwargs)
