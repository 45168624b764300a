"""Backups of a centre: the data (database, recordings, flows in the state directory)
and, apart, the keys (recording keys, secrets, TLS); verified before any restore."""

from acd.services.backup.create import Made, back_up_data, back_up_keys, dated, prune
from acd.services.backup.manifest import BackupError, Kind, verify
from acd.services.backup.restore import restore

__all__ = ["BackupError", "Kind", "Made", "back_up_data", "back_up_keys", "dated", "prune",
           "restore", "verify"]
