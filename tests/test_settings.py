"""Typed settings from RECORDS_* variables, with a description on every field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from records_service.settings import describe_settings, load_settings


def test_environment_overrides_nested_groups(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RECORDS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RECORDS_STORAGE__BACKEND", "s3")
    monkeypatch.setenv("RECORDS_STORAGE__BUCKET", "opcc-records")
    monkeypatch.setenv("RECORDS_STORAGE__SECRET_KEY", "s3cr3t")
    monkeypatch.setenv("RECORDS_MAX_UPLOAD_BYTES", "1024")
    settings = load_settings()
    assert settings.storage.backend == "s3"
    assert settings.storage.bucket == "opcc-records"
    assert settings.storage.secret_key.get_secret_value() == "s3cr3t"
    assert "s3cr3t" not in repr(settings)
    assert settings.max_upload_bytes == 1024
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'records.db').resolve()}"
    assert settings.blob_root == tmp_path / "blobs"


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECORDS_STORAGE__BACKEND", "floppy")
    with pytest.raises(ValidationError, match="backend"):
        load_settings()


def test_every_setting_is_described() -> None:
    rows = describe_settings()
    names = [name for name, _, _ in rows]
    assert "RECORDS_STORAGE__ENDPOINT" in names and "RECORDS_DATA_DIR" in names
    missing = [name for name, _, text in rows if len(text) < 10]
    assert missing == []


def test_readme_configuration_table_is_current() -> None:
    """The README's table is `records-service config --markdown`; keep them in step."""
    from click.testing import CliRunner

    from records_service.cli import main

    table = CliRunner().invoke(main, ["config", "--markdown"]).output.strip()
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert table in readme
