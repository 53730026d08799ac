"""Backup and restore of the embedded default: SQLite, the local blob store, keys, schedule.

``records-service backup DEST`` (:func:`records_service.backup.take.take_backup`)
copies a consistent snapshot of a running service into a directory: the database
through SQLite's online backup API, the blobs incrementally (objects never change,
so only new ones are copied), the audit signing key and the retention schedule,
with a manifest of every file's SHA-256 (:mod:`records_service.backup.manifest`).
``records-service restore SOURCE`` (:func:`records_service.backup.restore.restore_backup`)
checks the manifest, refuses a target that already holds data, puts the files
back, and :func:`records_service.backup.restore.check_restored` reports the checks
that follow (store against catalogue, full fixity, audit verification).

PostgreSQL and S3 have their own, better tools (see docs/recovery.md); both
commands refuse those settings (:func:`records_service.backup.target.embedded_target`).
"""

from __future__ import annotations

from records_service.backup.target import BackupRefused

__all__ = ["BackupRefused"]
