"""The mapping file: rules in order, sources in order, and refusals that name the line.
Pure: no database, and no files but the example under docs/."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from records_service.extraction.properties import DocumentProperties
from records_service.imports.mapping import MappingError, glob_to_regex, load_mapping
from records_service.imports.resolve import Unmappable, resolve
from records_service.imports.sources import SourceFile
from records_service.retention import load_schedule

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "legacy-mapping.toml"
TODAY = date(2026, 6, 15)


def _file(path: str, modified: date = date(2019, 3, 1)) -> SourceFile:
    return SourceFile(path, 10, datetime(modified.year, modified.month, modified.day, tzinfo=UTC))


def test_the_documented_example_parses_and_names_only_known_record_types() -> None:
    mapping = load_mapping(EXAMPLE.read_text(encoding="utf-8"), name=EXAMPLE.name)
    known = load_schedule(None).record_types
    types = {rule.literal("record_type") for rule in mapping.rules if not rule.skip}
    assert types and types <= set(known)
    cases = {
        "Commissioning/2016-17/Victim Services/Helpline/Monitoring/Q2 return.pdf": 3,
        "Commissioning/2016-17/Victim Services/Helpline/Contract/Signed contract.pdf": 4,
        "Mail/2017/referral.msg": 5,
        "Covid/2020-04-01 Emergency grant.pdf": 6,
        "Commissioning/Thumbs.db": 1,
    }
    assert {path: mapping.match(path)[0].number for path in cases} == cases  # type: ignore[index]
    assert mapping.match("Personal/holiday.txt") is None


@pytest.mark.parametrize(
    ("glob", "matches", "misses"),
    [
        ("**/*.pdf", ["a.pdf", "x/y/a.pdf"], ["a.pdfx", "a.docx"]),
        (
            "Commissioning/*/Helpline/*",
            ["Commissioning/2016-17/Helpline/a"],
            ["Commissioning/a/b/Helpline/c"],
        ),
        ("**/{Thumbs.db,desktop.ini}", ["Thumbs.db", "a/desktop.ini"], ["a/Thumbs.dbx"]),
        ("Q[1-4]?[!x].txt", ["Q2 a.txt"], ["Q5 a.txt", "Q2 x.txt"]),
    ],
)
def test_globs_match_whole_paths_folder_by_folder(
    glob: str, matches: list[str], misses: list[str]
) -> None:
    pattern = re.compile(glob_to_regex(glob))
    assert [p for p in matches if pattern.fullmatch(p)] == matches
    assert [p for p in misses if pattern.fullmatch(p)] == []


MAPPING = """\
[defaults]
tags = ["legacy"]
record_type = "correspondence"

[[rule]]
regex = '(?P<year>\\d{4})(-(?P<month>\\d\\d))?/(?P<name>[^/]+)\\.pdf'
record_date = ["{year}-{month}", "@metadata", "{year}-04-01", "@modified"]
title = ["@metadata", "{name} ({year})"]
tags = ["y{year}"]

[[rule]]
glob = "**"
record_date = "@modified"
"""


def test_the_first_matching_rule_wins_and_each_field_takes_its_first_source() -> None:
    mapping = load_mapping(MAPPING)
    with_month = mapping.match("2017-05/Q1.pdf")
    assert with_month is not None and with_month[0].number == 1

    def meta(
        path: str, properties: DocumentProperties, modified: date = date(2019, 3, 1)
    ) -> tuple[object, ...]:
        found = mapping.match(path)
        assert found is not None
        got = resolve(found[0], found[1], _file(path, modified), lambda: properties, TODAY)
        return got.record_date, got.title, got.tags

    none = DocumentProperties()
    own = DocumentProperties(created=date(2017, 9, 30), title="Quarter one")
    assert meta("2017-05/Q1.pdf", own) == (date(2017, 5, 1), "Quarter one", ["legacy", "y2017"])
    assert meta("2017/Q1.pdf", own) == (date(2017, 9, 30), "Quarter one", ["legacy", "y2017"])
    assert meta("2017/Q1.pdf", none) == (date(2017, 4, 1), "Q1 (2017)", ["legacy", "y2017"])
    # A date the service would refuse (in the future) is passed over for the next source.
    assert meta("2030/Q1.pdf", none)[0] == date(2019, 3, 1)
    assert meta("notes/a.txt", none) == (date(2019, 3, 1), "a", ["legacy"])
    future = mapping.match("notes/a.txt")
    assert future is not None
    with pytest.raises(Unmappable, match="no record date"):
        resolve(future[0], future[1], _file("notes/a.txt", date(2030, 1, 1)), lambda: none, TODAY)


# A rule with all it needs; the cases add one faulty line (line 5) to it.
HEAD = '[[rule]]\nglob = "*"\nrecord_type = "x"\nrecord_date = "@modified"\n'


@pytest.mark.parametrize(
    ("text", "line", "phrase"),
    [
        (
            HEAD + "colour = 1\n",
            5,
            "unknown key 'colour'",
        ),
        ('[[rule]]\nglob = "*"\nregex = ".*"\nrecord_type = "x"\n', 2, "exactly one of"),
        (
            '[[rule]]\nregex = "(unclosed"\nrecord_type = "x"\nrecord_date = "@modified"\n',
            2,
            "not a valid pattern",
        ),
        (
            HEAD + 'title = "{who}"\n',
            5,
            "group 'who'",
        ),
        (
            HEAD + 'title = "a { b"\n',
            5,
            "lone '{'",
        ),
        (
            HEAD + 'title = "@modified"\n',
            5,
            "cannot take '@modified'",
        ),
        (
            HEAD + 'classification = "SECRET"\n',
            5,
            "'SECRET' is not one of",
        ),
        (
            '[defaults]\ntags = ["a"]\n\n[[rule]]\nglob = "*"\nrecord_date = "@modified"\n',
            4,
            "no record_type",
        ),
        ('[[rule]]\nglob = "*"\nrecord_type = "x\n', 3, "not valid TOML"),
    ],
)
def test_a_faulty_mapping_is_refused_with_its_line(text: str, line: int, phrase: str) -> None:
    with pytest.raises(MappingError) as refused:
        load_mapping(text, name="map.toml")
    assert f"line {line}" in refused.value.detail and phrase in refused.value.detail
