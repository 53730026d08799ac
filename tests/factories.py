"""Builders of valid test objects, with explicit overrides and no unseeded randomness."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from records_service.auth.service import add_user, issue_token
from records_service.db import session_scope
from records_service.runtime.services import Services
from records_service.settings import Settings, StorageSettings
from support.s3server import S3ServerInfo


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass(frozen=True)
class Actors:
    """Bearer headers for one user of each role."""

    staff: dict[str, str]
    staff2: dict[str, str]
    reviewer: dict[str, str]
    records_manager: dict[str, str]
    auditor: dict[str, str]
    admin: dict[str, str]


def make_user(services: Services, username: str, *roles: str) -> dict[str, str]:
    """Create a user and return its bearer header."""
    with session_scope(services.engine) as session:
        add_user(session, username=username, roles=roles, clock=services.clock)
        token = issue_token(session, username=username, clock=services.clock)
    return {"Authorization": f"Bearer {token}"}


def make_actors(services: Services) -> Actors:
    """One user for every role (two staff)."""
    return Actors(
        staff=make_user(services, "sam", "staff"),
        staff2=make_user(services, "sue", "staff"),
        reviewer=make_user(services, "rita", "reviewer"),
        records_manager=make_user(services, "rob", "records_manager"),
        auditor=make_user(services, "aud", "auditor"),
        admin=make_user(services, "ada", "admin"),
    )


def contract_body(reference: str = "OPCC-2023-014", **overrides: Any) -> dict[str, Any]:
    """A valid contract-creation body."""
    body: dict[str, Any] = {
        "reference": reference,
        "title": "Domestic abuse helpline",
        "provider": "Safe Haven Trust",
        "funding_stream": "MoJ Victims Grant",
        "awarded_value_pence": 4_500_000,
        "start_date": "2023-04-01",
        "end_date": "2026-03-31",
        "status": "active",
    }
    body.update(overrides)
    return body


def create_contract(client: TestClient, headers: dict[str, str], **overrides: Any) -> Response:
    """POST a contract and return the response."""
    response: Response = client.post(
        "/api/contracts", json=contract_body(**overrides), headers=headers
    )
    return response


def record_form(**overrides: Any) -> dict[str, Any]:
    """Valid multipart form fields for a capture."""
    form: dict[str, Any] = {
        "title": "Needs assessment 2023",
        "record_type": "needs_assessment",
        "contract": "OPCC-2023-014",
        "record_date": "2023-01-20",
        "tags": "victims,helpline",
        "classification": "OFFICIAL",
        "originator": "Commissioning team",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def capture(
    client: TestClient,
    headers: dict[str, str],
    content: bytes = b"Needs assessment for the domestic abuse helpline.\n",
    filename: str = "needs.txt",
    **overrides: Any,
) -> Response:
    """POST a capture and return the response."""
    response: Response = client.post(
        "/api/records",
        data=record_form(**overrides),
        files={"file": (filename, io.BytesIO(content), "application/octet-stream")},
        headers=headers,
    )
    return response


def make_settings(tmp_path: Path, db_url: str, **overrides: object) -> Settings:
    """Settings for the embedded default inside ``tmp_path``."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        max_upload_bytes=2 * 1024 * 1024,
        **overrides,  # type: ignore[arg-type]
    )


def s3_storage_settings(info: S3ServerInfo, bucket: str | None = None) -> StorageSettings:
    """Storage settings for the test S3 server with a fresh bucket."""
    return StorageSettings(
        backend="s3",
        endpoint=info.endpoint,
        bucket=bucket or f"t-{uuid.uuid4().hex[:12]}",
        access_key=info.access_key,
        secret_key=info.secret_key,
        secure=True,
        ca_bundle=info.ca_bundle,
        region=info.region,
        object_lock=True,
    )


def assert_problem(response: Response, status: int) -> dict[str, Any]:
    """Check that ``response`` is an RFC 9457 problem with ``status``; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    return body
