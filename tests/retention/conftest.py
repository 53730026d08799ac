"""Retention tests run with a full fixity pass, so every scenario's findings are exact."""

from __future__ import annotations

from pathlib import Path

import pytest

from factories import make_settings
from records_service.settings import RetentionSettings, Settings


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Embedded-default settings on the parametrised database, fixity on every version."""
    return make_settings(tmp_path, db_url, retention=RetentionSettings(fixity="full"))
