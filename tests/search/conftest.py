"""The search use case runs on both engines: every test here, once on each."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["tantivy", "whoosh"])
def search_engine(request: pytest.FixtureRequest) -> str:
    """tantivy (the default) and Whoosh, which stays supported."""
    return str(request.param)
