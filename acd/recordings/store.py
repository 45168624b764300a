"""The recording store: the one object the controller, the gateway and the CLI hold.

A thin façade over the parts of the feature, built together on one engine, keyring and
clock:

* :class:`~acd.recordings.sealing.Sealer` — seal a call's files after the call, recover
  what was left unsealed;
* :class:`~acd.recordings.archive.Archive` — search and play, access-logged;
* :class:`~acd.recordings.purge.Purger` — the retention purge, erasure before the time,
  key destruction;
* :class:`~acd.recordings.certificate_issue.CertificateIssuer` — the erasure certificate;
* :class:`~acd.recordings.personal_data.PersonalDataEraser` — the personal data of the
  calls in the database, kept as long as the recordings of their line.

Times are UNIX epoch seconds, as everywhere in the database. Dates given by people (the
CLI's ``--from 2026-04-01``, the API's ``from=``) are days in Japan Standard Time, the
time zone of the city hall (:func:`acd.domain.clock.parse_when`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.closes import CloseWatcher
from acd.recordings.archive import Archive
from acd.recordings.certificate_issue import CertificateIssuer
from acd.recordings.keyring import Keyring
from acd.recordings.models import DEFAULT_RETENTION_DAYS, Retention
from acd.recordings.personal_data import PersonalDataEraser
from acd.recordings.purge import Purger
from acd.recordings.rows import AccessLog, RecordingRows
from acd.recordings.sealing import FailureCallback, Sealer


class RecordingStore:
    """The recordings of the site: rows in the database, sealed files on disk.

    ``engine`` is the stack's (or the CLI's) async engine, ``keyring`` the recording keys
    (``<state_dir>/keys``). ``clock`` gives epoch seconds. ``retention_for(line)`` gives a
    line's retention days (the flows' ``retention_days``; ``None``: ``retention_days``).
    ``on_failure(row)`` is told of every recording that could not be sealed (the stack
    writes ``RecordingFailed`` to the call event log). ``agents_play_own``: agents may
    search and play the recordings of their own calls (the HTTP API's rule; supervisors
    and admins may play every recording). ``recordings_dir`` and ``voicemail_dir`` are
    where Asterisk writes the plain files, swept by :meth:`recover` (without them only
    the files the call records name are recovered). ``closes`` watches those directories
    to tell when Asterisk has closed a recording (:meth:`watch` runs it). The other
    arguments tune the
    :class:`~acd.recordings.sealing.Sealer`.
    """

    def __init__(self, engine: AsyncEngine, keyring: Keyring, *,
                 retention_days: int = DEFAULT_RETENTION_DAYS,
                 clock: Callable[[], float] = time.time,
                 seal_voicemail: bool = True,
                 seal_concurrency: int = 2,
                 settle_seconds: float = 0.5,
                 settle_timeout: float = 30.0,
                 unknown_writer_quiet_seconds: float = 3.0,
                 write_retries: int = 3,
                 recordings_dir: Path | None = None,
                 voicemail_dir: Path | None = None,
                 orphan_quiet_seconds: float = 120.0,
                 retention_for: Callable[[str], int | None] | None = None,
                 on_failure: FailureCallback | None = None,
                 agents_play_own: bool = False,
                 closes: CloseWatcher | None = None) -> None:
        self.engine = engine
        self.keyring = keyring
        self.clock = clock
        self.agents_play_own = agents_play_own
        self.days_for = Retention(retention_days, retention_for)
        rows = RecordingRows(engine, write_retries=write_retries)
        access = AccessLog(rows, clock)
        self.personal = PersonalDataEraser(engine, self.days_for, clock=clock)
        self.sealer = Sealer(rows, keyring, days_for=self.days_for, clock=clock,
                             seal_voicemail=seal_voicemail, seal_concurrency=seal_concurrency,
                             settle_seconds=settle_seconds, settle_timeout=settle_timeout,
                             unknown_writer_quiet_seconds=unknown_writer_quiet_seconds,
                             recordings_dir=recordings_dir, voicemail_dir=voicemail_dir,
                             orphan_quiet_seconds=orphan_quiet_seconds,
                             on_failure=on_failure, closes=closes)
        self.archive = Archive(rows, access, keyring)
        self.purger = Purger(rows, access, keyring, clock=clock)
        self.certificates = CertificateIssuer(rows, access, self.personal, clock=clock)
        # what the controller, the gateway and the CLI call, from the part that does it
        self.submit = self.sealer.submit
        self.submit_segments = self.sealer.submit_segments
        self.seal_after_call = self.sealer.seal_after_call
        self.recover = self.sealer.recover
        self.sweep = self.sealer.sweep
        #: Follow the recordings directories (inotify) until cancelled.
        self.watch = self.sealer.watch
        #: Run a coroutine (a sealing, a purge) as a task that :meth:`drain` waits for.
        self.background = self.sealer.track
        #: Wait until every sealing (and a daily purge) under way has finished: call it
        #: when stopping, before the engine is disposed.
        self.drain = self.sealer.drain
        self.get = rows.get
        self.search = self.archive.search
        self.open_for_playback = self.archive.open_for_playback
        self.log_access = access.record
        self.access_log = access.entries
        self.purge_expired = self.purger.purge_expired
        self.purge_before = self.purger.purge_before
        self.destroy_key = self.purger.destroy_key
        self.key_usage = self.purger.key_usage
        self.certificate = self.certificates.certificate

    @property
    def settle_seconds(self) -> float:
        return self.sealer.settle_seconds
