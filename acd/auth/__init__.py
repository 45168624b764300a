"""Sign-in for the consoles: password policy and hashing (:mod:`.passwords`), the
session and lock-out rules (:mod:`.policy`). The tables and queries are adapters:
:mod:`acd.adapters.users`, :mod:`acd.adapters.sessions`, :mod:`acd.adapters.access_log`."""
