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
    RECORD_READ_REPLICA = "record.read_replica"
    SEARCH_QUERY = "search.query"
    CONTRACT_CREATE = "contract.create"
    CONTRACT_UPDATE = "contract.update"
    USER_CREATE = "user.create"
    USER_DISABLE = "user.disable"
    USER_ENABLE = "user.enable"
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
    CATALOGUE_RECOVER = "catalogue.recover"
    DISPOSITION_RECOVER = "disposition.recover"
    DISPOSITION_LEFTOVERS_DELETED = "disposition.leftovers_deleted"
    HOLD_RECOVER = "hold.recover"
    IMPORT_START = "import.start"
    IMPORT_FINISH = "import.finish"
    IMPORT_DUPLICATE = "import.duplicate"
    FINANCE_AWARD = "finance.award"
    FINANCE_VARIATION = "finance.variation"
    FINANCE_INSTALMENT = "finance.instalment"
    FINANCE_PAYMENT = "finance.payment"
    FINANCE_IMPORT = "finance.import"
    FINANCE_INVOICE_LINK = "finance.invoice_link"
    FINANCE_SPEND = "finance.spend"
    FINANCE_RECOVERY = "finance.recovery"
    TRANSPARENCY_PUBLISH = "transparency.publish"
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


class Provenance(Payload):
    """Where an imported file came from: its path in the source, size and modification
    time (ISO 8601), the batch, who ran it and when the file was imported."""

    path: str
    size: int
    modified_at: str
    batch: str
    run_by: str
    imported_at: str


class ImportedCapturePayload(CapturePayload):
    """A capture by an import: the capture's payload and the file's provenance."""

    provenance: Provenance


class ImportRunPayload(Payload):
    """A run of an import batch started (``run`` counts the batch's runs, resumes too)."""

    batch: str
    source: str
    mapping_sha256: str
    run: int


class ImportCountsPayload(Payload):
    """A run of an import batch finished: the outcomes of all the batch's files so far."""

    batch: str
    run: int
    captured: int
    duplicate: int
    unmatched: int
    skipped: int
    failed: int


class DuplicatePayload(Payload):
    """An imported file whose bytes the record already holds: a sighting at another path."""

    sha256: str
    version: int
    provenance: Provenance


class ReadPayload(Payload):
    version: int
    sha256: str


class ReplicaReadPayload(Payload):
    """A version was served from the replica because its primary copy ``problem``
    (is missing, cannot be read, does not match its recorded SHA-256)."""

    version: int
    sha256: str
    storage_key: str
    problem: str


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


class RecoveryPayload(Payload):
    """The catalogue was rebuilt from the blob store (``recover --from-store``): what
    came back, the placeholder accounts made for user names the database did not
    know, how many stored objects could not be used, and the audit entries brought
    back from export bundles (those lost are acknowledged in their own entry). Each
    disposal and hold note applied also has its own entry, written with it."""

    records_added: int
    records_updated: int
    versions_added: int
    changes_added: int
    contracts_added: list[str]
    placeholder_users: list[str]
    problems: int
    audit_entries_restored: int
    # records the store's disposal notes brought back (or up to date) as disposed of
    disposals_applied: list[str] = []
    # held contracts brought up to the later details of their contract notes
    contracts_updated: list[str] = []
    # holds brought back from hold notes, and held ones a note says were released
    holds_added: list[str] = []
    holds_released: list[str] = []
    # records already disposed of whose objects, put back by a restore, were deleted again
    leftovers_deleted: list[str] = []


class DisposalRecoveredPayload(Payload):
    """``recover --from-store`` applied the store's disposal note ``note``: the record
    now stands disposed of (or transferred, as ``action`` says) as the disposal left it,
    with the decision the note gives (``disposition`` is the note's number for it).
    ``added``: the record came back from the note alone (the database lacked it);
    ``objects_deleted``: its objects a restore had put back, deleted again."""

    note: str
    disposition: int
    action: str
    executed_at: str
    executed_by: str
    approved_by: str
    reason: str
    added: bool
    objects_deleted: int


class LeftoversDeletedPayload(Payload):
    """``recover --from-store`` deleted ``objects_deleted`` objects of a record the
    database already held as disposed of, which a restore had put back into the store;
    ``note`` is the disposal note that says it was disposed of (``disposition``, the
    note's number for the decision)."""

    note: str
    disposition: int
    objects_deleted: int


class HoldRecoveredPayload(Payload):
    """``recover --from-store`` applied the store's hold note ``note``: the hold
    ``reference`` (placed by ``placed_by`` at ``placed_at``) was ``added`` to the
    database, or the held one ``released`` as the note records."""

    note: str
    change: str  # "added" or "released"
    scope: str
    reference: str
    placed_by: str
    placed_at: str
    released_by: str | None
    released_at: str | None


class AwardPayload(Payload):
    """A contract's award details set or changed: each field's old and new value
    (the awarded value as ``awarded_value_pence``)."""

    changes: dict[str, list[object]]


class VariationPayload(Payload):
    """A decision (``record``) changed the value by ``change_pence``, from
    ``value_before_pence`` to ``value_after_pence`` (award plus variations)."""

    decided_on: str
    change_pence: int
    value_before_pence: int
    value_after_pence: int
    record: str
    reason: str


class InstalmentPayload(Payload):
    """A planned payment added to the payment schedule."""

    due_on: str
    amount_pence: int
    note: str | None


class PaymentPayload(Payload):
    """A payment made, by its finance-system reference; ``invoice_record`` is the
    invoice held on the file, if any."""

    payment_reference: str
    paid_on: str
    amount_pence: int
    invoice_reference: str | None
    invoice_record: str | None
    source: str


class ImportedPayment(Payload):
    """One payment of an import, as the import's entry lists it."""

    payment_reference: str
    contract: str
    paid_on: str
    amount_pence: int
    invoice_reference: str | None
    invoice_record: str | None


class PaymentImportPayload(Payload):
    """Payments added from a finance system's export (a file with this SHA-256); one
    entry covers up to a thousand payments, each listed."""

    source: str
    sha256: str
    payments: list[ImportedPayment]


class InvoiceLinkPayload(Payload):
    """A payment linked to its invoice record once the invoice was captured."""

    payment_reference: str
    invoice_record: str


class SpendPayload(Payload):
    """Spend and outcomes the provider reported for a period (``spent_pence`` is
    ``None`` when no spend figure was given), from the return ``return_record``."""

    period_start: str
    period_end: str
    spent_pence: int | None
    outcomes: dict[str, int]
    return_record: str | None


class FundsRecoveryPayload(Payload):
    """Unspent funds recovered under the decision ``decision_record``."""

    recovered_on: str
    amount_pence: int
    decision_record: str
    reason: str


class PublicationPayload(Payload):
    """A register item published on ``published_on`` at ``location``; ``copy_record``
    is the record of what was published."""

    item: str
    kind: str
    published_on: str
    location: str
    copy_record: str | None


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
    AuditAction.RECORD_READ_REPLICA: ReplicaReadPayload,
    AuditAction.SEARCH_QUERY: SearchPayload,
    AuditAction.CONTRACT_CREATE: ContractPayload,
    AuditAction.CONTRACT_UPDATE: ContractPayload,
    AuditAction.USER_CREATE: UserPayload,
    AuditAction.USER_DISABLE: UserPayload,
    AuditAction.USER_ENABLE: UserPayload,
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
    AuditAction.CATALOGUE_RECOVER: RecoveryPayload,
    AuditAction.DISPOSITION_RECOVER: DisposalRecoveredPayload,
    AuditAction.DISPOSITION_LEFTOVERS_DELETED: LeftoversDeletedPayload,
    AuditAction.HOLD_RECOVER: HoldRecoveredPayload,
    AuditAction.IMPORT_START: ImportRunPayload,
    AuditAction.IMPORT_FINISH: ImportCountsPayload,
    AuditAction.IMPORT_DUPLICATE: DuplicatePayload,
    AuditAction.FINANCE_AWARD: AwardPayload,
    AuditAction.FINANCE_VARIATION: VariationPayload,
    AuditAction.FINANCE_INSTALMENT: InstalmentPayload,
    AuditAction.FINANCE_PAYMENT: PaymentPayload,
    AuditAction.FINANCE_IMPORT: PaymentImportPayload,
    AuditAction.FINANCE_INVOICE_LINK: InvoiceLinkPayload,
    AuditAction.FINANCE_SPEND: SpendPayload,
    AuditAction.FINANCE_RECOVERY: FundsRecoveryPayload,
    AuditAction.TRANSPARENCY_PUBLISH: PublicationPayload,
    AuditAction.RECORD_PART: PartPayload,
    AuditAction.GAP_RECORD: GapPayload,
    AuditAction.GAP_CLOSE: GapPayload,
}


def payload_type(action: AuditAction) -> type[Payload]:
    """The payload class an action must carry."""
    return PAYLOAD_TYPES.get(action, GenericPayload)
