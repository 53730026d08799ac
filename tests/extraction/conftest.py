"""Shared fixtures for the extraction tests: the committed sample documents."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def sample() -> Path:
    """The folder of committed sample documents."""
    if not (FIXTURES / "victim-services.pdf").is_file():
        pytest.fail(f"sample documents missing from {FIXTURES}; run make_fixtures.py")
    return FIXTURES
