"""The database-side guards that make a table append-only, for migrations to install.

Migrations 0001 (the audit tables) and 0002 (disposal records) install them,
and any later append-only table should too. On SQLite they are triggers that
abort UPDATE, DELETE and an INSERT that would replace an existing row; on
PostgreSQL, row and statement triggers that call ``records_refuse_change()``,
which refuses UPDATE, DELETE and TRUNCATE.

What these functions emit is part of the schema's history, because applied
migrations call them: never change the SQL an existing function emits. A new
kind of guard gets a new function.
"""

from __future__ import annotations

from alembic import op

PG_REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION records_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""


def install_refuse_function() -> None:
    """Create PostgreSQL's ``records_refuse_change()`` trigger function (0001 does)."""
    if op.get_bind().dialect.name != "sqlite":
        op.execute(PG_REFUSE_FUNCTION)


def guard_table(table: str, existing_row: str) -> None:
    """Make ``table`` append-only on the bound database.

    ``existing_row`` is the SQL condition, in terms of ``NEW``, that finds a
    row an INSERT would replace; SQLite's ``INSERT OR REPLACE`` deletes that
    row without firing DELETE triggers, so such an insert is refused first.
    PostgreSQL has no replacing insert and needs ``install_refuse_function``.
    """
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_guards(table, existing_row)
    else:
        _postgres_guards(table)


def _sqlite_guards(table: str, existing_row: str) -> None:
    op.execute(
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END"
    )
    op.execute(
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: DELETE refused'); END"
    )
    op.execute(
        f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
        f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {existing_row}) "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: REPLACE refused'); END"
    )


def _postgres_guards(table: str) -> None:
    op.execute(
        f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION records_refuse_change()"
    )
    op.execute(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION records_refuse_change()"
    )
