"""A clock for tests: it says what ``now`` is set to, until the test moves it."""

from __future__ import annotations


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
