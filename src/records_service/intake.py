"""Request intake: every request body is bounded, and no body is read before its
sender is known.

FastAPI parses a route's form or JSON body *before* it runs the route's dependencies,
and Starlette writes multipart files to temporary files as it parses. So the
dependencies that authenticate (:func:`records_service.api.deps.get_current_user`,
:func:`records_service.web.deps.page_user`) and check CSRF
(:func:`records_service.web.csrf.check_csrf`) cannot stop a body being read: an
anonymous upload used to reach the disk before its 401. This pure ASGI middleware
stands between the app and the server's ``receive``. When the app first asks for the
body (the router has picked the route by then, and nothing has been read):

1. The request's :class:`Policy` comes from its face and its route. Its body limit is
   ``max_upload_bytes`` plus :data:`FIELDS_ALLOWANCE` if the route takes files (a
   file parameter, or a form model with a file field), :data:`BODY_LIMIT` otherwise.
   An API body needs a valid bearer token. A web page's body needs the session's CSRF
   token and a signed-in user, except on the :data:`ANONYMOUS_FORMS` (signing in and
   out), which need only the CSRF token. The rule is per face, not per route, so a new
   route is covered without a word (it fails closed: a new anonymous form must be
   added to that list).
2. A declared ``Content-Length`` over the limit is refused with 413.
3. The request is checked by the routes' own dependencies: ``get_current_user`` for
   the API; for a page, :func:`~records_service.web.csrf.check_csrf_before_body`
   (the token travels outside the body, unless the body is a small URL-encoded
   form) and then ``page_user``.
4. Only then is the body read, through a counter: a body sent without a
   ``Content-Length`` (chunked) is cut off as soon as it passes the limit, with 413.

A refusal replaces whatever the app makes of the missing body, and is answered by the
app's own error handlers (401 problem, 403 page, redirect to the login page, 413), as
if the route had raised it, with ``Connection: close`` so that the server stops
taking in the rest of the body. The route's dependencies still run afterwards, unchanged;
a write looks its user up twice, which costs one indexed query.

Uploaded files are spooled by :class:`DirectSpoolParser` (installed by
:func:`spool_uploads_directly`), which writes each chunk of a file that has rolled
over to disk straight into its temporary file rather than through the thread pool.
When the blob store is a local directory, that temporary file is one of the store's
staging files, hashed as it is written (``records.content.UploadSpool``), and capture
publishes it under its key without a copy.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import starlette.requests
from fastapi import UploadFile, params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.formparsers import MultiPartParser
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from records_service.api.deps import get_current_user
from records_service.errors import RequestTooLarge
from records_service.records.content import UploadSpool
from records_service.runtime.services import Services
from records_service.storage import StagingStore
from records_service.web.csrf import check_csrf_before_body
from records_service.web.deps import page_user
from records_service.web.mount import is_web_path

# Every body but an upload's: JSON documents and URL-encoded forms, the largest of
# which (a record's metadata with 50 tags) is a few kilobytes.
BODY_LIMIT = 64 * 1024
# Room beside the file(s) of an upload for the form fields and the multipart framing.
FIELDS_ALLOWANCE = 64 * 1024
# The web forms anyone may post: their body is a small URL-encoded form.
ANONYMOUS_FORMS = frozenset({"/login", "/logout"})

_bearer = HTTPBearer(auto_error=False)
# The store that the request's uploads are spooled into, if it takes staging files.
_spool_store: ContextVar[StagingStore | None] = ContextVar("spool_store", default=None)


@dataclass(frozen=True)
class Policy:
    """How much body a request may send, and who must be known before it is read."""

    limit: int
    bearer: bool = False  # an API user (bearer token)
    csrf: bool = False  # a web form: the session's CSRF token
    session: bool = False  # a signed-in web user


def _tree(dependant: Dependant) -> Iterator[Dependant]:
    """``dependant`` and every dependency below it."""
    yield dependant
    for sub in dependant.dependencies:
        yield from _tree(sub)


def _names_a_file(annotation: object) -> bool:
    """Whether a type is, or holds, an uploaded file (``list[UploadFile | str]``)."""
    if isinstance(annotation, type) and issubclass(annotation, UploadFile):
        return True
    return any(_names_a_file(arg) for arg in typing.get_args(annotation))


def _takes_files(info: object) -> bool:
    """Whether a body parameter is a file, or a form model with a file field."""
    if isinstance(info, params.File):
        return True
    model = getattr(info, "annotation", None)
    return (
        isinstance(info, params.Form)
        and isinstance(model, type)
        and issubclass(model, BaseModel)
        and any(_names_a_file(f.annotation) for f in model.model_fields.values())
    )


def takes_files(route: object) -> bool:
    """Whether ``route`` takes files (an upload)."""
    return isinstance(route, APIRoute) and any(
        _takes_files(field.field_info)
        for node in _tree(route.dependant)
        for field in node.body_params
    )


def policy_for(path: str, route: object, max_upload_bytes: int) -> Policy:
    """The policy for a request to ``path`` that ``route`` answers (``None``: no route)."""
    limit = max_upload_bytes + FIELDS_ALLOWANCE if takes_files(route) else BODY_LIMIT
    if not is_web_path(path):
        return Policy(limit, bearer=path.startswith("/api/"))
    return Policy(limit, csrf=True, session=path not in ANONYMOUS_FORMS)


class RequestIntake:
    """The middleware; add it inside the session middleware, which pages need."""

    def __init__(self, app: ASGIApp, *, max_upload_bytes: int) -> None:
        self.app = app
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if not _declares_body(request):
            # Nothing to read: the app's reads only wait for the client to disconnect
            # (as a file response does), which must not cost a static file a sign-in.
            await self.app(scope, receive, send)
            return
        gate = _Gate(request, receive, send, self.max_upload_bytes)
        store = request.app.state.services.store
        spooling = _spool_store.set(store if isinstance(store, StagingStore) else None)
        try:
            await self.app(scope, gate.receive, gate.send)
        except Exception:
            if gate.refusal is None or gate.started:
                raise
        finally:
            _spool_store.reset(spooling)
        if gate.refusal is None or gate.started:
            return
        if not await _answer(request, gate.refusal, send):
            raise gate.refusal


def _declares_body(request: Request) -> bool:
    """Whether the request says it carries a body (HTTP/1.1: a non-zero length or a
    transfer coding); without either, there is none to read."""
    headers = request.headers
    return "transfer-encoding" in headers or headers.get("content-length", "0") != "0"


class _BodyRefused(Exception):
    """Raised to the app instead of the body: nothing (more) of it will be read."""


class _Gate:
    """One request's ``receive`` and ``send``: the checks run on the app's first read,
    the body is counted up to the limit, and the app's own answer to a refusal (a
    body parse error) is dropped so that the refusal can be answered instead."""

    def __init__(self, request: Request, receive: Receive, send: Send, max_upload: int) -> None:
        self._request = request
        self._receive = receive
        self._send = send
        self._max_upload = max_upload
        self.limit: int | None = None  # known after the checks
        self.received = 0
        self.refusal: Exception | None = None
        self.started = False

    async def receive(self) -> Message:
        if self.refusal is not None:
            raise _BodyRefused
        limit = self.limit if self.limit is not None else await self._check()
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > limit:
                self.refusal = too_large(limit)
                raise _BodyRefused
        return message

    async def send(self, message: Message) -> None:
        if self.refusal is not None and not self.started:
            return
        self.started = self.started or message["type"] == "http.response.start"
        await self._send(message)

    async def _check(self) -> int:
        scope = self._request.scope
        policy = policy_for(self._request.url.path, scope.get("route"), self._max_upload)
        self.limit = policy.limit
        try:
            _check_declared_length(self._request, policy.limit)
            await _authenticate(self._request, policy)
        except Exception as exc:
            self.refusal = exc
            raise _BodyRefused from exc
        return policy.limit


def too_large(limit: int) -> RequestTooLarge:
    """The refusal of a body over ``limit`` bytes."""
    return RequestTooLarge(f"the request body may be at most {limit} bytes here")


def _check_declared_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length", "")
    # A malformed length never gets here: the HTTP server refuses it.
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)


async def _authenticate(request: Request, policy: Policy) -> None:
    """Run the route's own checks that need no body; each raises its usual refusal."""
    services: Services = request.app.state.services
    if policy.bearer:
        credentials = await _bearer(request)
        await run_in_threadpool(get_current_user, services, request, credentials)
    if policy.csrf:
        check_csrf_before_body(request)
    if policy.session:
        await run_in_threadpool(page_user, request, services)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


async def _answer(request: Request, exc: Exception, send: Send) -> bool:
    """Answer with the app's own handler for ``exc``, as if the route had raised it,
    and close the connection; ``False`` if the app has no handler for it."""
    handlers = request.app.exception_handlers
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None and cls is not Exception:
            response = handler(request, exc)
            if inspect.isawaitable(response):
                response = await response
            # The rest of the body is still on its way: on a kept-alive connection the
            # server would read and discard all of it.
            response.headers["Connection"] = "close"
            await response(request.scope, _no_body, send)
            return True
    return False


class DirectSpoolParser(MultiPartParser):
    """Starlette's multipart parser, writing each chunk of an uploaded file into its
    temporary file at once, in the event loop.

    Once a file has rolled over to disk (past 1 MiB), Starlette awaits
    ``UploadFile.write`` for every chunk received, which runs the write on a worker
    thread so that the event loop never waits for the disk. That is a round trip
    between threads for each chunk of up to 256 KiB: a 10 MB upload spent 20 to 30
    ms on them, and the writes themselves, into the page cache, well under 1 ms
    (docs/architecture.md, "Why the capture path is built as it is"). Here the event
    loop waits for each write's copy into the page cache instead.
    """

    def on_headers_finished(self) -> None:
        """Start a part; a file's spool is the store's own staging file once past
        ``spool_max_size``, where the store takes staging files."""
        super().on_headers_finished()
        upload = self._current_part.file
        store = _spool_store.get()
        if upload is not None and store is not None:
            spool = UploadSpool(store, self.spool_max_size)
            self._files_to_close_on_error.append(spool)
            upload.file.close()  # Starlette's own spool, still empty
            upload.file = typing.cast(typing.BinaryIO, spool)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        upload = self._current_part.file
        if upload is None:  # a form field, kept in memory
            super().on_part_data(data, start, end)
            return
        chunk = data[start:end]
        upload.file.write(chunk)
        upload.size = (upload.size or 0) + len(chunk)


def spool_uploads_directly() -> None:
    """Make Starlette parse every multipart body with :class:`DirectSpoolParser`."""
    starlette.requests.MultiPartParser = DirectSpoolParser  # type: ignore[attr-defined]
