"""The rules of sign-in: session lifetime and lock-out, with the decisions as pure
functions of the clock (the stores in :mod:`acd.adapters` apply them)."""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from dataclasses import dataclass
from typing import Literal

Role = Literal["agent", "supervisor", "admin", "viewer"]
ROLES: tuple[Role, ...] = ("agent", "supervisor", "admin", "viewer")


@dataclass(frozen=True)
class AuthPolicy:
    idle_seconds: float = 30 * 60  # a session unused this long ends
    absolute_seconds: float = 12 * 3600  # and every session ends this long after sign-in
    max_failures: int = 5  # wrong passwords in a row for one account from one source
    source_max_failures: int = 20  # wrong sign-ins from one source, whatever the account
    lockout_seconds: float = 15 * 60  # a lock lasts this long; older failures are forgotten
    secure_cookies: bool = False  # the gateway is served over https (Secure cookies, HSTS)
    #: networks (CIDR) the consoles and the API may be used from; empty: any source.
    #: This machine (loopback: the `acd` commands) is always allowed.
    console_networks: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings) -> AuthPolicy:
        return cls(idle_seconds=settings.session_idle_minutes * 60,
                   absolute_seconds=settings.session_absolute_hours * 3600,
                   max_failures=settings.login_max_failures,
                   source_max_failures=settings.login_source_max_failures,
                   lockout_seconds=settings.login_lockout_minutes * 60,
                   secure_cookies=settings.gateway_https,
                   console_networks=tuple(settings.console_networks))

    def source_allowed(self, address: str) -> bool:
        """May a request from ``address`` reach the consoles and the API?"""
        if not self.console_networks:
            return True
        try:
            source = ipaddress.ip_address(address)
        except ValueError:
            return False  # a source we cannot place (a Unix socket) is not on the list
        return source.is_loopback or any(source in ipaddress.ip_network(net)
                                         for net in self.console_networks)

    def session_alive(self, created_at: float, last_seen_at: float, now: float) -> bool:
        return (now - last_seen_at < self.idle_seconds
                and now - created_at < self.absolute_seconds)

    def failures_after_one_more(self, count: int, last_failed_at: float | None,
                                now: float) -> int:
        """The count of wrong sign-ins with one more at ``now``: failures older than the
        lock-out time are forgotten (a shared office address is not locked by a day's
        typing mistakes)."""
        if last_failed_at is None or now - last_failed_at >= self.lockout_seconds:
            return 1
        return count + 1


def new_token() -> str:
    """A session or CSRF token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database keeps of a session token (a stolen table opens no session)."""
    return hashlib.sha256(token.encode()).hexdigest()
