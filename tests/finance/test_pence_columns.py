"""Every money column is the shared pence type: 64-bit, and refusing anything but
integer pence on the way in (a float of pounds is never stored and rounded), on SQLite
and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import StatementError
from sqlmodel import select

from factories import Actors, create_contract
from records_service.contracts.models import Contract
from records_service.db import session_scope
from records_service.migrations.tables import metadata
from records_service.runtime.services import Services
from records_service.sqltypes import PenceType


def test_every_pence_column_is_the_pence_type() -> None:
    columns = [
        (table.name, column.name, type(column.type).__name__)
        for table in metadata().sorted_tables
        for column in table.columns
        if column.name.endswith("_pence")
    ]
    assert ("contracts", "awarded_value_pence", "PenceType") in columns
    assert [c for c in columns if c[2] != PenceType.__name__] == []


def test_the_awarded_value_refuses_what_is_not_integer_pence(
    client: TestClient, actors: Actors, services: Services
) -> None:
    response = create_contract(
        client, actors.staff, reference="PENCE-1", awarded_value_pence=1_250_000
    )
    assert response.status_code == 201, response.text
    for value in (12_500.5, Decimal("12500.00"), True):
        refused = pytest.raises(StatementError, match="money must be integer pence")
        with refused, session_scope(services.engine) as session:
            contract = session.exec(select(Contract)).one()
            contract.awarded_value_pence = value  # type: ignore[assignment]
        with session_scope(services.engine) as session:
            assert session.exec(select(Contract.awarded_value_pence)).one() == 1_250_000
