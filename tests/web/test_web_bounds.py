"""Every web page bounds its inputs: a NUL, a bidi override or a number past 64 bits in
any path, query or form field is a 4xx page, never a 500, on SQLite and PostgreSQL.

The cases are generated from the app's route table, so a new page is covered too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.testclient import TestClient
from pydantic import BaseModel

from factories import FixedClock, make_settings
from records_service.app import create_app
from records_service.runtime.services import Services
from support.routes import Operation, operations
from web.signin import add_person, csrf_of, sign_in

HOSTILE_TEXT = ("a\x00b", "a\u202eb", "x" * 5000, "9999-12-31", "0001-01-01")
# Filters some pages read from the query string as a whole rather than as declared
# parameters: each page gets them all.
UNDECLARED = ("subject", "actor", "action", "from", "to", "kind", "state", "status", "next")
HUGE = str(2**63)


@pytest.fixture
def admin(tmp_path: Path, db_url: str, clock: FixedClock) -> Iterator[TestClient]:
    """An admin signed in through the login form of an app on the parametrised database."""
    app = create_app(make_settings(tmp_path, db_url), clock=clock, background=False)
    with TestClient(app, follow_redirects=False) as client:
        services: Services = app.state.services
        add_person(services, "ada", "admin", "records_manager")
        assert sign_in(client, "ada").status_code == 303
        yield client


def _web_operations(client: TestClient) -> list[Operation]:
    app: Any = client.app
    return [
        op
        for op in operations(app)
        if not op.path.startswith(("/api", "/docs", "/redoc", "/openapi", "/static", "/health"))
    ]


def _is_int(param: Any) -> bool:
    return "int" in str(param.field_info.annotation)


def _path(op: Operation, value_for: dict[str, str]) -> str:
    path = op.path.replace(":path}", "}")
    for param in op.dependant.path_params:
        default = "1" if _is_int(param) else "OPCC-2023-014"
        path = path.replace("{" + param.name + "}", value_for.get(param.name, default))
    return path


def _all_params(dependant: Dependant, kind: str) -> list[Any]:
    found = list(getattr(dependant, kind))
    for sub in dependant.dependencies:
        found += _all_params(sub, kind)
    return found


def _form_fields(dependant: Dependant) -> list[str]:
    names = []
    for param in _all_params(dependant, "body_params"):
        model = param.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            names += [field.alias or name for name, field in model.model_fields.items()]
        else:
            names.append(param.alias)
    return [name for name in names if name not in {"file", "files", "csrf_token"}]


def _answers(client: TestClient, method: str, url: str, **kwargs: Any) -> int:
    response = client.request(method, url, **kwargs)
    status: int = response.status_code
    assert status < 500, (method, url, kwargs.get("params"), response.text[:400])
    return status


def test_no_web_input_reaches_a_500(admin: TestClient) -> None:
    csrf = csrf_of(admin.get("/"))
    tried = 0
    for op in _web_operations(admin):
        for method in sorted(op.methods - {"HEAD"}):
            for param in op.dependant.path_params:
                hostile = HUGE if _is_int(param) else "a%00b"
                url = _path(op, {param.name: hostile})
                _answers(admin, method, url, data={"csrf_token": csrf})
                tried += 1
            names = {p.alias for p in _all_params(op.dependant, "query_params")}
            for name in sorted(names | set(UNDECLARED)):
                for value in (*HOSTILE_TEXT, HUGE):
                    _answers(admin, method, _path(op, {}), params={name: value})
                    tried += 1
            for name in _form_fields(op.dependant):
                for value in HOSTILE_TEXT:
                    form = {"csrf_token": csrf, name: value}
                    _answers(admin, method, _path(op, {}), data=form)
                    tried += 1
    assert tried > 100, "the route table gave too few cases to mean anything"
