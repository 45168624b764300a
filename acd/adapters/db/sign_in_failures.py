"""Wrong sign-ins and the locks they lead to, per (account, source) and per source.

An account is locked for one source only: a guesser elsewhere who knows a login cannot
lock its owner out. A source that fails too often, whatever the accounts it tries, is
refused altogether for the lock-out time. The decisions are the policy's
(:class:`~acd.auth.policy.AuthPolicy`); this store keeps the counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.db.schema import sign_in_failures as failures
from acd.auth.policy import AuthPolicy

#: The ``login`` of a source's count over every account.
ANY_LOGIN = "*"

LockKind = Literal["account", "source"]


@dataclass(frozen=True)
class Lock:
    kind: LockKind  # the account from this source, or the source for every account
    until: float


class SignInFailures:
    def __init__(self, engine: AsyncEngine, policy: AuthPolicy) -> None:
        self.engine = engine
        self.policy = policy

    async def lock(self, login: str, source: str, now: float) -> Lock | None:
        """The lock in force for ``login`` signing in from ``source``, if any (the
        source's first)."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(failures.c.login, failures.c.locked_until).where(
                failures.c.source == source, failures.c.login.in_([login, ANY_LOGIN]),
                failures.c.locked_until > now))).all()
        locks = sorted((Lock("source" if row.login == ANY_LOGIN else "account",
                             row.locked_until) for row in rows), key=lambda lock: lock.kind,
                       reverse=True)
        return locks[0] if locks else None

    async def count(self, login: str | None, source: str, now: float) -> list[Lock]:
        """Count one wrong sign-in from ``source`` (for ``login`` too when it names a
        usable account); the locks it starts."""
        started = []
        keys = [(ANY_LOGIN, self.policy.source_max_failures, "source")]
        if login is not None:
            keys.insert(0, (login, self.policy.max_failures, "account"))
        for key, limit, kind in keys:
            until = await self._one_more(key, source, limit, now)
            if until is not None:
                started.append(Lock(kind, until))  # type: ignore[arg-type]
        return started

    async def _one_more(self, login: str, source: str, limit: int, now: float
                        ) -> float | None:
        where = (failures.c.login == login, failures.c.source == source)
        for _attempt in range(2):  # a concurrent first failure may insert the row first
            try:
                async with self.engine.begin() as conn:
                    row = (await conn.execute(select(failures).where(*where))
                           ).mappings().first()
                    count = self.policy.failures_after_one_more(
                        row["failed_count"] if row else 0,
                        row["last_failed_at"] if row else None, now)
                    locked_until = (now + self.policy.lockout_seconds if count >= limit
                                    else None)
                    values = {"failed_count": 0 if locked_until else count,
                              "last_failed_at": now, "locked_until": locked_until}
                    if row is None:
                        await conn.execute(insert(failures).values(
                            login=login, source=source, **values))
                    else:
                        await conn.execute(update(failures).where(*where).values(**values))
            except IntegrityError:
                continue
            return locked_until
        return None

    async def forget(self, login: str, source: str | None = None) -> None:
        """A right password from ``source`` clears that account's count there; an admin's
        unlock (no source) clears every lock of the account."""
        condition = failures.c.login == login
        if source is not None:
            condition = condition & (failures.c.source == source)
        async with self.engine.begin() as conn:
            await conn.execute(delete(failures).where(condition))

    async def locked_logins(self, now: float) -> set[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(failures.c.login).where(
                failures.c.locked_until > now, failures.c.login != ANY_LOGIN))
            return {row.login for row in rows}
