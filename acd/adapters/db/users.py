"""The console users: who may sign in, with which role, and the lock-out after repeated
wrong passwords. Passwords are kept only as argon2id hashes (:mod:`acd.auth.passwords`).

Roles: ``agent`` (one agent of the roster: ``agent_id``), ``supervisor`` (may give a
SIP ``extension``: their own phone for listen/whisper/barge), ``admin``, ``viewer`` (city
staff: reports and the escalation list, read only).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from sqlalchemy import (
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.db import access_log as actions
from acd.adapters.db.access_log import AccessLog
from acd.adapters.db.schema import users
from acd.adapters.db.sign_in_failures import Lock, SignInFailures
from acd.auth.passwords import (
    DUMMY_HASH,
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)
from acd.auth.policy import ROLES, AuthPolicy
from acd.domain.actor import Actor, Role
from acd.domain.problems import Refused

LOGIN_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,39}$"


@dataclass(frozen=True)
class User:
    id: str
    display_name: str
    role: str
    agent_id: str | None
    extension: str | None
    enabled: bool
    password_changed_at: float
    created_at: float

    @classmethod
    def from_row(cls, row) -> User:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})

    def actor(self) -> Actor:
        """The user as the one who acts (the role is one of ROLES, checked on adding)."""
        return Actor(self.id, cast(Role, self.role), self.agent_id)


class UserError(Refused):
    """A request about users that cannot be done."""


class SignInRefused(UserError):
    pass


class UserStore:
    def __init__(self, engine: AsyncEngine, policy: AuthPolicy, access: AccessLog,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.policy = policy
        self.access = access
        self._clock = clock
        self.failures = SignInFailures(engine, policy)

    # ------------------------------------------------------------ admin

    async def add(self, login: str, display_name: str, role: str, password: str, *,
                  agent_id: str | None = None, extension: str | None = None,
                  by: str | None = None) -> User:
        if not re.fullmatch(LOGIN_PATTERN, login):
            raise UserError("BAD_LOGIN", "a login is 2-40 letters, digits, '.', '_', '@' or "
                            "'-', starting with a letter or digit")
        if role not in ROLES:
            raise UserError("BAD_ROLE", f"role must be one of {', '.join(ROLES)}")
        if (role == "agent") != (agent_id is not None):
            raise UserError("AGENT_ID", "an agent user needs --agent (the agent id of the "
                            "roster); other roles have none")
        if not display_name.strip():
            raise UserError("BAD_NAME", "a display name is required")
        self._check_strength(password, login, display_name)
        digest = await asyncio.to_thread(hash_password, password)
        now = self._clock()
        async with self.engine.begin() as conn:
            if (await conn.execute(select(users.c.id).where(users.c.id == login))).first():
                raise UserError("USER_EXISTS", f"user {login} already exists")
            if agent_id is not None and (await conn.execute(
                    select(users.c.id).where(users.c.agent_id == agent_id))).first():
                raise UserError("AGENT_TAKEN", f"agent {agent_id} already has a user")
            await conn.execute(insert(users).values(
                id=login, display_name=display_name.strip(), role=role, agent_id=agent_id,
                extension=extension, password_hash=digest,
                password_changed_at=now, enabled=True, created_at=now))
        await self.access.write(actions.USER_ADDED, by, subject=f"user:{login}",
                                detail=f"role={role}")
        return await self._require(login)

    async def get(self, login: str) -> User | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.id == login))
                   ).mappings().first()
        return User.from_row(row) if row else None

    async def all(self) -> list[User]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(users).order_by(users.c.id))).mappings().all()
        return [User.from_row(r) for r in rows]

    async def _require(self, login: str) -> User:
        user = await self.get(login)
        if user is None:
            raise UserError("USER_UNKNOWN", f"no user {login}")
        return user

    async def set_enabled(self, login: str, enabled: bool, by: str | None = None) -> None:
        await self._require(login)
        async with self.engine.begin() as conn:
            await conn.execute(update(users).where(users.c.id == login).values(enabled=enabled))
        if not enabled:
            await self.access.write(actions.USER_DISABLED, by, subject=f"user:{login}")

    async def unlock(self, login: str, by: str | None = None) -> None:
        await self._require(login)
        await self.failures.forget(login)
        await self.access.write(actions.USER_UNLOCKED, by, subject=f"user:{login}")

    def _check_strength(self, password: str, login: str, name: str) -> None:
        problems = password_problems(password, login=login, name=name)
        if problems:
            raise UserError("WEAK_PASSWORD", "; ".join(problems), problems)

    async def set_password(self, login: str, new: str, *, current: str | None = None,
                           remote: str | None = None, by: str | None = None) -> None:
        """Change a password. A user changing their own gives ``current`` (checked); an
        admin resetting it (CLI) does not."""
        user = await self._require(login)
        if current is not None:
            async with self.engine.connect() as conn:
                stored = (await conn.execute(select(users.c.password_hash).where(
                    users.c.id == login))).scalar_one()
            if not await asyncio.to_thread(verify_password, stored, current):
                raise UserError("BAD_CURRENT_PASSWORD", "the current password is wrong")
            if new == current:
                raise UserError("SAME_PASSWORD", "the new password must differ from the "
                                "current one")
        self._check_strength(new, login, user.display_name)
        digest = await asyncio.to_thread(hash_password, new)
        async with self.engine.begin() as conn:
            await conn.execute(update(users).where(users.c.id == login).values(
                password_hash=digest, password_changed_at=self._clock()))
        await self.failures.forget(login)
        await self.access.write(actions.PASSWORD_CHANGED, by or login, remote=remote,
                                subject=f"user:{login}")

    # ------------------------------------------------------------ sign-in

    async def sign_in(self, login: str, password: str, remote: str | None = None) -> User:
        """The user, if the password is right and the account usable; else
        :class:`SignInRefused` (``BAD_CREDENTIALS``, ``LOCKED`` or ``SOURCE_LOCKED``),
        logged either way. ``max_failures`` wrong passwords in a row for one account from
        one source lock that account *from that source* for ``lockout_seconds``, and
        ``source_max_failures`` from one source (any accounts) lock the source; while
        locked even the right password is refused."""
        now, source = self._clock(), remote or ""
        lock = await self.failures.lock(login, source, now)
        if lock is not None:
            await self.access.write(actions.SIGN_IN_LOCKED, login[:40], remote=remote,
                                    detail=lock.kind)
            raise self._locked_error(lock)
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.id == login))
                   ).mappings().first()
        stored = row["password_hash"] if row else DUMMY_HASH
        right = await asyncio.to_thread(verify_password, stored, password)
        if row is None or not row["enabled"] or not right:
            why = ("unknown login" if row is None else "disabled" if not row["enabled"]
                   else "wrong password")
            await self.access.write(actions.SIGN_IN_FAILED, login[:40], remote=remote,
                                    detail=why)
            usable = row is not None and row["enabled"]
            started = await self.failures.count(login if usable else None, source, now)
            for new_lock in started:
                limit = (self.policy.max_failures if new_lock.kind == "account"
                         else self.policy.source_max_failures)
                await self.access.write(actions.LOCKED, login[:40], remote=remote,
                                        detail=f"{new_lock.kind}: {limit} wrong sign-ins")
            if started:
                raise self._locked_error(started[-1])
            raise SignInRefused("BAD_CREDENTIALS", "wrong login or password")
        await self.failures.forget(login, source)
        if needs_rehash(stored):
            digest = await asyncio.to_thread(hash_password, password)
            async with self.engine.begin() as conn:
                await conn.execute(update(users).where(users.c.id == login).values(
                    password_hash=digest))
        await self.access.write(actions.SIGN_IN, login, remote=remote)
        return await self._require(login)

    async def locked_logins(self) -> set[str]:
        """Accounts locked from at least one source now."""
        return await self.failures.locked_logins(self._clock())

    def _locked_error(self, lock: Lock) -> SignInRefused:
        minutes = max(1, round((lock.until - self._clock()) / 60))
        if lock.kind == "source":
            return SignInRefused("SOURCE_LOCKED", f"too many wrong sign-ins from this "
                                 f"address; try again in {minutes} min", {"minutes": minutes})
        return SignInRefused("LOCKED", f"this account is locked after repeated wrong "
                             f"passwords; try again in {minutes} min or ask an admin",
                             {"minutes": minutes})
