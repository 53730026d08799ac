"""The OpenAPI document declares the problem responses the API really sends.

Every error under ``/api`` is an RFC 9457 problem; the document says so for each
status an operation can answer with, and the real bodies match the declared model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from factories import Actors, make_settings
from records_service.api.errors import PROBLEM_JSON, Problem
from records_service.app import create_app

PUBLIC = {("get", "/api/audit/public-key")}


def _document(tmp_path: Path) -> dict[str, Any]:
    app = create_app(make_settings(tmp_path, f"sqlite:///{tmp_path}/unused.db"), background=False)
    return app.openapi()


def _api_operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, operations in document["paths"].items()
        if path.startswith("/api/")
        for method, operation in operations.items()
    ]


def test_every_error_an_operation_declares_is_a_problem(tmp_path: Path) -> None:
    model = Problem.model_json_schema()
    for method, path, operation in _api_operations(_document(tmp_path)):
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                continue
            content = response["content"]
            assert list(content) == [PROBLEM_JSON], f"{method} {path} {status}: {content}"
            schema = content[PROBLEM_JSON]["schema"]
            assert schema["required"] == model["required"], f"{method} {path} {status}"
            assert schema["properties"].keys() == model["properties"].keys()


def test_operations_behind_a_token_declare_401_and_422(tmp_path: Path) -> None:
    for method, path, operation in _api_operations(_document(tmp_path)):
        declared = set(operation["responses"])
        if (method, path) in PUBLIC:
            assert "401" not in declared, f"{method} {path} needs no token"
            continue
        assert {"401", "422", "503"} <= declared, f"{method} {path}: {sorted(declared)}"


def test_operations_that_take_a_body_declare_413(tmp_path: Path) -> None:
    """The intake refuses any body over the route's limit, before the schema sees it."""
    for method, path, operation in _api_operations(_document(tmp_path)):
        if "requestBody" in operation:
            assert "413" in operation["responses"], f"{method} {path} takes a body"


def test_operations_behind_a_permission_declare_403(tmp_path: Path) -> None:
    document = _document(tmp_path)
    assert "403" in document["paths"]["/api/users"]["get"]["responses"]
    assert "403" in document["paths"]["/api/records"]["post"]["responses"]
    assert "403" not in document["paths"]["/api/records"]["get"]["responses"]


def test_real_problems_match_the_declared_model(client: TestClient, actors: Actors) -> None:
    answers = [
        client.get("/api/records"),
        client.get("/api/users", headers=actors.staff),
        client.get("/api/records/nosuchrecord", headers=actors.staff),
        client.get("/api/records?page=0", headers=actors.staff),
        client.post("/api/contracts", json={}, headers=actors.staff),
    ]
    assert [a.status_code for a in answers] == [401, 403, 404, 422, 422]
    for answer in answers:
        assert answer.headers["content-type"] == PROBLEM_JSON
        problem = Problem.model_validate(answer.json())
        assert problem.status == answer.status_code
