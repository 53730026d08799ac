"""The fixed vocabulary of audit actions and the typed payload each one carries."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class AuditAction(StrEnum):
    """Every action the log knows; dotted names are stable and never reused."""

    RECORD_CAPTURE = "record.capture"
    RECORD_VERSION = "record.version"
    RECORD_UPDATE = "record.update"
    RECORD_READ = "record.read"
    SEARCH_QUERY = "search.query"
    CONTRACT_CREATE = "contract.create"
    CONTRACT_UPDATE = "contract.update"
    USER_CREATE = "user.create"
    USER_DISABLE = "user.disable"
    USER_ROLES = "user.roles"
    USER_PASSWORD = "user.password"  # noqa: S105 (an action name, not a secret)
    TOKEN_ISSUE = "token.issue"  # noqa: S105 (an action name, not a secret)
    TOKEN_REVOKE = "token.revoke"  # noqa: S105 (an action name, not a secret)
    AUTH_FAILURE = "auth.failure"
    AUTH_SIGN_IN = "auth.sign_in"
    AUTH_SIGN_OUT = "auth.sign_out"
    AUTH_LOCKOUT = "auth.lockout"
    AUTH_UNLOCK = "auth.unlock"
    HOLD_PLACE = "hold.place"
    HOLD_RELEASE = "hold.release"
    DISPOSITION_PROPOSE = "disposition.propose"
    DISPOSITION_APPROVE = "disposition.approve"
    DISPOSITION_REJECT = "disposition.reject"
    DISPOSITION_EXECUTE = "disposition.execute"
    RETENTION_RUN = "retention.run"
    AUDIT_ROLLBACK_ACKNOWLEDGED = "audit.rollback_acknowledged"
    RECORD_PART = "record.part"
    GAP_RECORD = "gap.record"
    GAP_CLOSE = "gap.close"


class Payload(BaseModel):
    """Base of every payload: immutable, and unknown fields are a programming error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class CapturePayload(Payload):
    version: int
    sha256: str
    size: int
    media_type: str
    filename: str
    record_type: str
    contract: str | None
    title: str


class ReadPayload(Payload):
    version: int
    sha256: str


class UpdatePayload(Payload):
    changes: dict[str, list[object]]
    reason: str


class SearchPayload(Payload):
    query: str
    filters: dict[str, object]
    total: int


class ContractPayload(Payload):
    changes: dict[str, list[object]]


class UserPayload(Payload):
    username: str
    roles: list[str] = []


class RolesPayload(Payload):
    """A user's roles changed: what was added and removed, and the roles now held."""

    username: str
    added: list[str]
    removed: list[str]
    roles: list[str]


class TokenPayload(Payload):
    username: str
    token_id: str


class AuthFailurePayload(Payload):
    """Failed authentication. ``count`` is how many failures the entry stands for:
    1 for a failure audited as it happened, more for the failures of a closed
    ``interval`` (ISO 8601 ``start/end``) that were counted rather than audited one
    by one. The sum of ``count`` over the entries is the number of failures."""

    reason: str
    method: str
    source: str = ""
    count: int = 1
    interval: str | None = None


class LockoutPayload(Payload):
    """A user name (``scope`` "account") or client address ("client") locked out of
    password checks for ``seconds`` after ``failures`` failures in a row."""

    scope: str
    name: str
    failures: int
    seconds: int


class UnlockPayload(Payload):
    """A lockout (or the failures counting towards one) released by an administrator."""

    scope: str
    name: str
    failures: int


class SessionPayload(Payload):
    """A web session's start or end. ``session`` is the start of the SHA-256 the
    database keys the session by: it pairs a sign-in with its sign-out and is no
    use for getting in."""

    session: str


class RollbackPayload(Payload):
    """Entries ``lost_from`` to ``lost_to`` are gone from the log: the signed
    checkpoints named (with their signed roots, hex) covered them. ``log_size`` is
    the log's size when the loss was acknowledged, for the ``reason`` given."""

    log_size: int
    lost_from: int
    lost_to: int
    checkpoints: list[str]
    roots: list[str]
    reason: str


class PartPayload(Payload):
    """A record captured from an attachment: the message record it was taken from,
    that message's version, and the attachment's place among its parts (from 0)."""

    message: str
    message_version: int
    position: int
    filename: str


class GapPayload(Payload):
    """A known gap in a contract's file: recorded with what happened, or closed
    (``found_record`` names the record found, when one was)."""

    gap_id: int
    contract: str
    record_type: str
    period_start: str
    period_end: str
    reason: str
    evidence: str | None = None
    reported_by: str | None = None
    found_record: str | None = None
    note: str | None = None


class GenericPayload(Payload):
    """For actions whose details are an open mapping (retention, holds)."""

    model_config = ConfigDict(frozen=True, extra="allow")


PAYLOAD_TYPES: dict[AuditAction, type[Payload]] = {
    AuditAction.RECORD_CAPTURE: CapturePayload,
    AuditAction.RECORD_VERSION: CapturePayload,
    AuditAction.RECORD_UPDATE: UpdatePayload,
    AuditAction.RECORD_READ: ReadPayload,
    AuditAction.SEARCH_QUERY: SearchPayload,
    AuditAction.CONTRACT_CREATE: ContractPayload,
    AuditAction.CONTRACT_UPDATE: ContractPayload,
    AuditAction.USER_CREATE: UserPayload,
    AuditAction.USER_DISABLE: UserPayload,
    AuditAction.USER_ROLES: RolesPayload,
    AuditAction.USER_PASSWORD: UserPayload,
    AuditAction.TOKEN_ISSUE: TokenPayload,
    AuditAction.TOKEN_REVOKE: TokenPayload,
    AuditAction.AUTH_FAILURE: AuthFailurePayload,
    AuditAction.AUTH_SIGN_IN: SessionPayload,
    AuditAction.AUTH_SIGN_OUT: SessionPayload,
    AuditAction.AUTH_LOCKOUT: LockoutPayload,
    AuditAction.AUTH_UNLOCK: UnlockPayload,
    AuditAction.AUDIT_ROLLBACK_ACKNOWLEDGED: RollbackPayload,
    AuditAction.RECORD_PART: PartPayload,
    AuditAction.GAP_RECORD: GapPayload,
    AuditAction.GAP_CLOSE: GapPayload,
}


def payload_type(action: AuditAction) -> type[Payload]:
    """The payload class an action must carry."""
    return PAYLOAD_TYPES.get(action, GenericPayload)
