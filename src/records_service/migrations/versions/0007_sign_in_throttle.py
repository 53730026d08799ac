"""Sign-in throttling and bounded auditing of failed requests: ``signin_throttle``
remembers recent failed password checks per user name and per client address;
``auth_failure_counts`` counts failed API requests per source, reason and interval.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import records_service.sqltypes

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signin_throttle",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column(
            "last_failure_at",
            records_service.sqltypes.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("signin_throttle", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signin_throttle_last_failure_at"), ["last_failure_at"], unique=False
        )
    op.create_table(
        "auth_failure_counts",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column(
            "interval_start",
            records_service.sqltypes.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("source", "reason", "interval_start"),
    )
    with op.batch_alter_table("auth_failure_counts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_auth_failure_counts_interval_start"), ["interval_start"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("auth_failure_counts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_failure_counts_interval_start"))
    op.drop_table("auth_failure_counts")
    with op.batch_alter_table("signin_throttle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signin_throttle_last_failure_at"))
    op.drop_table("signin_throttle")
