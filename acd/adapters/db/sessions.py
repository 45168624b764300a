"""Server-side console sessions. The browser holds a random token in an HttpOnly cookie;
the database keeps only its SHA-256, the user, a per-session CSRF token and the times
that decide expiry (idle and absolute, :class:`acd.auth.policy.AuthPolicy`).

While the database is unreachable, the sessions seen before the outage go on from
memory (the same expiry rules, counted from their last use), so signed-in operators keep
working; signing in and out wait for the database."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import structlog
from sqlalchemy import (
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.db.engine import UNREACHABLE
from acd.adapters.db.schema import sessions, users
from acd.adapters.db.users import User
from acd.auth.policy import AuthPolicy, new_token, token_hash

log = structlog.get_logger(__name__)

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
        #: The sessions last seen, by token hash: what an outage of the database uses.
        self._seen: dict[str, Session] = {}

    async def create(self, user: User, remote: str | None = None) -> tuple[str, Session]:
        """A new session for ``user``: the token (given to the browser once) and the
        session."""
        token, csrf, now = new_token(), new_token(), self._clock()
        digest = token_hash(token)
        async with self.engine.begin() as conn:
            await conn.execute(insert(sessions).values(
                token_hash=digest, user_id=user.id, csrf_token=csrf, created_at=now,
                last_seen_at=now, remote=(remote or "")[:64]))
        session = Session(digest, user, csrf, now, now)
        self._remember(session)
        return token, session

    async def lookup(self, token: str) -> Session | None:
        """The live session of this token (its use noted), or None: unknown, expired
        (then removed) or its user disabled."""
        if not token or len(token) > 100:
            return None
        digest, now = token_hash(token), self._clock()
        query = (select(sessions, users).join(users, users.c.id == sessions.c.user_id)
                 .where(sessions.c.token_hash == digest))
        try:
            async with self.engine.connect() as conn:
                row = (await conn.execute(query)).mappings().first()
        except UNREACHABLE:
            if digest not in self._seen:
                raise  # unknown: the caller hears the database is away
            return self._from_memory(digest, now)
        if row is None:
            self._seen.pop(digest, None)
            return None
        if not row["enabled"] or not self.policy.session_alive(
                row["created_at"], row["last_seen_at"], now):
            await self.end(digest)
            return None
        last_seen = row["last_seen_at"]
        if now - last_seen >= TOUCH_EVERY_SECONDS:
            try:
                async with self.engine.begin() as conn:
                    await conn.execute(update(sessions).where(sessions.c.token_hash == digest)
                                       .values(last_seen_at=now))
                last_seen = now
            except UNREACHABLE:  # only a note of use: the session is good all the same
                log.warning("session.touch_failed", user=row["user_id"])
        session = Session(digest, User.from_row(row), row["csrf_token"], row["created_at"],
                          last_seen)
        self._remember(session)
        return session

    def _remember(self, session: Session) -> None:
        self._seen[session.token_hash] = session
        if len(self._seen) > 10_000:  # forget the dead ones
            now = self._clock()
            self._seen = {k: v for k, v in self._seen.items()
                          if self.policy.session_alive(v.created_at, v.last_seen_at, now)}

    def _from_memory(self, digest: str, now: float) -> Session | None:
        """The database is unreachable: a session seen before goes on, by the same rules
        of expiry."""
        known = self._seen[digest]
        if not self.policy.session_alive(known.created_at, known.last_seen_at, now):
            self._seen.pop(digest, None)
            return None
        if now - known.last_seen_at >= TOUCH_EVERY_SECONDS:
            known = replace(known, last_seen_at=now)
            self._seen[digest] = known
            log.warning("session.from_memory", user=known.user.id,
                        detail="the database is unreachable: the session seen before goes on")
        return known

    async def alive(self, digest: str) -> bool:
        """Whether a session (by hash) still lives; does not count as a use."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(sessions.c.created_at, sessions.c.last_seen_at)
                                      .where(sessions.c.token_hash == digest))).first()
        return row is not None and self.policy.session_alive(row[0], row[1], self._clock())

    async def end(self, digest: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(sessions).where(sessions.c.token_hash == digest))
        self._seen.pop(digest, None)

    async def end_all(self, user_id: str, keep: str | None = None) -> None:
        """End every session of a user (a disabled account, a changed password), but
        ``keep`` (the hash of the session that changed it)."""
        query = delete(sessions).where(sessions.c.user_id == user_id)
        if keep is not None:
            query = query.where(sessions.c.token_hash != keep)
        async with self.engine.begin() as conn:
            await conn.execute(query)
        self._seen = {k: v for k, v in self._seen.items()
                      if v.user.id != user_id or k == keep}
