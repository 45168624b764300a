"""Where operators and IVR flows may transfer a call: the admin's allow-list.

Patterns are digit strings with an optional trailing ``*`` (a prefix) and ``X`` for any
one digit, e.g. ``0570*`` (navi-dial), ``0120*`` (toll-free), ``0[789]0*`` is written as
three patterns ``070*``, ``080*``, ``090*``; ``0467XXXXXX`` a city number of ten digits.
Department names map to an extension or an external number; a department is always
allowed. A number matching no pattern is refused with :class:`TransferRefused`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NUMBER = re.compile(r"^\+?[0-9]{2,20}$")
PATTERN = re.compile(r"^[0-9X]{1,20}\*?$")


class TransferRefused(ValueError):
    """A transfer target outside the allow-list, or not a phone number at all."""

    def __init__(self, number: str, why: str) -> None:
        super().__init__(f"transfer to {number!r} refused: {why}")
        self.number, self.why = number, why


def normalize(number: str) -> str:
    """Digits only: spaces, hyphens and parentheses as people write numbers are dropped;
    a leading ``+81`` becomes the national ``0``."""
    digits = re.sub(r"[\s\-()]", "", number)
    if digits.startswith("+81"):
        digits = "0" + digits[3:]
    if not NUMBER.match(digits) or digits.startswith("+"):
        raise TransferRefused(number, "not a phone number")
    return digits


def _compile(pattern: str) -> re.Pattern[str]:
    if not PATTERN.match(pattern):
        raise ValueError(f"transfer pattern {pattern!r}: digits, X for any digit and an "
                         "optional trailing * (e.g. 0570*, 0120*, 0467XXXXXX)")
    body = pattern.removesuffix("*").replace("X", "[0-9]")
    return re.compile(f"^{body}{'[0-9]*' if pattern.endswith('*') else ''}$")


@dataclass(frozen=True)
class TransferPolicy:
    #: Allowed number patterns (see the module's docstring).
    allow: tuple[str, ...] = ()
    #: Department id -> its number (extension or external number).
    departments: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for pattern in self.allow:
            _compile(pattern)

    def resolve(self, target: str) -> str:
        """The number to dial for ``target`` (a department id or a number), or
        :class:`TransferRefused` if the allow-list does not admit it."""
        if target in self.departments:
            return self.departments[target]
        number = normalize(target)
        if any(_compile(p).match(number) for p in self.allow):
            return number
        raise TransferRefused(target, "the number matches no allowed pattern "
                              f"({', '.join(self.allow) or 'none configured'})")

    def dialplan_extensions(self) -> list[str]:
        """The allow-list as Asterisk extensions (``0570*`` -> ``_0570!``, ``0467XXXXXX``
        -> ``_0467XXXXXX``) plus the departments' numbers: the dialplan admits these and
        nothing else, so a number the controller let through is checked twice."""
        found: list[str] = []
        for pattern in self.allow:
            body = pattern.removesuffix("*")
            wild = pattern.endswith("*") or "X" in body
            exten = f"_{body}{'!' if pattern.endswith('*') else ''}" if wild else body
            if exten not in found:
                found.append(exten)
        for number in self.departments.values():
            digits = normalize(number)
            if digits not in found:
                found.append(digits)
        return found


def site_policy(site: object) -> TransferPolicy:
    """The site's policy (its ``transfers:`` section); a site without one transfers
    nowhere (every number is refused)."""
    make = getattr(site, "transfer_policy", None)
    return make() if callable(make) else TransferPolicy()
