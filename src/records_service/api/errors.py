"""RFC 9457 problem responses: every error the API returns is mapped here, in one place,
and the OpenAPI document declares them from here too (:func:`problem_responses`)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from records_service.errors import DomainError
from records_service.storage import ObjectExists, ObjectNotFound, StorageError, StorageFull

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:records-service:problem:"


class Problem(BaseModel):
    """The body of every error response: an RFC 9457 problem."""

    type: str = Field(description="A URN naming the kind of problem.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request.")
    instance: str | None = Field(default=None, description="The path that was requested.")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Each invalid input: where (`loc`) and why (`msg`)."
    )


_MEANINGS: dict[int, str] = {
    400: "The request cannot be parsed: a body that is not JSON or form data, a bad query.",
    401: "No valid bearer token.",
    403: "Your roles do not allow this.",
    404: "No such thing, or none you may see.",
    409: "The request clashes with the current state.",
    410: "The record was disposed of.",
    413: "The request body is larger than the service accepts here.",
    422: "A value in the request is not acceptable.",
    503: "A backing component (database, storage, search index) cannot serve now; retry.",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}},
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for routes and routers: ``statuses`` answered as problems."""
    schema = Problem.model_json_schema()
    declared: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        declared[status] = {
            "description": _MEANINGS[status],
            "content": {PROBLEM_JSON: {"schema": schema}},
        }
        if status in _HEADERS:
            declared[status]["headers"] = _HEADERS[status]
    return declared


# What every route behind a bearer token may answer, whatever it does (the intake bounds
# every request's body, so any route may refuse one that is too large).
AUTHENTICATED = problem_responses(401, 413, 422, 503)


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Build one ``application/problem+json`` response."""
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_headers(exc: DomainError) -> dict[str, str] | None:
    """The headers a refusal carries: the auth scheme on a 401, when to retry on a 503."""
    headers: dict[str, str] = {}
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return headers or None


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = problem_headers(exc)
    return problem(
        exc.status,
        exc.type_slug,
        exc.title,
        exc.detail,
        instance=request.url.path,
        errors=exc.errors,
        headers=headers,
    )


def _jsonable_errors(errors: Any) -> list[dict[str, Any]]:
    return [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            # Pydantic prefixes the messages of our own validators; the prefix says nothing.
            "msg": str(e.get("msg", "")).removeprefix("Value error, "),
            "type": str(e.get("type", "")),
        }
        for e in errors
    ]


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _jsonable_errors(exc.errors())
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(first["loc"])
    detail = f"{where}: {first['msg']}" if where else str(first["msg"])
    return problem(
        422, "invalid-input", "Invalid input", detail, instance=request.url.path, errors=errors
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug = {404: "not-found", 405: "method-not-allowed", 401: "unauthenticated"}.get(
        exc.status_code, "http-error"
    )
    return problem(
        exc.status_code,
        slug,
        str(exc.detail) if exc.status_code < 500 else "Server error",
        str(exc.detail),
        instance=request.url.path,
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _storage_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ObjectExists):
        return problem(
            409,
            "conflict",
            "Conflict",
            "that content version already exists; retry",
            instance=request.url.path,
        )
    if isinstance(exc, ObjectNotFound):
        log.error("content missing from storage: %s", exc)
        return problem(
            500,
            "content-missing",
            "Content missing",
            "the stored content is missing; the fixity check will report it",
            instance=request.url.path,
        )
    if isinstance(exc, StorageFull):
        log.error("blob store full: %s", exc)
        return problem(
            503,
            "storage-full",
            "Storage full",
            "the blob store's disk is full, so no new content can be stored until space is "
            "freed or added; nothing was stored (reading still works)",
            instance=request.url.path,
            headers={"Retry-After": "60"},
        )
    log.error("storage failure: %s", exc)
    return problem(
        503,
        "storage-unavailable",
        "Storage unavailable",
        "the blob store cannot serve this request right now; retry later",
        instance=request.url.path,
        headers={"Retry-After": "5"},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    return problem(
        500,
        "internal-error",
        "Internal error",
        "an unexpected error occurred",
        instance=request.url.path,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Route every error class to its problem response."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(StorageError, _storage_error)
    app.add_exception_handler(Exception, _unexpected)
