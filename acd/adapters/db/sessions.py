"""Server-side console sessions. The browser holds a random token in an HttpOnly cookie;
the database keeps only its SHA-256, the user, a per-session CSRF token and the times
that decide expiry (idle and absolute, :class:`acd.auth.policy.AuthPolicy`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import (
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.db.schema import sessions, users
from acd.adapters.db.users import User
from acd.auth.policy import AuthPolicy, new_token, token_hash

#: last_seen_at is written at most this often (a page polls and a socket lives long).
TOUCH_EVERY_SECONDS = 15.0


@dataclass(frozen=True)
class Session:
    token_hash: str
    user: User
    csrf_token: str
    created_at: float
    last_seen_at: float


class SessionStore:
    def __init__(self, engine: AsyncEngine, policy: AuthPolicy,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.policy = policy
        self._clock = clock

    async def create(self, user: User, remote: str | None = None) -> tuple[str, Session]:
        """A new session for ``user``: the token (given to the browser once) and the
        session."""
        token, csrf, now = new_token(), new_token(), self._clock()
        digest = token_hash(token)
        async with self.engine.begin() as conn:
            await conn.execute(insert(sessions).values(
                token_hash=digest, user_id=user.id, csrf_token=csrf, created_at=now,
                last_seen_at=now, remote=(remote or "")[:64]))
        return token, Session(digest, user, csrf, now, now)

    async def lookup(self, token: str) -> Session | None:
        """The live session of this token (its use noted), or None: unknown, expired
        (then removed) or its user disabled."""
        if not token or len(token) > 100:
            return None
        digest, now = token_hash(token), self._clock()
        query = (select(sessions, users).join(users, users.c.id == sessions.c.user_id)
                 .where(sessions.c.token_hash == digest))
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            return None
        if not row["enabled"] or not self.policy.session_alive(
                row["created_at"], row["last_seen_at"], now):
            await self.end(digest)
            return None
        last_seen = row["last_seen_at"]
        if now - last_seen >= TOUCH_EVERY_SECONDS:
            async with self.engine.begin() as conn:
                await conn.execute(update(sessions).where(sessions.c.token_hash == digest)
                                   .values(last_seen_at=now))
            last_seen = now
        return Session(digest, User.from_row(row), row["csrf_token"], row["created_at"],
                       last_seen)

    async def alive(self, digest: str) -> bool:
        """Whether a session (by hash) still lives; does not count as a use."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(sessions.c.created_at, sessions.c.last_seen_at)
                                      .where(sessions.c.token_hash == digest))).first()
        return row is not None and self.policy.session_alive(row[0], row[1], self._clock())

    async def end(self, digest: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(sessions).where(sessions.c.token_hash == digest))

    async def end_all(self, user_id: str, keep: str | None = None) -> None:
        """End every session of a user (a disabled account, a changed password), but
        ``keep`` (the hash of the session that changed it)."""
        query = delete(sessions).where(sessions.c.user_id == user_id)
        if keep is not None:
            query = query.where(sessions.c.token_hash != keep)
        async with self.engine.begin() as conn:
            await conn.execute(query)
