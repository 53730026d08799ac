"""Reading form values for pages: dates, optional text, which field an error is about,
and the problems found in a form (:class:`FormErrors`), by field.

Dates are typed as GOV.UK's three boxes, day, month and year (``NAME_day``,
``NAME_month``, ``NAME_year``), never the browser's date picker, whose order and
language follow the computer's settings. A single ``NAME`` holding ``YYYY-MM-DD``
is still read when the three are blank (links and scripts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from records_service.bounds import DATE_MAX, DATE_MIN, FormValue, check_text, in_date_range
from records_service.errors import DomainError
from records_service.records.models import Classification

MAX_FILTER_LENGTH = 200
T = TypeVar("T")

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


def labelled(field: str, text: str, labels: Mapping[str, str]) -> str:
    """A service's or schema's message about ``field`` (``"paid_on: ..."``) as the form
    says it, starting with the field's label."""
    rest = text.removeprefix(f"{field}: ").removeprefix("Value error, ")
    label = labels.get(field)
    return f"{label}: {rest}" if label else rest[:1].upper() + rest[1:]


def schema_errors(
    exc: ValidationError,
    labels: Mapping[str, str],
    default: str,
    rename: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every error of a schema beside the form field it is about (``rename`` maps a
    schema field to its form field); one about no single field goes to ``default``."""
    found: dict[str, str] = {}
    for item in exc.errors():
        name = str(item["loc"][0]) if item["loc"] else default
        field = (rename or {}).get(name, name)
        found.setdefault(field, labelled(field, str(item["msg"]), labels))
    return found


def title_from_filename(filename: str) -> str:
    """A readable default title: the file name without extension, separators as spaces."""
    stem = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if "." in stem.strip("."):
        stem = stem.rsplit(".", 1)[0]
    words = stem.replace("_", " ").replace("-", " ").split()
    title = " ".join(words)[:300]
    return title[:1].upper() + title[1:] if title else "Untitled document"


DATE_PARTS = ("day", "month", "year")


class PeriodBoxes(BaseModel):
    """A period's first and last days as posted by a form: GOV.UK day, month and year
    boxes, or ``YYYY-MM-DD`` in the date's own name (links and scripts)."""

    period_start: FormValue = ""
    period_start_day: FormValue = ""
    period_start_month: FormValue = ""
    period_start_year: FormValue = ""
    period_end: FormValue = ""
    period_end_day: FormValue = ""
    period_end_month: FormValue = ""
    period_end_year: FormValue = ""


@dataclass(frozen=True)
class DateEntry:
    """A date read from three boxes: the day, or why not, and which boxes are wrong."""

    day: date | None = None
    error: str | None = None
    wrong: tuple[str, ...] = ()


def date_parts(name: str, day: date | None) -> dict[str, str]:
    """The three boxes of ``name`` filled with ``day`` (blank for ``None``)."""
    if day is None:
        return {f"{name}_{part}": "" for part in DATE_PARTS}
    return {
        f"{name}_day": str(day.day),
        f"{name}_month": str(day.month),
        f"{name}_year": str(day.year),
    }


def read_date(values: Mapping[str, str], name: str, label: str) -> DateEntry:
    """The date in ``name``'s three boxes (or ``name`` itself as ``YYYY-MM-DD``).

    All blank is no date. The message names what to fix, as GOV.UK's pattern does:
    the box that is missing, that a date must be real, or the range the service keeps.
    """
    typed = {part: (values.get(f"{name}_{part}") or "").strip() for part in DATE_PARTS}
    if not any(typed.values()):
        return _iso_entry(values.get(name), label)
    missing = tuple(part for part in DATE_PARTS if not typed[part])
    if missing:
        return DateEntry(error=f"{label} must include a {' and '.join(missing)}", wrong=missing)
    not_numbers = tuple(
        part for part in DATE_PARTS if not typed[part].isascii() or not typed[part].isdigit()
    )
    if not_numbers:
        return DateEntry(error=f"{label} must be a real date, in numbers", wrong=not_numbers)
    if len(typed["year"]) != 4:
        # Lower-case the label's first letter only: it may end in a file's name.
        of = label[:1].lower() + label[1:]
        return DateEntry(error=f"The year of {of} must have 4 numbers", wrong=("year",))
    return _checked(label, int(typed["year"]), int(typed["month"]), int(typed["day"]))


def read_dates(
    values: Mapping[str, str],
    labels: Mapping[str, str],
    errors: dict[str, str],
    wrong: dict[str, tuple[str, ...]],
) -> dict[str, date | None]:
    """Each date named in ``labels`` (name to label), by :func:`read_date`; what cannot
    be read is noted in ``errors`` and ``wrong`` beside its own date group."""
    days: dict[str, date | None] = {}
    for name, label in labels.items():
        entry = read_date(values, name, label)
        if entry.error:
            errors[name], wrong[name] = entry.error, entry.wrong
        days[name] = entry.day
    return days


def date_boxes(values: Mapping[str, str], days: Mapping[str, date | None]) -> dict[str, str]:
    """The form's values to show again: a date given as one ``YYYY-MM-DD`` value (a link,
    a script) goes into its three boxes; boxes as typed are kept as typed."""
    form = dict(values)
    for name, day in days.items():
        if day is not None and not any(form.get(f"{name}_{part}") for part in DATE_PARTS):
            form |= date_parts(name, day)
    return form


def _checked(label: str, year: int, month: int, day: int) -> DateEntry:
    try:
        found = date(year, month, day)
    except ValueError:
        wrong = ("month",) if not 1 <= month <= 12 else ("day",)
        return DateEntry(error=f"{label} must be a real date", wrong=wrong)
    try:
        return DateEntry(day=in_date_range(found))
    except ValueError:
        return DateEntry(
            error=f"{label} must be between {DATE_MIN:%-d %B %Y} and {DATE_MAX:%-d %B %Y}",
            wrong=("year",),
        )


def _iso_entry(text: str | None, label: str) -> DateEntry:
    try:
        return DateEntry(day=parse_day(text))
    except ValueError:
        return DateEntry(error=f"{label} must be a real date", wrong=DATE_PARTS)


class FormProblem(ValueError):
    """A typed value that cannot be read, with the words to show."""


@dataclass
class FormErrors:
    """The problems found reading a form: the first message about each field, and the
    date boxes it marks as wrong."""

    errors: dict[str, str] = field(default_factory=dict)
    wrong: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def note(self, key: str, message: str, wrong: tuple[str, ...] = ()) -> None:
        """Keep the first error about ``key``, with the boxes it marks as wrong."""
        if key not in self.errors:
            self.errors[key] = message
            if wrong:
                self.wrong[key] = wrong

    def required_date(
        self, values: Mapping[str, str], name: str, label: str, blank: str
    ) -> date | None:
        """The date in ``name``'s boxes (:func:`read_date`); wrong, or blank (said in
        the words ``blank``), it is noted beside them."""
        entry = read_date(values, name, label)
        if entry.error:
            self.note(name, entry.error, entry.wrong)
        elif entry.day is None:
            self.note(name, blank, DATE_PARTS)
        return entry.day

    def noted(self, key: str, reader: Callable[[], T]) -> T | None:
        """``reader()``, or ``None`` with its :class:`FormProblem` noted beside ``key``."""
        try:
            return reader()
        except FormProblem as exc:
            text = str(exc)
            self.note(key, text[:1].upper() + text[1:])
            return None
