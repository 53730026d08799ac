"""Checks of a mapping against the service before anything is written: every contract
and record type a rule names must exist, whether written literally or made from the
groups of the paths the rule matches. A refusal names the mapping file's line."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session

from records_service.contracts.service import contract_id
from records_service.errors import NotFound
from records_service.extraction.properties import DocumentProperties
from records_service.imports.mapping import Mapping, MappingError, Rule
from records_service.imports.resolve import Unmappable, first_text
from records_service.imports.sources import SourceFile

NAMED = ("contract", "record_type")


class _Known:
    """Which contracts and record types exist, each looked up once."""

    def __init__(self, session: Session, record_types: frozenset[str]) -> None:
        self._session = session
        self._record_types = record_types
        self._contracts: dict[str, bool] = {}

    def exists(self, key: str, value: str) -> bool:
        if key == "record_type":
            return value in self._record_types
        if value not in self._contracts:
            try:
                contract_id(self._session, value)
                self._contracts[value] = True
            except NotFound:
                self._contracts[value] = False
        return self._contracts[value]


def _refusal(mapping: Mapping, rule: Rule, key: str, value: str, path: str | None) -> MappingError:
    what = "contract" if key == "contract" else "record type"
    where = f" (for {path})" if path else ""
    return mapping.error(
        rule.line_of(key), f"rule {rule.number} names {what} {value!r}{where}, which does not exist"
    )


def check_names(
    session: Session, mapping: Mapping, record_types: frozenset[str], files: Iterable[SourceFile]
) -> None:
    """Raise ``MappingError`` for the first unknown contract or record type."""
    known = _Known(session, record_types)
    for rule in mapping.rules:
        for key in NAMED:
            literal = rule.literal(key)
            if not rule.skip and literal is not None and not known.exists(key, literal):
                raise _refusal(mapping, rule, key, literal, None)
    for file in files:
        found = mapping.match(file.path)
        if found is None or found[0].skip:
            continue
        rule, groups = found
        for key in NAMED:
            if rule.literal(key) is not None:
                continue
            try:
                value = first_text(rule, key, groups, DocumentProperties)
            except Unmappable:
                continue  # the file fails on its own, with the reason, when imported
            if value is not None and not known.exists(key, value):
                raise _refusal(mapping, rule, key, value, file.path)
