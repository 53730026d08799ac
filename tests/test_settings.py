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


def test_ocr_settings_reach_the_extraction_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    from records_service.runtime.worker import extraction_limits
    from records_service.settings import ExtractionSettings

    monkeypatch.setenv("RECORDS_EXTRACTION__OCR", "off")
    monkeypatch.setenv("RECORDS_EXTRACTION__OCR_LANGUAGES", "eng+cym")
    monkeypatch.setenv("RECORDS_EXTRACTION__OCR_MAX_PAGES", "7")
    monkeypatch.setenv("RECORDS_EXTRACTION__MAX_SECONDS", "90")
    limits = extraction_limits(load_settings().extraction)
    assert (limits.ocr, limits.ocr_languages, limits.max_ocr_pages) == (False, "eng+cym", 7)
    assert limits.max_seconds == 90
    assert extraction_limits(ExtractionSettings()).ocr is True  # the default: auto
    for name, value in (("OCR", "maybe"), ("OCR_LANGUAGES", "eng; rm -rf"), ("OCR_MAX_PAGES", "0")):
        monkeypatch.setenv(f"RECORDS_EXTRACTION__{name}", value)
        with pytest.raises(ValidationError):
            load_settings()
        monkeypatch.delenv(f"RECORDS_EXTRACTION__{name}")
