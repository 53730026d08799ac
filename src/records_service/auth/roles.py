"""Which roles may do what: the one table every route and page checks."""

from __future__ import annotations

from enum import StrEnum

from records_service.auth.models import Role


class Permission(StrEnum):
    """An action guarded by roles."""

    READ = "read"
    CAPTURE = "capture"
    EDIT_METADATA = "edit_metadata"
    MANAGE_CONTRACTS = "manage_contracts"
    SEE_SENSITIVE = "see_sensitive"
    READ_AUDIT = "read_audit"
    MANAGE_RETENTION = "manage_retention"
    MANAGE_IMPORTS = "manage_imports"
    MANAGE_USERS = "manage_users"


_ALL = frozenset(Role)

GRANTS: dict[Permission, frozenset[Role]] = {
    Permission.READ: _ALL,
    Permission.CAPTURE: frozenset({Role.STAFF, Role.RECORDS_MANAGER, Role.ADMIN}),
    Permission.EDIT_METADATA: frozenset({Role.STAFF, Role.RECORDS_MANAGER, Role.ADMIN}),
    Permission.MANAGE_CONTRACTS: frozenset({Role.STAFF, Role.RECORDS_MANAGER, Role.ADMIN}),
    Permission.SEE_SENSITIVE: frozenset(
        {Role.REVIEWER, Role.RECORDS_MANAGER, Role.AUDITOR, Role.ADMIN}
    ),
    Permission.READ_AUDIT: frozenset({Role.AUDITOR, Role.RECORDS_MANAGER, Role.ADMIN}),
    Permission.MANAGE_RETENTION: frozenset({Role.RECORDS_MANAGER, Role.ADMIN}),
    # Import batches, their reports and records (the import itself is a command).
    Permission.MANAGE_IMPORTS: frozenset({Role.RECORDS_MANAGER, Role.ADMIN}),
    Permission.MANAGE_USERS: frozenset({Role.ADMIN}),
}


def allows(roles: frozenset[Role], permission: Permission) -> bool:
    """Whether any of ``roles`` grants ``permission``."""
    return bool(roles & GRANTS[permission])
