"""Property-based fuzzing of every operation in the served OpenAPI document.

Schemathesis turns each operation's documented parameters and bodies into
Hypothesis strategies (valid and invalid data); every example is sent to a real
app in process, once on SQLite and once on PostgreSQL, as each role and as no
one. Every response must be:

- no 5xx (an unhandled exception fails the example with its traceback);
- a status code the document declares for that operation;
- of a declared content type, with a body that matches the declared schema,
  and with the declared headers.

Each operation, identity and database has a fixed seed and a bounded number of
examples, so a run is reproducible and the whole module stays within about two
minutes on two cores. Some examples use the ids of a seeded contract and record,
so the fuzzing reaches past "not found". A failure shows the exception or the
check that failed and a curl command that reproduces it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from schemathesis.generation.case import Case
from schemathesis.schemas import APIOperation, BaseSchema

from factories import FixedClock, capture, create_contract, make_settings, make_user
from records_service.app import create_app
from records_service.audit.keys import ensure_signing_key
from support.postgres import PostgresServer
from support.role_matrix import IDENTITIES, ROLES, ROUTES

pytestmark = pytest.mark.timeout(600)

# Examples per operation and identity. An identity the role matrix refuses stops at
# the 401 or 403, so it needs only a few to show that nothing before that breaks.
# RECORDS_FUZZ_EXAMPLES raises the first for a deeper run by hand.
EXAMPLES = int(os.environ.get("RECORDS_FUZZ_EXAMPLES", "6"))
REFUSED_EXAMPLES = 2
CONTRACT = "FUZZ-2024-001"

# Each check is one of the assertions the module docstring lists.
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
Operation = APIOperation[Any, Any, Any, Any]


def _operation_labels() -> list[str]:
    """The operations of the document the app serves, read when the tests are collected."""
    with tempfile.TemporaryDirectory() as folder:
        settings_ = make_settings(Path(folder), f"sqlite:///{folder}/unused.db")
        document = create_app(settings_, background=False).openapi()
    methods = {"get", "put", "post", "patch", "delete"}
    return [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
        if method in methods
    ]


OPERATIONS = _operation_labels()


@dataclass(frozen=True)
class Target:
    """The app under test, its schema, a bearer header per role and the seeded ids."""

    database: str
    app: ASGIApp
    schema: BaseSchema
    headers: dict[str, dict[str, str]]
    known_ids: dict[str, str]


def _without_lifespan(app: Any) -> ASGIApp:
    """``app`` for schemathesis: the test client owns the lifespan, so it runs once."""

    async def serve(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        await app(scope, receive, send)

    return serve


def _database(request: pytest.FixtureRequest, root: Path) -> Iterator[str]:
    """A fresh migrated database: a copy of the SQLite template, or one from PostgreSQL's."""
    if request.param == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_template"), root / "data" / "records.db")
        yield f"sqlite:///{root}/data/records.db"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    name = f"fuzz_{uuid.uuid4().hex[:12]}"
    server.execute(f'CREATE DATABASE "{name}" TEMPLATE records_template')  # see conftest
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """One real app per database for the whole module, one user per role and seed data."""
    root = tmp_path_factory.mktemp("fuzz")
    (root / "data").mkdir()
    databases = _database(request, root)
    settings_ = make_settings(root, next(databases))
    ensure_signing_key(settings_)  # as `records-service init` does
    clock = FixedClock(datetime(2026, 6, 15, 9, 30, tzinfo=UTC))
    app = create_app(settings_, clock=clock, background=False)
    with TestClient(app) as client:
        services = client.app.state.services  # type: ignore[attr-defined]
        headers = {role: make_user(services, f"fuzz-{role}", role) for role in ROLES}
        headers["anonymous"] = {}
        assert create_contract(client, headers["staff"], reference=CONTRACT).status_code == 201
        record = capture(client, headers["staff"], contract=CONTRACT)
        assert record.status_code == 201, record.text
        known = {"reference": CONTRACT, "record_id": record.json()["id"]}
        while services.run_background_once():  # as the worker does: the index is built
            pass
        wrapped = _without_lifespan(app)
        schema = schemathesis.openapi.from_asgi("/openapi.json", wrapped)
        yield Target(
            database=request.param, app=wrapped, schema=schema, headers=headers, known_ids=known
        )
    next(databases, None)


def _cases(operation: Operation, headers: dict[str, str], known: dict[str, str]) -> Any:
    """Valid and invalid examples; half of those with ids use the seeded ones."""
    strategies = [
        operation.as_strategy(generation_mode=mode, headers=headers)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]
    names = {p.name for p in operation.path_parameters}
    fixed = {name: value for name, value in known.items() if name in names}
    if fixed:
        strategies.append(
            operation.as_strategy(
                generation_mode=GenerationMode.POSITIVE, headers=headers, path_parameters=fixed
            )
        )
    return st.one_of(*strategies)


def _fuzz(target: Target, operation: Operation, identity: str) -> None:
    headers = target.headers[identity]
    allowed = ROUTES[(operation.method.upper(), operation.path)]
    examples = EXAMPLES if identity in allowed else REFUSED_EXAMPLES

    # A fixed seed per operation, identity and database: every run sends the same
    # examples, and each identity and database gets different ones.
    @seed(zlib.crc32(f"{operation.label} {identity} {target.database}".encode()))
    @given(case=_cases(operation, headers, target.known_ids))
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: it would unbound the time
        # Generation is slow next to a tiny example budget; that is by design here.
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
        report_multiple_bugs=True,
    )
    def check(case: Case[Operation]) -> None:
        response = case.call(app=target.app, headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    check()


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("label", OPERATIONS)
def test_operation_survives_fuzzing(target: Target, label: str, identity: str) -> None:
    operation = target.schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the served document"
    _fuzz(target, operation, identity)


def test_the_fuzzed_operations_are_the_served_ones(target: Target) -> None:
    served = []
    for result in target.schema.get_all_operations():
        assert isinstance(result, Ok), f"an operation schemathesis cannot read: {result.err()}"
        served.append(result.ok().label)
    assert sorted(served) == sorted(OPERATIONS)
