"""A file's record metadata, taken from its rule's sources in the order the rule gives.

Pure: the file's own properties are read only if a rule asks for ``@metadata``, through
the callable the caller passes, and nothing is written. The result is the same
:class:`~records_service.records.schemas.RecordMetadata` the API's capture takes, so
an imported record passes every check an uploaded one does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date

from pydantic import ValidationError

from records_service.bounds import DATE_MIN
from records_service.extraction.properties import DocumentProperties
from records_service.imports.mapping import METADATA, MODIFIED, Rule, Source, Template
from records_service.imports.sources import SourceFile
from records_service.records.schemas import RecordMetadata

Properties = Callable[[], DocumentProperties]
_YEAR_MONTH = re.compile(r"^(\d{4})-(\d\d)$")


class Unmappable(Exception):
    """The rule's sources give no acceptable value for a field; the text says why."""


def parse_day(text: str) -> date | None:
    """``YYYY-MM-DD``, ``YYYYMMDD`` or ``YYYY-MM`` (its first day); ``None`` otherwise."""
    text = text.strip()
    month = _YEAR_MONTH.match(text)
    try:
        if month:
            return date(int(month.group(1)), int(month.group(2)), 1)
        return date.fromisoformat(text) if len(text) in (8, 10) else None
    except ValueError:
        return None


def _texts(
    sources: tuple[Source, ...], groups: dict[str, str | None], properties: Properties
) -> list[str]:
    """What each text source gives, in order (sources that give nothing left out)."""
    found: list[str] = []
    for source in sources:
        value = source.render(groups) if isinstance(source, Template) else None
        if source == METADATA:
            value = properties().title
        if value is not None and value.strip():
            found.append(value.strip())
    return found


def first_text(
    rule: Rule, name: str, groups: dict[str, str | None], properties: Properties
) -> str | None:
    """The first value the rule's sources for ``name`` give; ``None`` if the rule has
    none; ``Unmappable`` if it has some and none gives a value."""
    values = _texts(rule.sources.get(name, ()), groups, properties)
    if values:
        return values[0]
    if name in rule.sources:
        raise Unmappable(f"none of the {name} sources of rule {rule.number} gives a value")
    return None


def _record_date(
    rule: Rule,
    groups: dict[str, str | None],
    file: SourceFile,
    properties: Properties,
    today: date,
) -> date:
    tried: list[str] = []
    for source in rule.sources.get("record_date", ()):
        day: date | None
        if source == MODIFIED:
            day, label = file.modified_at.date(), "the modification time"
        elif source == METADATA:
            day, label = properties().created, "the document's own date"
        else:
            assert isinstance(source, Template)
            text = source.render(groups)
            day, label = (parse_day(text) if text else None), f"{source.text!r} ({text})"
        if day is not None and DATE_MIN <= day <= today:
            return day
        tried.append(f"{label}: {'no date' if day is None else f'{day} is out of range'}")
    raise Unmappable("no record date: " + "; ".join(tried))


def resolve(
    rule: Rule,
    groups: dict[str, str | None],
    file: SourceFile,
    properties: Properties,
    today: date,
) -> RecordMetadata:
    """The record metadata the rule gives ``file``; ``Unmappable`` says why there is none."""
    fields = {
        "contract": first_text(rule, "contract", groups, properties),
        "record_type": first_text(rule, "record_type", groups, properties),
        "title": first_text(rule, "title", groups, properties),
        "classification": first_text(rule, "classification", groups, properties),
        "originator": first_text(rule, "originator", groups, properties),
        "tags": _texts(rule.sources.get("tags", ()), groups, properties),
        "record_date": _record_date(rule, groups, file, properties, today),
    }
    given = {key: value for key, value in fields.items() if value is not None}
    try:
        return RecordMetadata.model_validate(given)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise Unmappable(f"{where}: {first['msg']}") from None


def mapped_json(meta: RecordMetadata) -> str:
    """The mapped metadata as the JSON kept with the file's outcome."""
    return json.dumps(meta.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
