"""Who may use each route: the one table that tests/test_role_matrix.py holds the app to.

Every route the app serves (the API, the web pages, the documentation and static
files) has one entry, ``(method, path template) -> the identities allowed``, where
an identity is a role or ``anonymous`` (nobody signed in). A route missing from
the table fails the suite, so no new route goes out without a decision here.

The sets follow the README's "Users and roles" table, copied below as
``README_ROLES``; the test checks the copy against the README, so a change to
the roles there is reviewed here too.
"""

from __future__ import annotations

ANONYMOUS = "anonymous"
STAFF = "staff"
REVIEWER = "reviewer"
RECORDS_MANAGER = "records_manager"
AUDITOR = "auditor"
ADMIN = "admin"
ROLES = (STAFF, REVIEWER, RECORDS_MANAGER, AUDITOR, ADMIN)
IDENTITIES = (ANONYMOUS, *ROLES)

Allowed = frozenset[str]

# The README's words for each set.
EVERYONE: Allowed = frozenset(IDENTITIES)  # no sign-in needed
SIGNED_IN: Allowed = frozenset(ROLES)  # "read"
WRITERS: Allowed = frozenset({STAFF, RECORDS_MANAGER, ADMIN})  # capture, edit, contracts
# "the audit log"; reading retention findings, holds and dispositions goes with it.
AUDIT_READERS: Allowed = frozenset({RECORDS_MANAGER, AUDITOR, ADMIN})
RETENTION_MANAGERS: Allowed = frozenset({RECORDS_MANAGER, ADMIN})  # "holds, dispositions"
ADMINS: Allowed = frozenset({ADMIN})  # "users"

README_ROLES = {
    STAFF: "read, capture, edit metadata, manage contracts",
    REVIEWER: "read everything, including `OFFICIAL-SENSITIVE` records",
    RECORDS_MANAGER: "as staff and reviewer, plus holds, dispositions and the audit log",
    AUDITOR: "read everything and the audit log; never change anything",
    ADMIN: "everything, including users",
}

ROUTES: dict[tuple[str, str], Allowed] = {
    # Documentation, health and static files.
    ("GET", "/openapi.json"): EVERYONE,
    ("GET", "/docs"): EVERYONE,
    ("GET", "/docs/oauth2-redirect"): EVERYONE,
    ("GET", "/redoc"): EVERYONE,
    ("GET", "/health"): EVERYONE,
    ("GET", "/static/{path}"): EVERYONE,
    # API: contracts and their timelines.
    ("POST", "/api/contracts"): WRITERS,
    ("GET", "/api/contracts"): SIGNED_IN,
    ("GET", "/api/contracts/{reference}"): SIGNED_IN,
    ("PATCH", "/api/contracts/{reference}"): WRITERS,
    ("GET", "/api/contracts/{reference}/timeline"): SIGNED_IN,
    # API: money on a contract, and the transparency register.
    ("GET", "/api/contracts/{reference}/money"): SIGNED_IN,
    ("PUT", "/api/contracts/{reference}/award"): WRITERS,
    ("POST", "/api/contracts/{reference}/variations"): WRITERS,
    ("GET", "/api/contracts/{reference}/variations"): SIGNED_IN,
    ("POST", "/api/contracts/{reference}/instalments"): WRITERS,
    ("GET", "/api/contracts/{reference}/instalments"): SIGNED_IN,
    ("POST", "/api/contracts/{reference}/payments"): WRITERS,
    ("GET", "/api/contracts/{reference}/payments"): SIGNED_IN,
    ("POST", "/api/contracts/{reference}/payments/{payment_id}/invoice"): WRITERS,
    ("POST", "/api/contracts/{reference}/spend"): WRITERS,
    ("GET", "/api/contracts/{reference}/spend"): SIGNED_IN,
    ("POST", "/api/contracts/{reference}/recoveries"): WRITERS,
    ("GET", "/api/contracts/{reference}/recoveries"): SIGNED_IN,
    ("GET", "/api/transparency/register"): SIGNED_IN,
    ("GET", "/api/transparency/register/export"): SIGNED_IN,
    ("POST", "/api/transparency/publications"): WRITERS,
    ("GET", "/api/contracts/{reference}/gaps"): SIGNED_IN,
    ("POST", "/api/contracts/{reference}/gaps"): RETENTION_MANAGERS,
    ("POST", "/api/contracts/{reference}/gaps/{gap_id}/close"): RETENTION_MANAGERS,
    # API: search and records.
    ("GET", "/api/search"): SIGNED_IN,
    ("POST", "/api/records"): WRITERS,
    ("GET", "/api/records"): SIGNED_IN,
    ("GET", "/api/records/{record_id}"): SIGNED_IN,
    ("PATCH", "/api/records/{record_id}"): WRITERS,
    ("POST", "/api/records/bulk"): WRITERS,
    ("POST", "/api/records/{record_id}/versions"): WRITERS,
    ("GET", "/api/records/{record_id}/changes"): SIGNED_IN,
    ("GET", "/api/records/{record_id}/content"): SIGNED_IN,
    ("GET", "/api/records/{record_id}/retention"): SIGNED_IN,
    ("GET", "/api/records/{record_id}/history"): SIGNED_IN,
    # API: retention.
    ("GET", "/api/retention/schedule"): SIGNED_IN,
    ("GET", "/api/retention/findings"): AUDIT_READERS,
    ("GET", "/api/retention/findings.csv"): AUDIT_READERS,
    ("POST", "/api/retention/run"): RETENTION_MANAGERS,
    ("POST", "/api/retention/holds"): RETENTION_MANAGERS,
    ("POST", "/api/retention/holds/records"): RETENTION_MANAGERS,
    ("GET", "/api/retention/holds"): AUDIT_READERS,
    ("POST", "/api/retention/holds/{hold_id}/release"): RETENTION_MANAGERS,
    ("GET", "/api/retention/dispositions"): AUDIT_READERS,
    ("POST", "/api/retention/dispositions"): RETENTION_MANAGERS,
    ("GET", "/api/retention/dispositions/{disposition_id}"): AUDIT_READERS,
    ("POST", "/api/retention/dispositions/{disposition_id}/approve"): RETENTION_MANAGERS,
    ("POST", "/api/retention/dispositions/{disposition_id}/reject"): RETENTION_MANAGERS,
    ("POST", "/api/retention/dispositions/{disposition_id}/execute"): RETENTION_MANAGERS,
    ("GET", "/api/retention/disposals"): AUDIT_READERS,
    # API: reports (making one captures a record; they are read as records).
    ("POST", "/api/reports/panel"): RETENTION_MANAGERS,
    # API: the audit log. The public key is public on purpose (see api/audit.py).
    ("GET", "/api/audit/entries"): AUDIT_READERS,
    ("GET", "/api/audit/checkpoint"): AUDIT_READERS,
    ("GET", "/api/audit/entries/{index}/proof"): AUDIT_READERS,
    ("GET", "/api/audit/consistency"): AUDIT_READERS,
    ("GET", "/api/audit/public-key"): EVERYONE,
    # API: users and tokens.
    ("GET", "/api/users"): ADMINS,
    ("POST", "/api/users"): ADMINS,
    ("GET", "/api/users/{username}"): ADMINS,
    ("POST", "/api/users/{username}/disable"): ADMINS,
    ("POST", "/api/users/{username}/roles"): ADMINS,
    ("GET", "/api/users/{username}/tokens"): ADMINS,
    ("POST", "/api/users/{username}/tokens"): ADMINS,
    ("POST", "/api/tokens/{token_id}/revoke"): ADMINS,
    # Web: signing in and out, one's own password.
    ("GET", "/login"): EVERYONE,
    ("POST", "/login"): EVERYONE,
    ("POST", "/logout"): EVERYONE,
    ("GET", "/account/password"): SIGNED_IN,
    ("POST", "/account/password"): SIGNED_IN,
    # Web: dashboard, upload, search, records.
    ("GET", "/"): SIGNED_IN,
    ("GET", "/upload"): WRITERS,
    ("POST", "/upload"): WRITERS,
    ("POST", "/upload/check"): WRITERS,
    ("GET", "/search"): SIGNED_IN,
    ("GET", "/records"): SIGNED_IN,
    ("POST", "/records/bulk"): WRITERS,
    ("GET", "/records/{record_id}"): SIGNED_IN,
    ("GET", "/records/{record_id}/versions/{number}/download"): SIGNED_IN,
    ("GET", "/records/{record_id}/versions/{number}/view"): SIGNED_IN,
    ("GET", "/records/{record_id}/edit"): WRITERS,
    ("POST", "/records/{record_id}/edit"): WRITERS,
    ("GET", "/records/{record_id}/new-version"): WRITERS,
    ("POST", "/records/{record_id}/new-version"): WRITERS,
    # Web: import batches and their reports (records managers; the import is a command).
    ("GET", "/imports"): RETENTION_MANAGERS,
    ("GET", "/imports/{batch_id}"): RETENTION_MANAGERS,
    ("GET", "/imports/{batch_id}/report.csv"): RETENTION_MANAGERS,
    ("GET", "/imports/{batch_id}/report.json"): RETENTION_MANAGERS,
    # Web: contracts.
    ("GET", "/contracts/new"): WRITERS,
    ("POST", "/contracts/new"): WRITERS,
    ("GET", "/contracts/{reference:path}/edit"): WRITERS,
    ("POST", "/contracts/{reference:path}/edit"): WRITERS,
    ("GET", "/contracts"): SIGNED_IN,
    ("GET", "/contracts/{reference:path}"): SIGNED_IN,
    ("POST", "/contracts/{reference:path}/money/{entry}"): WRITERS,
    # Web: the transparency register.
    ("GET", "/transparency"): SIGNED_IN,
    ("GET", "/transparency/export"): SIGNED_IN,
    ("POST", "/transparency/publications"): WRITERS,
    ("POST", "/contracts/{reference:path}/gaps"): RETENTION_MANAGERS,
    ("POST", "/contracts/{reference:path}/gaps/{gap_id}/close"): RETENTION_MANAGERS,
    # Web: retention.
    ("GET", "/retention"): AUDIT_READERS,
    ("GET", "/retention/findings.csv"): AUDIT_READERS,
    ("POST", "/retention/run"): RETENTION_MANAGERS,
    ("GET", "/retention/dispositions"): AUDIT_READERS,
    ("POST", "/retention/dispositions/{disposition_id}/decide"): RETENTION_MANAGERS,
    ("GET", "/retention/dispositions/confirm"): RETENTION_MANAGERS,
    ("POST", "/retention/dispositions/approve"): RETENTION_MANAGERS,
    ("GET", "/retention/holds"): AUDIT_READERS,
    ("POST", "/retention/holds"): RETENTION_MANAGERS,
    ("POST", "/retention/holds/{hold_id}/release"): RETENTION_MANAGERS,
    # Web: the Panel's report. Making one captures a record, so auditors read those made.
    ("GET", "/reports/panel"): AUDIT_READERS,
    ("POST", "/reports/panel"): RETENTION_MANAGERS,
    # Web: the audit log; verifying it reads the log and changes nothing.
    ("GET", "/audit"): AUDIT_READERS,
    ("POST", "/audit/verify"): AUDIT_READERS,
    # Web: users.
    ("GET", "/admin/users"): ADMINS,
    ("GET", "/admin/users/new"): ADMINS,
    ("POST", "/admin/users/new"): ADMINS,
    ("GET", "/admin/users/{username}"): ADMINS,
    ("POST", "/admin/users/{username}/password"): ADMINS,
    ("POST", "/admin/users/{username}/roles"): ADMINS,
    ("POST", "/admin/users/{username}/tokens"): ADMINS,
    ("POST", "/admin/users/{username}/tokens/{token_id}/revoke"): ADMINS,
    ("POST", "/admin/users/{username}/sessions/end"): ADMINS,
    ("POST", "/admin/users/{username}/disable"): ADMINS,
    ("POST", "/admin/users/{username}/unlock"): ADMINS,
}

# Routes with an unsafe method that change no record, contract, retention decision
# or user: the only ones the read-only roles (reviewer, auditor) may use.
CHANGES_NOTHING_SHARED = frozenset(
    {
        ("POST", "/login"),
        ("POST", "/logout"),
        ("POST", "/account/password"),
        ("POST", "/audit/verify"),
    }
)
