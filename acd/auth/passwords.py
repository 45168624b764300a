"""Passwords: argon2id hashes (argon2-cffi) and the minimum strength a new one must have.

A password must be at least :data:`MIN_LENGTH` characters and must not be a common one,
a repetition, a keyboard or counting run, or the user's own login or name -- checked after
lower-casing, so "Password1234" is as weak as "password1234". The rules follow NIST SP
800-63B: length and a deny-list rather than composition rules.
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 256

#: argon2id with argon2-cffi's RFC 9106 "low memory" profile (64 MiB, 3 passes).
_HASHER = PasswordHasher()

#: Words that make a password guessable however they are padded with digits or symbols.
COMMON_WORDS = frozenset("""
password passw0rd pass word admin administrator root user guest login welcome letmein
qwerty qwertyuiop asdfgh asdfghjkl zxcvbn zxcvbnm iloveyou monkey dragon master sunshine
princess football baseball shadow superman batman trustno abc abcdef abcdefg secret
changeme default test testing madoguchi asterisk operator supervisor agent viewer
callcenter contact center city cityhall shiyakusho tokyo japan nippon sakura
""".split())  # noqa: SIM905 (a word list reads best as words)

#: Whole passwords seen in breach lists (lower case), 12 characters or more.
COMMON_PASSWORDS = frozenset("""
123456789012 1234567890123 12345678901234 123456123456 111111111111 000000000000
qwertyuiop12 qwertyuiop123 qwerty123456 123456qwerty 1q2w3e4r5t6y 1qaz2wsx3edc
q1w2e3r4t5y6 password1234 password12345 password123456 passwordpassword
iloveyou1234 abc123abc123 abcdefghijkl asdfghjkl123 zaq12wsxcde3 qazwsxedcrfv
letmein12345 welcome12345 admin1234567 administrator changeme1234
""".split())  # noqa: SIM905

_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "abcdefghijklmnopqrstuvwxyz")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


#: A hash of nothing anyone can type: verified against when the login is unknown, so that
#: an unknown login takes as long as a wrong password.
DUMMY_HASH = hash_password("\x00 no such user \x00")


def _is_repetition(text: str) -> bool:
    """The whole text is one short piece repeated ("aaaa…", "abcabc…", "1212…")."""
    return re.fullmatch(r"(.{1,6}?)\1+", text) is not None


def _is_run(text: str) -> bool:
    """A run along a keyboard row or the alphabet/digits, forwards or backwards, maybe
    wrapped around ("234567890123")."""
    for row in _ROWS:
        ring = row * 3
        if text in ring or text in ring[::-1]:
            return True
    return False


def password_problems(password: str, *, login: str = "", name: str = "") -> list[str]:
    """What makes ``password`` too weak (empty when it is acceptable)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        problems.append(f"a password has at most {MAX_LENGTH} characters")
    lower = password.lower()
    letters = re.sub(r"[^a-z]", "", lower)
    stripped = re.sub(r"[\W\d_]+$", "", re.sub(r"^[\W\d_]+", "", lower))
    if (lower in COMMON_PASSWORDS or stripped in COMMON_WORDS
            or (letters and letters in COMMON_WORDS and len(letters) >= len(lower) / 2)):
        problems.append("this password is too common")
    elif len(set(lower)) <= 2 or _is_repetition(lower):
        problems.append("a password must not be a repeated character or pattern")
    elif _is_run(lower) or _is_run(re.sub(r"\W", "", lower)):
        problems.append("a password must not be a keyboard or counting run")
    for own in (login, name):
        own = own.strip().lower()
        if len(own) >= 3 and own in lower:
            problems.append("a password must not contain your login or name")
            break
    return problems
