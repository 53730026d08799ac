"""Input bounds shared by every face: how big, how long and how far a value may be.

Each bound is an annotated type that the API's schemas, query and path parameters,
the web forms and the command line declare, so a value is refused with a 422 by the
schema itself, before any work and before any transaction starts. Every check here
is linear in the size of the input, and sizes are checked before contents.

The values, and why each is what it is, are listed in ``docs/security.md``:

- integers that reach the database fit their column: row ids and version numbers a
  32-bit one (:data:`ROW_ID_MAX`), audit indexes and tree sizes a 64-bit one
  (:data:`DB_INT_MAX`);
- page numbers stop at :data:`MAX_PAGE`, so an offset can never overflow;
- money is integer pence up to :data:`MAX_PENCE` (a trillion pounds): an amount
  (:data:`Pence`), an amount actually moved (:data:`PositivePence`, a payment) or a
  change in value either way (:data:`SignedPence`, a variation);
- dates lie between :data:`DATE_MIN` and :data:`DATE_MAX`, so retention arithmetic
  (a century added to a record's date) never leaves Python's calendar;
- text refuses control characters (NUL included, which PostgreSQL cannot store) and
  the invisible bidirectional controls that can make a title read backwards, the
  same on SQLite and PostgreSQL; multi-line text (reasons, notes) may hold line
  breaks and tabs;
- tags are normalised (trimmed, lower-cased, de-duplicated in order) here, once;
- a change to many records at once names at most :data:`MAX_BULK_RECORDS` of them.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

DB_INT_MAX = 2**63 - 1
# Row ids and version numbers are 32-bit columns on PostgreSQL.
ROW_ID_MAX = 2**31 - 1
MAX_PAGE = 100_000
MAX_PENCE = 10**14
DATE_MIN = date(1900, 1, 1)
DATE_MAX = date(2199, 12, 31)
MAX_TAGS = 50
# One bulk action (approving the disposals ticked on a page of a list) covers at most this many.
MAX_BATCH = 100
MAX_TAG_LENGTH = 64
# One tags field may carry every tag, comma-separated.
MAX_TAGS_FIELD_LENGTH = MAX_TAGS * (MAX_TAG_LENGTH + 2)

# The bidirectional embeddings, overrides and isolates and the marks that reorder or
# hide text, DEL and the C1 controls; lone surrogates cannot be stored at all.
_INVISIBLE = "\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_ONE_LINE = re.compile(f"[\x00-\x1f{_INVISIBLE}]")
_MULTI_LINE = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f{_INVISIBLE}]")  # keeps \t \n \r


def _refuse_any(pattern: re.Pattern[str], value: str) -> str:
    found = pattern.search(value)
    if found:
        code = f"U+{ord(found.group()):04X}"
        raise ValueError(f"contains a control or invisible formatting character ({code})")
    return value


def check_text(value: str) -> str:
    """Refuse control and bidirectional-control characters in one-line text."""
    return _refuse_any(_ONE_LINE, value)


def check_multiline_text(value: str) -> str:
    """As :func:`check_text`, but line breaks and tabs are allowed."""
    return _refuse_any(_MULTI_LINE, value)


def in_date_range(value: date) -> date:
    """Refuse a date outside the range the service keeps records for."""
    if not DATE_MIN <= value <= DATE_MAX:
        side = "before" if value < DATE_MIN else "after"
        raise ValueError(
            f"{value} is {side} the dates the service accepts: "
            f"dates must be between {DATE_MIN} and {DATE_MAX}"
        )
    return value


def in_datetime_range(value: datetime) -> datetime:
    """A moment in the service's range, in UTC; a moment given without a zone is UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    in_date_range(value.date())
    return value.astimezone(UTC)


def normalise_tags(raw: list[str]) -> list[str]:
    """Lower-case, trimmed, de-duplicated tags in their given order (commas split).

    Linear in the input: de-duplication goes through a dict, not a list scan.
    """
    cleaned: dict[str, None] = {}
    for item in raw:
        for part in item.split(","):
            tag = part.strip().lower()
            if not tag:
                continue
            if len(tag) > MAX_TAG_LENGTH:
                raise ValueError(f"tag {tag[:20]!r}... is longer than {MAX_TAG_LENGTH} characters")
            check_text(tag)
            cleaned[tag] = None
            if len(cleaned) > MAX_TAGS:
                raise ValueError(f"at most {MAX_TAGS} tags per record")
    return list(cleaned)


DbInt = Annotated[int, Field(ge=-DB_INT_MAX - 1, le=DB_INT_MAX)]
DbId = Annotated[int, Field(ge=1, le=ROW_ID_MAX)]
DbIds = Annotated[list[DbId], Field(max_length=MAX_BATCH)]
PageNumber = Annotated[int, Field(ge=1, le=MAX_PAGE)]
Pence = Annotated[int, Field(ge=0, le=MAX_PENCE)]
PositivePence = Annotated[int, Field(ge=1, le=MAX_PENCE)]
SignedPence = Annotated[int, Field(ge=-MAX_PENCE, le=MAX_PENCE)]
SafeDate = Annotated[date, AfterValidator(in_date_range)]
SafeDateTime = Annotated[datetime, AfterValidator(in_datetime_range)]

# One-line text, by what it holds (lengths in characters).
Title = Annotated[str, StringConstraints(min_length=1, max_length=300), AfterValidator(check_text)]
LongName = Annotated[str, StringConstraints(max_length=300), AfterValidator(check_text)]
Label = Annotated[str, StringConstraints(max_length=200), AfterValidator(check_text)]
Reference = Annotated[str, StringConstraints(max_length=100), AfterValidator(check_text)]
Identifier = Annotated[str, StringConstraints(max_length=64), AfterValidator(check_text)]
SearchText = Annotated[str, StringConstraints(max_length=2000), AfterValidator(check_text)]
# A client's Idempotency-Key header: printable ASCII without spaces.
IdempotencyKeyText = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")
]
# Text that may span lines.
Reason = Annotated[
    str, StringConstraints(min_length=3, max_length=1000), AfterValidator(check_multiline_text)
]
Note = Annotated[str, StringConstraints(max_length=4000), AfterValidator(check_multiline_text)]
# Web form fields, which browsers send empty when left blank. A form whose fields all
# go on to a schema above (and are reported beside each field) bounds only their size.
FormValue = Annotated[str, StringConstraints(max_length=MAX_TAGS_FIELD_LENGTH)]
FormText = Annotated[str, StringConstraints(max_length=300), AfterValidator(check_text)]
FormTags = Annotated[
    str, StringConstraints(max_length=MAX_TAGS_FIELD_LENGTH), AfterValidator(check_text)
]
FormReason = Annotated[
    str, StringConstraints(max_length=1000), AfterValidator(check_multiline_text)
]
# Records changed together (ticked on a page of the records list, which holds 25; the
# API may send more, but not without end). Record ids are 32 characters.
MAX_BULK_RECORDS = 200
RecordIds = Annotated[
    list[Annotated[Identifier, StringConstraints(max_length=32)]],
    Field(min_length=1, max_length=MAX_BULK_RECORDS),
]
# A repeated query parameter (record types, tags to filter by).
Identifiers = Annotated[list[Identifier], Field(max_length=MAX_TAGS)]
Tags = Annotated[
    list[Annotated[str, StringConstraints(max_length=MAX_TAGS_FIELD_LENGTH)]],
    Field(max_length=MAX_TAGS),
    AfterValidator(normalise_tags),
]


def _none_if_blank(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


BlankIsNone = BeforeValidator(_none_if_blank)
