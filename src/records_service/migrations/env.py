"""Alembic environment: runs migrations on the engine handed over by the service."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from records_service.db import LONG_WRITE_OPTION, make_engine
from records_service.migrations.tables import metadata

config = context.config
target_metadata = metadata()


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if isinstance(engine, Engine):
        return engine
    return make_engine(config.get_main_option("sqlalchemy.url") or "")


def run_migrations_online() -> None:
    """Run every pending migration in one transaction."""
    with _engine().connect() as connection:
        # A migration rewrites whole tables: it may hold the lock past a request's bound.
        connection.execution_options(**{LONG_WRITE_OPTION: True})
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
