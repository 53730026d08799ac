"""OCR, message attachments as records, and the register of known gaps.

``version_texts.ocr`` says that a version's text was (in part) recognised by OCR.
``record_parts`` links each attachment's record to its message; ``pending_splits``
queues the message versions whose attachments are still to become records (the
messages already held are queued here, so their attachments are taken too).
``known_gaps`` is the register of records known to be missing from a contract file.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import records_service.sqltypes

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("version_texts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ocr", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    _create_parts()
    _create_known_gaps()


def _create_parts() -> None:
    op.create_table(
        "record_parts",
        sa.Column("part_record_id", sa.String(length=32), nullable=False),
        sa.Column("whole_record_id", sa.String(length=32), nullable=False),
        sa.Column("whole_version", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["part_record_id"], ["records.id"]),
        sa.ForeignKeyConstraint(["whole_record_id"], ["records.id"]),
        sa.PrimaryKeyConstraint("part_record_id"),
        sa.UniqueConstraint(
            "whole_record_id", "whole_version", "position", name="uq_record_parts_position"
        ),
    )
    with op.batch_alter_table("record_parts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_record_parts_whole_record_id"), ["whole_record_id"], unique=False
        )
    op.create_table(
        "pending_splits",
        sa.Column("record_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "enqueued_at", records_service.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"]),
        sa.PrimaryKeyConstraint("record_id", "version"),
    )
    # The e-mail messages captured before attachments became records.
    op.execute(
        "INSERT INTO pending_splits (record_id, version, enqueued_at) "
        "SELECT v.record_id, v.number, v.captured_at FROM versions v "
        "JOIN records r ON r.id = v.record_id "
        "WHERE v.media_type = 'message/rfc822' AND r.status IN ('active', 'on_hold')"
    )


def _create_known_gaps() -> None:
    utc = records_service.sqltypes.UTCDateTime(timezone=True)
    op.create_table(
        "known_gaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("record_type", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("reported_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", utc, nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("closed_at", utc, nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("found_record_id", sa.String(length=32), nullable=True),
        sa.Column("close_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["closed_by_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"]),
        sa.ForeignKeyConstraint(["found_record_id"], ["records.id"]),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("known_gaps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_known_gaps_contract_id"), ["contract_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("known_gaps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_known_gaps_contract_id"))
    op.drop_table("known_gaps")
    op.drop_table("pending_splits")
    with op.batch_alter_table("record_parts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_parts_whole_record_id"))
    op.drop_table("record_parts")
    with op.batch_alter_table("version_texts", schema=None) as batch_op:
        batch_op.drop_column("ocr")
