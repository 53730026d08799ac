"""The request intake: no body is read before its sender is known, and every body is
bounded (``records_service.intake``).

The guards walk the app's own route table, so a new route that takes a body is
covered, or fails here, without anyone listing it. "Not read" is observed where it
happens: the body is a generator that counts what the app pulls from it, or (for
bodies without a ``Content-Length``) an ASGI ``receive`` that counts its chunks.
"""

from __future__ import annotations

import hashlib
import io
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import anyio
import fastapi.routing
import pytest
import starlette.concurrency
import starlette.datastructures
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response
from starlette.types import Message

from factories import Actors, assert_problem, capture, make_user
from records_service.intake import ANONYMOUS_FORMS, BODY_LIMIT, FIELDS_ALLOWANCE, takes_files
from records_service.runtime.services import Services
from records_service.storage import LocalBlobStore
from records_service.web.mount import is_web_path
from web.signin import add_person, csrf_of, sign_in

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
BOUNDARY = "intake-test-boundary"
CHUNK = 16 * 1024


@dataclass(frozen=True)
class BodyRoute:
    """One method of a route that may take a body, with a path that reaches it."""

    method: str
    path: str
    files: bool = False  # a file parameter: an upload
    body: bool = False  # any body parameter: the route reads a body

    @property
    def web(self) -> bool:
        return is_web_path(self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _routes(app: FastAPI) -> Iterator[tuple[str, set[str], object]]:
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if contexts is None:  # older FastAPI copies included routes into the app's own list
        for route in app.routes:
            if isinstance(route, APIRoute):
                yield route.path, route.methods or set(), route
        return
    for context in contexts(app.routes):
        yield context.path, context.methods or set(), context.original_route


def _has_body(route: object) -> bool:
    if not isinstance(route, APIRoute):
        return False
    pending = [route.dependant]
    while pending:
        node = pending.pop()
        if node.body_params:
            return True
        pending.extend(node.dependencies)
    return False


def body_routes(app: FastAPI) -> list[BodyRoute]:
    """Every route and method of the app that may take a body (every unsafe method,
    and any other with a body parameter), with its path parameters filled in."""
    found = [
        BodyRoute(
            method,
            re.sub(r"\{[^}]+\}", "nothing-here", path),
            files=takes_files(route),
            body=_has_body(route),
        )
        for path, methods, route in _routes(app)
        for method in sorted(methods)
        if method in UNSAFE or _has_body(route)
    ]
    assert len(found) >= 30, found  # the walk found the routes (36 when written)
    return found


def limit_of(route: BodyRoute, services: Services) -> int:
    """The body limit the intake should apply to ``route``."""
    return services.settings.max_upload_bytes + FIELDS_ALLOWANCE if route.files else BODY_LIMIT


def content_type(route: BodyRoute) -> str:
    """What the route's own client would send."""
    if route.files:
        return f"multipart/form-data; boundary={BOUNDARY}"
    return "application/x-www-form-urlencoded" if route.web else "application/json"


def body_head(route: BodyRoute) -> bytes:
    """The start of a well-formed body, so that a parser keeps reading what follows."""
    if route.files:
        return (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
    return b"note=" if route.web else b'{"note": "'


@dataclass
class CountingBody:
    """A request body of ``size`` bytes (``head``, filler, ``tail``) that records how
    many bytes the app pulled from it."""

    head: bytes
    size: int
    tail: bytes = b""
    pulled: int = 0

    def __iter__(self) -> Iterator[bytes]:
        filler = self.size - len(self.head) - len(self.tail)
        yield from self._counted(self.head)
        while filler > 0:
            yield from self._counted(b"x" * min(CHUNK, filler))
            filler -= CHUNK
        yield from self._counted(self.tail)

    def _counted(self, chunk: bytes) -> Iterator[bytes]:
        self.pulled += len(chunk)
        yield chunk


@pytest.fixture
def app(client: TestClient) -> FastAPI:
    """The real app, started by ``client``."""
    assert isinstance(client.app, FastAPI)
    return client.app


def post(
    app: FastAPI,
    route: BodyRoute,
    services: Services,
    *,
    declared: int,
    headers: dict[str, str] | None = None,
    browser: TestClient | None = None,
) -> tuple[Response, CountingBody]:
    """Send ``route`` a body that declares ``declared`` bytes; count what is pulled."""
    body = CountingBody(body_head(route), min(declared, limit_of(route, services) + CHUNK))
    sender = browser or TestClient(app, follow_redirects=False)
    response = sender.request(
        route.method,
        route.path,
        content=iter(body),
        headers={"Content-Type": content_type(route), "Content-Length": str(declared)}
        | (headers or {}),
    )
    return response, body


def assert_refused_unread(route: BodyRoute, response: Response, body: CountingBody) -> None:
    assert body.pulled == 0, f"{route}: {body.pulled} bytes read before {response.status_code}"
    assert response.status_code in (303, 401, 403, 413), f"{route}: {response.status_code}"
    if route.body:  # refused by the intake, which ends the connection the body is on
        assert response.headers["connection"] == "close", route


def test_an_anonymous_body_is_refused_before_a_byte_is_read(
    app: FastAPI, services: Services
) -> None:
    for route in body_routes(app):
        response, body = post(app, route, services, declared=1000)
        assert_refused_unread(route, response, body)
        if route.web:  # no session, so no CSRF token it could match
            assert response.status_code == 403 and "Form expired" in response.text, route
        else:
            problem = assert_problem(response, 401)
            assert problem["type"].endswith(":unauthenticated"), route
            assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_visitor_with_a_session_but_not_signed_in_is_sent_to_sign_in_unread(
    app: FastAPI, services: Services
) -> None:
    visitor = TestClient(app, follow_redirects=False)
    token = csrf_of(visitor.get("/login"))  # a session with a CSRF token, nobody signed in
    pages = [r for r in body_routes(app) if r.web and r.path not in ANONYMOUS_FORMS]
    assert any(r.files for r in pages) and any(not r.files for r in pages)
    for route in pages:
        response, body = post(
            app, route, services, declared=1000, headers={"X-CSRF-Token": token}, browser=visitor
        )
        assert_refused_unread(route, response, body)
        assert response.status_code == 303 and response.headers["location"] == "/login", route


def test_a_declared_length_over_the_limit_is_refused_unread(
    app: FastAPI, services: Services
) -> None:
    for route in body_routes(app):
        response, body = post(app, route, services, declared=10**12)
        assert_refused_unread(route, response, body)
        if not route.body:
            continue  # it never asks for the body, so its own checks refuse it
        assert response.status_code == 413, route
        if not route.web:
            assert assert_problem(response, 413)["title"] == "Request too large"


def test_a_signed_in_upload_is_refused_unread_one_byte_over_the_limit_only(
    app: FastAPI, services: Services
) -> None:
    headers = make_user(services, "cat", "staff")
    route = BodyRoute("POST", "/api/records", files=True, body=True)
    limit = limit_of(route, services)
    over, unread = post(app, route, services, declared=limit + 1, headers=headers)
    assert_problem(over, 413)
    assert unread.pulled == 0
    # At the limit the body is read (and, lacking the capture's fields, refused after).
    body = CountingBody(body_head(route), limit, tail=f"\r\n--{BOUNDARY}--\r\n".encode())
    at = TestClient(app).post(
        route.path,
        content=iter(body),
        headers={"Content-Type": content_type(route), "Content-Length": str(limit)} | headers,
    )
    assert_problem(at, 422)
    assert body.pulled == limit


def test_an_upload_form_needs_its_token_outside_the_body(app: FastAPI, services: Services) -> None:
    add_person(services, "sam", "staff")
    staff = TestClient(app, follow_redirects=False)
    assert sign_in(staff, "sam").status_code == 303
    token = csrf_of(staff.get("/upload"))
    upload = BodyRoute("POST", "/upload", files=True, body=True)
    # A token inside a multipart body is not looked for: that would mean reading it.
    field = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
    for query, head in (("", field.encode()), ("?csrf_token=forged", b"")):
        body = CountingBody(head + body_head(upload), 1000)
        response = staff.post(
            "/upload" + query,
            content=iter(body),
            headers={"Content-Type": content_type(upload), "Content-Length": "1000"},
        )
        assert_refused_unread(upload, response, body)
        assert response.status_code == 403 and "Form expired" in response.text
    # Outside the body (in the header, or the address as the page's form sends it) it is
    # checked unread, and the upload goes on to the page's own checks.
    response = staff.post(
        "/upload",
        headers={"X-CSRF-Token": token},
        data={"record_type": "minutes", "record_date": "2024-01-01"},
        files=[("files", ("", b"", "application/octet-stream"))],
    )
    assert response.status_code == 422 and 'id="files-error"' in response.text


# --- bodies without a Content-Length, driven through ASGI to count every chunk --------


@dataclass
class ChunkedBody:
    """An ASGI ``receive`` that sends a body in chunks, counting them: twice the
    route's limit in all, so that an app that never stops reading still ends."""

    head: bytes
    size: int
    sent: int = 0
    messages: list[Message] = field(default_factory=list)

    async def receive(self) -> Message:
        if self.sent >= self.size:
            return {"type": "http.disconnect"}
        chunk = self.head if self.sent == 0 else b"x" * CHUNK
        self.sent += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": self.sent < self.size}

    async def send(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        starts = [m for m in self.messages if m["type"] == "http.response.start"]
        assert len(starts) == 1, self.messages
        status: int = starts[0]["status"]
        return status


def send_chunked(app: FastAPI, route: BodyRoute, size: int, headers: dict[str, str]) -> ChunkedBody:
    """Send ``route`` a chunked body of ``size`` bytes through the app's ASGI interface."""
    body = ChunkedBody(body_head(route), size)
    raw = {"content-type": content_type(route), "transfer-encoding": "chunked"} | headers
    path, _, query = route.path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": route.method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in raw.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    anyio.run(app, scope, body.receive, body.send)
    return body


def signed_in_headers(app: FastAPI, services: Services) -> Callable[[BodyRoute], dict[str, str]]:
    """Credentials of a staff user for any route: a bearer token, or a session cookie
    and its CSRF token (staff: a route that reads no body refuses them unread)."""
    bearer = make_user(services, "cat", "staff")
    add_person(services, "sam", "staff")
    browser = TestClient(app, follow_redirects=False)
    assert sign_in(browser, "sam").status_code == 303
    token = csrf_of(browser.get("/"))
    cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    web = {"cookie": cookie, "x-csrf-token": token}
    return lambda route: web if route.web else bearer


def test_a_chunked_body_is_cut_off_as_it_passes_the_limit(app: FastAPI, services: Services) -> None:
    credentials = signed_in_headers(app, services)
    # Signing out reads no body, and would end the session the others use: it goes last.
    routes = sorted(body_routes(app), key=lambda r: r.path == "/logout")
    assert any(r.files for r in routes) and any(r.body and not r.files for r in routes)
    for route in routes:
        limit = limit_of(route, services)
        body = send_chunked(app, route, 2 * limit, credentials(route))
        if route.body:
            assert limit < body.sent <= limit + CHUNK, f"{route}: read {body.sent} bytes"
            assert body.status == 413, route
        else:  # the route reads no body, and answers without it
            assert body.sent == 0 and body.status in (303, 403), (route, body.status)


def test_an_uploaded_file_is_spooled_to_disk_without_a_thread_per_chunk(
    client: TestClient, actors: Actors, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past 1 MiB Starlette writes each chunk of a file through the thread pool; the
    intake's parser writes it in place, and the stored bytes are the same."""
    hops: list[str] = []
    hop = starlette.concurrency.run_in_threadpool

    def counted(func: Callable[..., object], *args: object) -> Any:
        hops.append(getattr(func, "__name__", ""))
        return hop(func, *args)

    monkeypatch.setattr(starlette.datastructures, "run_in_threadpool", counted)
    content = bytes(range(256)) * (6 * 1024)  # 1.5 MiB: rolls over to disk
    response = capture(client, actors.staff, content=content, filename="large.bin", contract="")

    assert response.status_code == 201, response.text
    assert "write" not in hops
    version = response.json()["versions"][0]
    assert version["size"] == len(content)
    assert version["sha256"] == hashlib.sha256(content).hexdigest()


def test_a_large_upload_is_spooled_into_the_blob_store_and_stored_without_a_copy(
    client: TestClient, actors: Actors, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a local store the spool past 1 MiB is one of the store's staging files, which
    capture links under its key: the system's temporary directory is never used."""
    store = services.store
    assert isinstance(store, LocalBlobStore)
    monkeypatch.setattr(tempfile, "tempdir", str(store.root / "no-such-directory"))
    content = bytes(range(256)) * (6 * 1024) + b"end"  # 1.5 MiB: rolls over

    first = capture(client, actors.staff, content=content, filename="large.bin", contract="")
    assert first.status_code == 201, first.text
    record_id = first.json()["id"]
    again = client.post(
        f"/api/records/{record_id}/versions",
        files={"file": ("large.bin", io.BytesIO(content[::-1]), "application/octet-stream")},
        headers=actors.staff,
    )
    assert again.status_code == 201, again.text

    for number, expected in ((1, content), (2, content[::-1])):
        version = again.json()["versions"][number - 1]
        assert version["sha256"] == hashlib.sha256(expected).hexdigest()
        body = client.get(
            f"/api/records/{record_id}/content", params={"version": number}, headers=actors.staff
        )
        assert body.content == expected
    assert store.leftovers(timedelta(0)) == ()  # no staging file is left behind
