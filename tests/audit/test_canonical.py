"""The canonical form of an entry: what it is, and that the fast raw-row path used by
verification and export yields exactly the same bytes as ``canonical_entry``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from sqlmodel import Session, col, select

from factories import FixedClock
from records_service.audit._rows import TimeText, entry_rows
from records_service.audit._snapshot import snapshot
from records_service.audit.actions import AuditAction, AuthFailurePayload, UserPayload
from records_service.audit.log import (
    canonical_bytes,
    canonical_details,
    canonical_entry,
    format_time,
    record_event,
)
from records_service.audit.merkle import leaf_hash
from records_service.audit.models import AuditEntry, AuditNode
from records_service.db import make_engine, session_scope

AWKWARD = ["plain", 'quote " and \\ backslash', "new\nline\ttab", "Ünïcödé — ✓ 🗂", "\u0001ctl"]


def spec(entry: AuditEntry) -> bytes:
    """The definition: the six fields as one JSON object, keys sorted, no spaces, UTF-8."""
    body = {
        "action": entry.action,
        "actor": entry.actor,
        "at": format_time(entry.at),
        "details": json.loads(entry.details),
        "index": entry.idx,
        "subject": entry.subject,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_canonical_entry_matches_its_definition() -> None:
    for n, text in enumerate(AWKWARD):
        entry = AuditEntry(
            idx=n * 1_000_003,
            at=datetime(2026, 6, 15, 9, 30, 0, n, tzinfo=UTC),
            actor=text,
            action="user.create",
            subject=f"user:{text}",
            details=canonical_details(UserPayload(username=text, roles=[text, "staff"])),
        )
        assert canonical_entry(entry) == spec(entry)


def test_times_are_canonical_utc_with_microseconds() -> None:
    summer = timezone(timedelta(hours=1))
    assert (
        format_time(datetime(2026, 6, 15, 10, 30, tzinfo=summer)) == "2026-06-15T09:30:00.000000Z"
    )
    assert (
        format_time(datetime(2026, 6, 15, 9, 30, 0, 7, tzinfo=UTC)) == "2026-06-15T09:30:00.000007Z"
    )


def test_details_are_hashed_as_stored() -> None:
    """Re-spacing the stored JSON is a change, even though it parses the same."""

    def entry(details: str) -> bytes:
        at = "2026-06-15T09:30:00.000000Z"
        return canonical_bytes(index=1, at=at, actor="a", action="x", subject="s", details=details)

    assert entry('{"a":1}') != entry('{"a": 1}')


def test_raw_rows_give_the_same_bytes_as_orm_entries(db_url: str, clock: FixedClock) -> None:
    engine = make_engine(db_url)
    try:
        for n, text in enumerate(AWKWARD):
            clock.advance(microseconds=123_457 * (n + 1))
            with session_scope(engine) as session:
                record_event(
                    session,
                    actor=text,
                    action=AuditAction.AUTH_FAILURE,
                    subject=text,
                    payload=AuthFailurePayload(reason=text, method="bearer"),
                    clock=clock,
                )
        with Session(engine) as session:
            expected = {
                e.idx: canonical_entry(e)
                for e in session.exec(select(AuditEntry).order_by(col(AuditEntry.idx)))
            }
            leaves = {
                n.idx: n.hash for n in session.exec(select(AuditNode).where(AuditNode.level == 0))
            }
        with snapshot(engine) as conn:
            time_text = TimeText(conn.dialect)
            rows = [row for batch in entry_rows(conn, 0, len(AWKWARD), batch=2) for row in batch]
        assert len(rows) == len(AWKWARD)
        for index, at, actor, action, subject, details, stored in rows:
            text_at = time_text(at)
            assert text_at is not None
            raw = canonical_bytes(
                index=index,
                at=text_at,
                actor=actor,
                action=action,
                subject=subject,
                details=details,
            )
            assert raw == expected[index]
            assert bytes(stored) == leaves[index] == leaf_hash(raw)
    finally:
        engine.dispose()
