"""Drop ``ix_records_contract_id``: ``ix_records_contract_type`` (contract_id,
record_type) already serves lookups by contract, so the single-column index only
cost every capture one more B-tree write.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 17:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_index("ix_records_contract_id")


def downgrade() -> None:
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.create_index("ix_records_contract_id", ["contract_id"], unique=False)
