"""Reading form values for pages: dates, optional text, and which field an error is about."""

from __future__ import annotations

from datetime import date

from records_service.bounds import check_text, in_date_range
from records_service.errors import DomainError
from records_service.records.models import Classification

MAX_FILTER_LENGTH = 200

# Phrases in service error messages, mapped to the form field they concern.
_FIELD_HINTS = (
    ("record_date", "record_date"),
    ("record type", "record_type"),
    ("contract", "contract"),
    ("tag", "tags"),
    ("title", "title"),
    ("password", "password"),
    ("username", "username"),
    ("role", "roles"),
    ("end_date", "end_date"),
)


def optional(text: str | None) -> str | None:
    """Trimmed text, or ``None`` when blank."""
    cleaned = (text or "").strip()
    return cleaned or None


def read_day(text: str | None) -> date | None:
    """A ``YYYY-MM-DD`` date from a form, ``None`` when blank; ``ValueError`` if malformed.

    For callers that check the date's range themselves, with a message of their own.
    """
    cleaned = (text or "").strip()
    return date.fromisoformat(cleaned) if cleaned else None


def parse_day(text: str | None) -> date | None:
    """A ``YYYY-MM-DD`` date from a form, ``None`` when blank; ``ValueError`` if malformed
    or outside the dates the service accepts."""
    day = read_day(text)
    return None if day is None else in_date_range(day)


def filter_text(text: str | None, name: str, errors: dict[str, str]) -> str | None:
    """Trimmed text from a filter form, ``None`` when blank; unusable text is noted in
    ``errors`` and filters nothing."""
    cleaned = optional(text)
    if cleaned is None:
        return None
    try:
        if len(cleaned) > MAX_FILTER_LENGTH:
            raise ValueError(f"is longer than {MAX_FILTER_LENGTH} characters")
        return check_text(cleaned)
    except ValueError:
        errors[name] = "Enter plain text, without control characters"
        return None


def filter_day(text: str, name: str, errors: dict[str, str]) -> date | None:
    """A date from a filter form (blank means no filter); a bad one is noted in ``errors``."""
    try:
        return parse_day(text)
    except ValueError:
        errors[name] = "Enter a real date, for example 2024-03-31"
        return None


def known_classification(text: str) -> str | None:
    """``text`` if it is a classification marking, else ``None`` (no filter)."""
    return text if text in {c.value for c in Classification} else None


def field_of(exc: DomainError, default: str) -> str:
    """The form field a service error is about, so it can be shown beside that field."""
    for item in exc.errors:
        field = item.get("field")
        if isinstance(field, str):
            return field
    detail = exc.detail.lower()
    for phrase, field in _FIELD_HINTS:
        if phrase in detail:
            return field
    return default


def title_from_filename(filename: str) -> str:
    """A readable default title: the file name without extension, separators as spaces."""
    stem = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if "." in stem.strip("."):
        stem = stem.rsplit(".", 1)[0]
    words = stem.replace("_", " ").replace("-", " ").split()
    title = " ".join(words)[:300]
    return title[:1].upper() + title[1:] if title else "Untitled document"
