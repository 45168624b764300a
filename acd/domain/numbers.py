"""Telephone numbers as carriers send them, in one national form for the records.

Japanese carriers present a caller as ``+81…`` (E.164), ``81…`` (E.164 without the plus)
or ``0…`` (national); a caller who dialled 186 first may arrive with that prefix, and one
who dialled 184 withheld the number (非通知). Every form becomes the national one
(``0…``); a withheld or missing number becomes ``""``.
"""

from __future__ import annotations

import re

COUNTRY = "81"
WITHHELD = ""
#: Dialled before the number: 184 withholds it, 186 presents it (for this call).
WITHHOLD_PREFIX, PRESENT_PREFIX = "184", "186"
_NATIONAL_SIGNIFICANT = re.compile(r"[1-9]\d{8,9}")  # 9-10 digits after the trunk 0


def national_number(presented: str) -> str:
    """The caller's number in national form (``0…``), ``""`` when withheld or absent.
    A number of another country keeps its ``+``; anything else is kept as it came."""
    number = presented.strip()
    if number.startswith(WITHHOLD_PREFIX) and len(number) > 10:
        return WITHHELD
    if number.startswith(PRESENT_PREFIX) and number[3:4] == "0" and len(number) > 10:
        number = number[3:]
    if number.startswith("+" + COUNTRY):
        number = number[1:]
    if number.startswith(COUNTRY) and _NATIONAL_SIGNIFICANT.fullmatch(number[2:]):
        return "0" + number[2:]
    return number
