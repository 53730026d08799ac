"""Domain exceptions shared by every service function.

Each carries a stable problem ``type`` slug and an HTTP status; the API maps
them to RFC 9457 ``application/problem+json`` responses in one place
(:mod:`records_service.api.errors`), and the CLI prints their message.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refusal the caller can understand and act on."""

    status: int = 400
    type_slug: str = "bad-request"
    title: str = "Bad request"
    # Seconds a client should wait before trying again (sent as ``Retry-After``).
    retry_after: int | None = None

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class InvalidInput(DomainError):
    """The request is well-formed but its values are not acceptable."""

    status = 422
    type_slug = "invalid-input"
    title = "Invalid input"


class NotFound(DomainError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    status = 404
    type_slug = "not-found"
    title = "Not found"


class Conflict(DomainError):
    """The request clashes with the current state (for example a duplicate reference)."""

    status = 409
    type_slug = "conflict"
    title = "Conflict"


class Unauthenticated(DomainError):
    """No valid credentials were presented."""

    status = 401
    type_slug = "unauthenticated"
    title = "Authentication required"


class PermissionDenied(DomainError):
    """The caller is known but their roles do not allow this."""

    status = 403
    type_slug = "forbidden"
    title = "Forbidden"


class PayloadTooLarge(DomainError):
    """The upload exceeds the configured size limit."""

    status = 413
    type_slug = "payload-too-large"
    title = "Upload too large"


class RequestTooLarge(PayloadTooLarge):
    """The request's body is larger than its route accepts (refused before it is read)."""

    title = "Request too large"


class RecordDisposed(DomainError):
    """The record was disposed of (or transferred) under an approved disposition."""

    status = 410
    type_slug = "gone"
    title = "Record disposed of"


class ServiceUnavailable(DomainError):
    """A backing component (storage, database) cannot serve the request right now."""

    status = 503
    type_slug = "service-unavailable"
    title = "Service unavailable"
    retry_after = 5


class DatabaseBusy(ServiceUnavailable):
    """The database's write lock (or a row lock) could not be had in time."""

    type_slug = "database-busy"
    title = "Database busy"
    retry_after = 2


class DiskFull(ServiceUnavailable):
    """The database's disk is full: nothing can be written until space is freed."""

    type_slug = "database-full"
    title = "Database disk full"
    retry_after = 60


class WriteTooLong(ServiceUnavailable):
    """A write transaction held the database past its bound and was rolled back."""

    type_slug = "write-too-long"
    title = "Request took too long"
    retry_after = 5


class TooManyAttempts(DomainError):
    """Too many failed password checks: refused, without checking, until a lock ends."""

    status = 429
    type_slug = "too-many-attempts"
    title = "Too many attempts"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
