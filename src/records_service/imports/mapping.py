"""The mapping file: ordered rules that turn a file's path and properties into a record.

A mapping is TOML (read with ``tomllib``): an optional ``[defaults]`` table and one
``[[rule]]`` table per rule, tried in order; the first whose pattern matches a file's
path wins. A pattern is a ``glob`` (``*`` within a folder, ``**/`` any folders) or a
``regex`` with named groups, matched against the whole path relative to the source.

Each field (``contract``, ``record_type``, ``record_date``, ``title``, ``tags``,
``classification``, ``originator``) is a string or a list of strings, each a
*source* tried in the order given until one gives a value (``tags`` takes every one
that gives a value, after the defaults' tags):

* a template: literal text with ``{group}`` for a named group of the regex or one of
  :data:`BUILT_IN_GROUPS` (``{{`` and ``}}`` are braces); it gives nothing if a group
  it names matched nothing;
* ``@metadata``: the document's own date or title (PDF creation date, Word document
  properties, e-mail ``Date`` and ``Subject``), for ``record_date`` and ``title``;
* ``@modified``: the file's modification date, for ``record_date``.

Loading checks everything that can be checked without the files, and every refusal
names the line of the mapping file it is about (docs/import.md).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from records_service.errors import InvalidInput
from records_service.records.models import Classification

METADATA = "@metadata"
MODIFIED = "@modified"
BUILT_IN_GROUPS = ("path", "filename", "stem", "ext", "folder")
FIELDS = ("contract", "record_type", "record_date", "title", "tags", "classification", "originator")
PATTERN_KEYS = ("glob", "regex", "ignore_case", "skip")
# The special sources each field may take besides templates.
SPECIAL_SOURCES: dict[str, frozenset[str]] = {
    "record_date": frozenset({METADATA, MODIFIED}),
    "title": frozenset({METADATA}),
}
DEFAULT_TITLE = ("{stem}",)

_HEADER = re.compile(r"^\s*\[\[\s*rule\s*\]\]")
_DEFAULTS_HEADER = re.compile(r"^\s*\[\s*defaults\s*\]")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|[{}]")


class MappingError(InvalidInput):
    """The mapping file cannot be used; the message names the line."""


@dataclass(frozen=True)
class Template:
    """Literal text with ``{group}`` placeholders."""

    text: str
    groups: tuple[str, ...]

    def render(self, groups: dict[str, str | None]) -> str | None:
        """The text with its groups filled in; ``None`` if one of them matched nothing."""
        missing = False

        def fill(match: re.Match[str]) -> str:
            nonlocal missing
            token = match.group(0)
            if token in ("{{", "}}"):
                return token[0]
            value = groups.get(match.group(1))
            missing = missing or not value
            return value or ""

        rendered = _PLACEHOLDER.sub(fill, self.text)
        return None if missing else rendered


Source = Template | str  # a template, or METADATA / MODIFIED


@dataclass(frozen=True)
class Rule:
    """One rule: its pattern, and the sources of each field in order."""

    number: int
    line: int
    pattern: re.Pattern[str]
    skip: bool
    sources: dict[str, tuple[Source, ...]]
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, name: str) -> int:
        """The line that gives ``name`` (the defaults' line, or the rule's header)."""
        return self.lines.get(name, self.line)

    def literal(self, name: str) -> str | None:
        """The field's value if it is one fixed text (no groups, no metadata)."""
        sources = self.sources.get(name, ())
        if len(sources) == 1 and isinstance(sources[0], Template) and not sources[0].groups:
            return sources[0].render({})
        return None


@dataclass(frozen=True)
class Mapping:
    """The rules of a mapping file, in order, and the file's SHA-256."""

    rules: tuple[Rule, ...]
    sha256: str
    name: str

    def match(self, path: str) -> tuple[Rule, dict[str, str | None]] | None:
        """The first rule matching ``path``, with the groups its templates may use."""
        for rule in self.rules:
            found = rule.pattern.fullmatch(path)
            if found is not None:
                return rule, {**built_in_groups(path), **found.groupdict()}
        return None

    def error(self, line: int, message: str) -> MappingError:
        """A refusal about ``line`` of the mapping file."""
        return MappingError(f"{self.name} line {line}: {message}")


def built_in_groups(path: str) -> dict[str, str | None]:
    """The groups every rule has: ``path``, ``filename``, ``stem``, ``ext``, ``folder``."""
    pure = PurePosixPath(path)
    return {
        "path": path,
        "filename": pure.name,
        "stem": pure.stem if pure.suffix else pure.name,
        "ext": pure.suffix.lstrip(".").lower() or None,
        "folder": pure.parent.name or None,
    }


def glob_to_regex(glob: str) -> str:
    """A regular expression matching the paths ``glob`` matches: ``*`` any characters
    within a folder, ``?`` one, ``[abc]`` one of them (``[!abc]`` none), ``{a,b}``
    either, ``**/`` any number of folders."""
    out: list[str] = []
    index = 0
    while index < len(glob):
        if glob.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif glob.startswith("**", index):
            out.append(".*")
            index += 2
        else:
            index = _glob_char(glob, index, out)
    return "".join(out)


def _glob_char(glob: str, index: int, out: list[str]) -> int:
    char = glob[index]
    if char == "*":
        out.append("[^/]*")
    elif char == "?":
        out.append("[^/]")
    elif char == "{" and "}" in glob[index:]:
        end = glob.index("}", index)
        choices = glob[index + 1 : end].split(",")
        out.append("(?:" + "|".join(glob_to_regex(choice) for choice in choices) + ")")
        return end + 1
    elif char == "[" and "]" in glob[index + 2 :]:
        end = glob.index("]", index + 2)
        body = glob[index + 1 : end]
        negate = body.startswith("!")
        body = body[1:] if negate else body
        out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
        return end + 1
    else:
        out.append(re.escape(char))
    return index + 1


class _Lines:
    """Where each rule and each of its keys is written in the file."""

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines()
        self.rules = [n for n, line in enumerate(self._lines, 1) if _HEADER.match(line)]
        defaults = [n for n, line in enumerate(self._lines, 1) if _DEFAULTS_HEADER.match(line)]
        self.defaults = defaults[0] if defaults else 1

    def _end(self, start: int) -> int:
        for number in range(start + 1, len(self._lines) + 1):
            if self._lines[number - 1].lstrip().startswith("["):
                return number
        return len(self._lines) + 1

    def key(self, start: int, name: str) -> int:
        """The line of key ``name`` in the table that starts at line ``start``."""
        wanted = re.compile(rf"^\s*{re.escape(name)}\s*=")
        for number in range(start, self._end(start)):
            if wanted.match(self._lines[number - 1]):
                return number
        return start


def load_mapping(text: str, *, name: str = "mapping") -> Mapping:
    """Read and check a mapping file's ``text``; ``MappingError`` names the line of a fault."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{name} is not valid TOML: {exc}") from None
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    shell = Mapping(rules=(), sha256=sha, name=name)
    lines = _Lines(text)
    unknown = set(document) - {"defaults", "rule"}
    if unknown:
        top = sorted(unknown)[0]
        raise shell.error(lines.key(1, top), f"unknown key {top!r} (use [defaults] and [[rule]])")
    defaults = _defaults(document.get("defaults", {}), shell, lines)
    tables = document.get("rule", [])
    if not isinstance(tables, list) or not tables:
        raise MappingError(f"{name} has no [[rule]] tables: nothing would be imported")
    starts = lines.rules + [lines.rules[-1] if lines.rules else 1] * len(tables)
    rules = tuple(
        _rule(table, number, starts[number - 1], defaults, shell, lines)
        for number, table in enumerate(tables, 1)
    )
    return Mapping(rules=rules, sha256=sha, name=name)


@dataclass(frozen=True)
class _Defaults:
    sources: dict[str, tuple[Source, ...]]
    lines: dict[str, int]


def _defaults(table: object, shell: Mapping, lines: _Lines) -> _Defaults:
    if not isinstance(table, dict):
        raise shell.error(lines.defaults, "[defaults] must be a table")
    sources: dict[str, tuple[Source, ...]] = {}
    where: dict[str, int] = {}
    for key, value in table.items():
        line = lines.key(lines.defaults, key)
        if key not in FIELDS:
            raise shell.error(line, f"unknown field {key!r} in [defaults]; fields: {FIELDS}")
        # Groups are checked against each rule's pattern, which may name more.
        sources[key] = _sources(key, value, None, _failing(shell, line))
        where[key] = line
    return _Defaults(sources, where)


def _failing(shell: Mapping, line: int) -> Callable[[str], MappingError]:
    return lambda message: shell.error(line, message)


def _rule(
    table: object, number: int, start: int, defaults: _Defaults, shell: Mapping, lines: _Lines
) -> Rule:
    if not isinstance(table, dict):
        raise shell.error(start, f"rule {number} must be a table")

    def fail(key: str) -> Callable[[str], MappingError]:
        return lambda message: shell.error(lines.key(start, key), f"rule {number}: {message}")

    unknown = sorted(set(table) - set(FIELDS) - set(PATTERN_KEYS))
    if unknown:
        raise fail(unknown[0])(f"unknown key {unknown[0]!r}")
    pattern = _pattern(table, fail)
    groups = (*BUILT_IN_GROUPS, *pattern.groupindex)
    sources = dict(defaults.sources)
    where = dict(defaults.lines)
    for key in FIELDS:
        if key in table:
            own = _sources(key, table[key], groups, fail(key))
            sources[key] = sources.get(key, ()) + own if key == "tags" else own
            where[key] = lines.key(start, key)
    _check_defaults_groups(sources, groups, fail)
    skip = _flag(table, "skip", fail)
    if not skip:
        _require(sources, lambda message: shell.error(start, f"rule {number}: {message}"))
    sources.setdefault("title", tuple(_template(t, groups, fail("title")) for t in DEFAULT_TITLE))
    return Rule(number, start, pattern, skip, sources, where)


def _pattern(
    table: dict[str, object], fail: Callable[[str], Callable[[str], MappingError]]
) -> re.Pattern[str]:
    has_glob, has_regex = "glob" in table, "regex" in table
    if has_glob == has_regex:
        raise fail("glob")("give exactly one of 'glob' and 'regex'")
    key = "glob" if has_glob else "regex"
    value = table[key]
    if not isinstance(value, str) or not value:
        raise fail(key)(f"{key} must be a non-empty string")
    flags = re.IGNORECASE if _flag(table, "ignore_case", fail) else 0
    try:
        pattern = re.compile(glob_to_regex(value) if has_glob else value, flags)
    except re.error as exc:
        raise fail(key)(f"{key} {value!r} is not a valid pattern: {exc}") from None
    clash = sorted(set(pattern.groupindex) & set(BUILT_IN_GROUPS))
    if clash:
        raise fail(key)(f"group {clash[0]!r} has the name of a built-in group {BUILT_IN_GROUPS}")
    return pattern


def _flag(
    table: dict[str, object], key: str, fail: Callable[[str], Callable[[str], MappingError]]
) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise fail(key)(f"{key} must be true or false")
    return value


def _require(sources: dict[str, tuple[Source, ...]], fail: Callable[[str], MappingError]) -> None:
    for key in ("record_type", "record_date"):
        if not sources.get(key):
            raise fail(f"no {key} (give it in the rule or in [defaults])")


def _check_defaults_groups(
    sources: dict[str, tuple[Source, ...]],
    groups: tuple[str, ...],
    fail: Callable[[str], Callable[[str], MappingError]],
) -> None:
    for key, found in sources.items():
        for source in found:
            if isinstance(source, Template):
                missing = [g for g in source.groups if g not in groups]
                if missing:
                    raise fail(key)(f"{key} uses group {missing[0]!r}, which the pattern lacks")


def _sources(
    key: str, value: object, groups: tuple[str, ...] | None, fail: Callable[[str], MappingError]
) -> tuple[Source, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise fail(f"{key} must be a string or a non-empty list of strings")
    found: list[Source] = []
    for item in items:
        assert isinstance(item, str)
        if item.startswith("@") and not item.startswith("@@"):
            if item not in SPECIAL_SOURCES.get(key, frozenset()):
                allowed = sorted(SPECIAL_SOURCES.get(key, frozenset())) or "none"
                raise fail(f"{key} cannot take {item!r} (special sources here: {allowed})")
            found.append(item)
            continue
        template = _template(
            item.removeprefix("@") if item.startswith("@@") else item, groups, fail
        )
        if key == "classification" and not template.groups:
            _check_classification(template.text, fail)
        found.append(template)
    return tuple(found)


def _template(
    text: str, groups: tuple[str, ...] | None, fail: Callable[[str], MappingError]
) -> Template:
    names: list[str] = []
    for match in _PLACEHOLDER.finditer(text):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        if match.group(1) is None:
            raise fail(f"{text!r} has a lone {token!r} (write {token * 2} for a brace)")
        if groups is not None and match.group(1) not in groups:
            raise fail(f"{text!r} names group {match.group(1)!r}, which the pattern lacks")
        names.append(match.group(1))
    return Template(text, tuple(names))


def _check_classification(value: str, fail: Callable[[str], MappingError]) -> None:
    allowed = [c.value for c in Classification]
    if value not in allowed:
        raise fail(f"classification {value!r} is not one of {allowed}")
