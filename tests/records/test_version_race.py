"""Two new versions of one record at once: the loser must leave the winner's content alone.

Both uploads are for version N. The loser learns it lost only at its commit, and then
removes what it uploaded. On S3 the "is the key free?" check and the upload are two
requests, so with a shared key the loser's upload could replace the winner's bytes
and its clean-up remove them. Each attempt therefore uploads under its own key.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from factories import FixedClock, capture, make_actors, make_settings, s3_storage_settings
from records_service.app import create_app
from records_service.auth.service import get_user
from records_service.db import read_scope
from records_service.errors import Conflict
from records_service.records.capture import add_version
from records_service.records.models import Record
from records_service.runtime.services import Services
from support.s3server import S3ServerInfo

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


class RacingSource(io.BytesIO):
    """Upload content that runs ``meanwhile`` once the upload has begun.

    The capture reads the first chunk to sniff the media type before it calls the
    store; the second read (``read`` or ``readinto``) happens inside the store's ``put``.
    """

    def __init__(self, content: bytes, meanwhile: Callable[[], None]) -> None:
        super().__init__(content)
        self._meanwhile: Callable[[], None] | None = meanwhile
        self._reads = 0

    def read(self, size: int | None = -1, /) -> bytes:
        self._count_read()
        return super().read(size)

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        self._count_read()
        return super().readinto(buffer)

    def _count_read(self) -> None:
        self._reads += 1
        if self._reads == 2 and self._meanwhile is not None:
            run, self._meanwhile = self._meanwhile, None
            run()


@pytest.fixture(params=["local", "s3"])
def race_client(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_url: str, clock: FixedClock
) -> Iterator[TestClient]:
    overrides: dict[str, object] = {}
    if request.param == "s3":
        server: S3ServerInfo = request.getfixturevalue("s3_server")
        overrides["storage"] = s3_storage_settings(server)
    settings = make_settings(tmp_path, sqlite_url, **overrides)
    with TestClient(create_app(settings, clock=clock, background=False)) as client:
        yield client


def _record(services: Services, record_id: str) -> Record:
    with read_scope(services.engine) as session:
        record = session.get(Record, record_id)
    assert record is not None
    return record


def test_a_losing_new_version_leaves_the_winners_content(race_client: TestClient) -> None:
    services: Services = race_client.app.state.services  # type: ignore[attr-defined]
    actors = make_actors(services)
    record_id = capture(race_client, actors.staff, contract=None).json()["id"]
    seen = _record(services, record_id)  # both writers start from version 1
    winner = f"the winner's version 2 {uuid.uuid4().hex}\n".encode()
    loser = f"the loser's version 2, uploaded at the same time {uuid.uuid4().hex}\n".encode()
    with read_scope(services.engine) as session:
        user = get_user(session, "sam")

    def add(source: io.BytesIO) -> None:
        add_version(
            services.capture_context(),
            record=seen,
            contract_ref=None,
            tags=[],
            source=source,
            filename="v2.txt",
            actor=user,
        )

    with pytest.raises(Conflict):
        add(RacingSource(loser, lambda: add(io.BytesIO(winner))))

    got = race_client.get(f"/api/records/{record_id}/content?version=2", headers=actors.staff)
    assert got.status_code == 200, got.text
    assert got.content == winner
    body = race_client.get(f"/api/records/{record_id}", headers=actors.staff).json()
    assert [v["sha256"] for v in body["versions"]][1] == hashlib.sha256(winner).hexdigest()
    stored = sorted(services.store.list(f"records/{record_id}/"))
    assert [b"".join(services.store.open(key)) for key in stored[1:]] == [winner]
