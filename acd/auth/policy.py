"""The rules of sign-in: session lifetime and lock-out, with the decisions as pure
functions of the clock (the stores in :mod:`acd.adapters` apply them)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

Role = Literal["agent", "supervisor", "admin", "viewer"]
ROLES: tuple[Role, ...] = ("agent", "supervisor", "admin", "viewer")


@dataclass(frozen=True)
class AuthPolicy:
    idle_seconds: float = 30 * 60  # a session unused this long ends
    absolute_seconds: float = 12 * 3600  # and every session ends this long after sign-in
    max_failures: int = 5  # wrong passwords in a row before the account locks
    lockout_seconds: float = 15 * 60
    secure_cookies: bool = False  # the gateway is served over https (cookies get Secure)

    @classmethod
    def from_settings(cls, settings) -> AuthPolicy:
        return cls(idle_seconds=settings.session_idle_minutes * 60,
                   absolute_seconds=settings.session_absolute_hours * 3600,
                   max_failures=settings.login_max_failures,
                   lockout_seconds=settings.login_lockout_minutes * 60,
                   secure_cookies=settings.gateway_https)

    def session_alive(self, created_at: float, last_seen_at: float, now: float) -> bool:
        return (now - last_seen_at < self.idle_seconds
                and now - created_at < self.absolute_seconds)

    def locked(self, locked_until: float | None, now: float) -> bool:
        return locked_until is not None and now < locked_until


def new_token() -> str:
    """A session or CSRF token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database keeps of a session token (a stolen table opens no session)."""
    return hashlib.sha256(token.encode()).hexdigest()
