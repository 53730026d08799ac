"""Pending sidecars: each capture queues its version's JSON sidecar for the worker.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import records_service.sqltypes

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_sidecars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=512), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "enqueued_at", records_service.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("storage_key"),
    )
    with op.batch_alter_table("pending_sidecars", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pending_sidecars_record_id"), ["record_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("pending_sidecars", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_sidecars_record_id"))
    op.drop_table("pending_sidecars")
