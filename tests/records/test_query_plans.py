"""On SQLite, which has no table statistics unless ANALYZE runs, queries that filter
records by contract use the contract index, whatever else they filter by."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from records_service.db import make_engine
from records_service.migrations import upgrade

QUERIES = [
    "SELECT count(*) FROM records WHERE contract_id = 7 AND status = 'active'",
    "SELECT * FROM records WHERE contract_id = 7 AND status = 'active' AND record_type = 'x'",
    "SELECT * FROM records WHERE contract_id = 7 ORDER BY record_date DESC, id LIMIT 50",
]


@pytest.mark.parametrize("query", QUERIES)
def test_a_query_by_contract_uses_the_contract_index(tmp_path: Path, query: str) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/plan.db")
    try:
        upgrade(engine)
        with engine.connect() as connection:
            plan = connection.execute(text(f"EXPLAIN QUERY PLAN {query}")).all()
    finally:
        engine.dispose()
    steps = " | ".join(str(row[3]) for row in plan)
    assert "USING INDEX ix_records_contract_type (contract_id=?" in steps, steps
