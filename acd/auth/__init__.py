"""Sign-in for the consoles: password policy and hashing (:mod:`.passwords`), the
session and lock-out rules (:mod:`.policy`). The tables and queries are adapters:
:mod:`acd.adapters.db.users`, :mod:`acd.adapters.db.sessions`, :mod:`acd.adapters.db.access_log`."""
