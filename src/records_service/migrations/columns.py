"""Column and index pieces that many migrations spell the same way.

A timestamp column, a foreign key to another table's ``id``, the ``recorded_at`` /
``recorded_by`` pair of the money tables, and the plain ``ix_<table>_<column>``
indexes Alembic's autogenerate writes. Each helper builds new objects on every call,
because a column or constraint belongs to the one table it is created with.

What these functions emit is part of the schema's history, because applied
migrations call them: never change the SQL an existing function emits
(tests/test_migrations.py pins every released migration's SQL).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from records_service.sqltypes import UTCDateTime


def utc(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    """A timezone-aware UTC timestamp column."""
    return sa.Column(name, UTCDateTime(timezone=True), nullable=nullable)


def references(column: str, table: str) -> sa.ForeignKeyConstraint:
    """``column`` is a foreign key to ``table.id``."""
    return sa.ForeignKeyConstraint([column], [f"{table}.id"])


def recorded() -> tuple[sa.Column[Any], sa.Column[Any]]:
    """When and by whom (a username) a row of a money table was recorded."""
    return (
        utc("recorded_at"),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
    )


def create_indexes(table: str, *columns: str) -> None:
    """Index each of ``columns`` on its own, named ``ix_<table>_<column>``."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def drop_indexes(table: str, *columns: str) -> None:
    """Drop the ``ix_<table>_<column>`` index of each of ``columns``, in that order."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))
