"""What every refusal of the domain and the services looks like.

A request that cannot be met raises a :class:`Refused` (or a subclass naming its
feature): a stable ``error_id`` that programs and the tests rely on, a ``message`` for
people, optional ``details`` for programs. It never carries an HTTP status: the gateway
maps error ids to statuses once (agent_gateway/http.py)."""

from __future__ import annotations


class Refused(Exception):
    def __init__(self, error_id: str, message: str, details: object = None) -> None:
        super().__init__(message)
        self.error_id, self.message, self.details = error_id, message, details
