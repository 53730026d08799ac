"""Widen ``contracts.awarded_value_pence`` to 64 bits. It was a 32-bit integer on
PostgreSQL, so any award over £21,474,836.47 could not be stored there (SQLite's
integers were always 64-bit); the service accepts awards up to £1 trillion.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.alter_column(
            "awarded_value_pence", existing_type=sa.Integer(), type_=sa.BigInteger()
        )


def downgrade() -> None:
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.alter_column(
            "awarded_value_pence", existing_type=sa.BigInteger(), type_=sa.Integer()
        )
