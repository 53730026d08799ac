"""The migrations build exactly the schema the models describe, on both databases,
and a released migration always emits the SQL it was released with."""

from __future__ import annotations

import hashlib
import io

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory

from records_service.db import make_engine
from records_service.migrations import alembic_config
from records_service.migrations.tables import metadata


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, metadata())
    finally:
        engine.dispose()
    assert differences == []


# The first 16 hex digits of the SHA-256 of the SQL each released revision emits in
# offline (``--sql``) mode, stepping up from the revision before it and down to it.
# A refactor of a released migration must leave these alone. On SQLite, 0008 and 0012
# rebuild tables, which Alembic can render only against a live database; their
# PostgreSQL SQL is pinned, and the schema test above checks what they build.
PINNED_SQL: dict[str, dict[str, str]] = {
    "postgresql": {
        "0001 up": "6fa461a4436090b7",
        "0001 down": "059fc8d553050a8b",
        "0002 up": "0b33563095a46b44",
        "0002 down": "c3b0807eda16eb68",
        "0003 up": "c29b42bfd8975b6a",
        "0003 down": "f0714f24e1260c60",
        "0004 up": "65144dc18fc3db8b",
        "0004 down": "e6506a170931c98b",
        "0005 up": "780e5cd3669bae8e",
        "0005 down": "7ee798493da831c6",
        "0006 up": "e021617cd817ba61",
        "0006 down": "3272f53ddddf1791",
        "0007 up": "83edfed652735223",
        "0007 down": "6404878dd98407cb",
        "0008 up": "dd173e2ec5f22f22",
        "0008 down": "c1a296a9c83f7531",
        "0009 up": "ee626dd54333292d",
        "0009 down": "92f9ef5ad24684c3",
        "0010 up": "59bdc95022826fd2",
        "0010 down": "3f4f2bbbc3ca2eee",
        "0011 up": "2281f78587a8fd17",
        "0011 down": "703df15902bae14d",
        "0012 up": "91059f64ad08ebfb",
        "0012 down": "68c4649d8b9144ee",
    },
    "sqlite": {
        "0001 up": "691b73ff746b537d",
        "0001 down": "b323925663859903",
        "0002 up": "882916802034c1ed",
        "0002 down": "9fd2da4f53b31023",
        "0003 up": "a7c033517b637d99",
        "0003 down": "e8d299a2777d9292",
        "0004 up": "cea1958067ea61c7",
        "0004 down": "9ba747bbbbd440bb",
        "0005 up": "136ef86d4f8a3ad1",
        "0005 down": "c12cb8ecee0c92c2",
        "0006 up": "164bbbcf9ddd6946",
        "0006 down": "bd4e1554493798e9",
        "0007 up": "7ba80e3375c01151",
        "0007 down": "f2ed1394c90bf939",
        "0009 up": "216a700c4e8fc6b2",
        "0009 down": "37e486c09c86f928",
        "0010 up": "62c64442ea4e7bb8",
        "0010 down": "9923c754e1cea18b",
        "0011 up": "13e3e1c31b093c08",
        "0011 down": "92679887252b96c5",
    },
}
RELEASED = tuple(f"{number:04d}" for number in range(1, 13))


def _offline_sql(dialect: str, start: str | None, destination: str, *, upward: bool) -> str:
    """What ``alembic upgrade``/``downgrade start:destination --sql`` prints for ``dialect``."""
    config = alembic_config()
    script = ScriptDirectory.from_config(config)
    output = io.StringIO()

    def steps(revision: object, _context: object) -> object:
        if upward:
            return script._upgrade_revs(destination, revision)  # type: ignore[arg-type]
        return script._downgrade_revs(destination, revision)  # type: ignore[arg-type]

    with EnvironmentContext(
        config, script, fn=steps, as_sql=True, starting_rev=start, destination_rev=destination
    ) as environment:
        environment.configure(
            dialect_name=dialect, output_buffer=output, render_as_batch=dialect == "sqlite"
        )
        with environment.begin_transaction():
            environment.run_migrations()
    return output.getvalue()


def _digest(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()[:16]


@pytest.mark.parametrize("dialect", sorted(PINNED_SQL))
def test_released_migrations_emit_the_sql_they_were_released_with(dialect: str) -> None:
    emitted: dict[str, str] = {}
    previous: str | None = None
    for revision in RELEASED:
        if f"{revision} up" in PINNED_SQL[dialect]:
            emitted[f"{revision} up"] = _digest(
                _offline_sql(dialect, previous, revision, upward=True)
            )
            emitted[f"{revision} down"] = _digest(
                _offline_sql(dialect, revision, previous or "base", upward=False)
            )
        previous = revision
    changed = sorted(key for key, pinned in PINNED_SQL[dialect].items() if emitted[key] != pinned)
    assert changed == [], f"released migrations now emit other SQL on {dialect}: {changed}"
