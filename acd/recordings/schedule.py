"""The recordings' background work: every day at 03:00 JST, the recordings and the
personal data whose retention has ended are erased, and what an earlier run left
unsealed is sealed; every few minutes the recordings directory is swept for plain files
left behind; and all the while the recordings directories are watched, so that each
recording is sealed as soon as Asterisk has closed it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import structlog

from acd.domain.clock import JST
from acd.recordings.store import RecordingStore

log = structlog.get_logger(__name__)


def seconds_until_next(now: float, hour: int = 3, minute: int = 0) -> float:
    """Seconds from ``now`` to the next ``hour:minute`` JST (strictly in the future)."""
    local = datetime.fromtimestamp(now, JST)
    target = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    return target.timestamp() - now


async def run_daily_purge(store: RecordingStore, clock: Callable[[], float] = time.time, *,
                          hour: int = 3, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                          operator: str = "system (daily purge)",
                          sweep_every: float = 600.0) -> None:
    """Run forever: recover what an earlier run left unsealed, then every day at
    ``hour``:00 JST erase the recordings whose retention has ended, and the personal data
    of the calls whose retention has ended (:mod:`acd.recordings.personal_data`); in
    between, every ``sweep_every`` seconds, seal the plain files left on disk
    (:meth:`RecordingStore.sweep`).

    Meanwhile the store's watcher follows the recordings directories
    (:meth:`RecordingStore.watch`).

    Every failure is logged (``recording.purge_failed``, alarm) and the loop goes on.
    Cancelling it (the stack stopping) does not cut a purge short: the purge finishes in
    the background and :meth:`RecordingStore.drain` waits for it.
    """
    async def recover() -> None:
        try:
            await store.recover()
        except Exception:
            log.exception("recording.recover_failed", alarm=True)

    async def sweep() -> None:
        try:
            await store.sweep()
        except Exception:
            log.exception("recording.recover_failed", alarm=True)

    async def purge() -> None:
        try:
            result = await store.purge_expired(clock(), operator)
            if result.failed:
                log.error("recording.purge_failed", alarm=True, failed=len(result.failed),
                          first=result.failed[0][1])
        except Exception:
            log.exception("recording.purge_failed", alarm=True)
        try:  # the personal data in the database: same retention, same job
            personal = await store.personal.purge_expired(clock(), operator)
            if personal.failed:
                log.error("personal_data.purge_failed", alarm=True,
                          failed=len(personal.failed), first=personal.failed[0][1])
        except Exception:
            log.exception("personal_data.purge_failed", alarm=True)
        await recover()

    async def purge_daily() -> None:
        await asyncio.shield(store.background(recover(), "recordings-recover"))
        purge_at = clock() + seconds_until_next(clock(), hour)
        while True:
            await sleep(max(0.0, min(sweep_every, purge_at - clock())))
            if clock() < purge_at:
                await asyncio.shield(store.background(sweep(), "recordings-sweep"))
                continue
            await asyncio.shield(store.background(purge(), "recordings-purge"))
            purge_at = clock() + seconds_until_next(clock(), hour)

    # owned here: cancelled with the purge (the watch logs its own failures, never raises)
    watching = asyncio.get_running_loop().create_task(store.watch(), name="recordings-watch")
    try:
        await purge_daily()
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
