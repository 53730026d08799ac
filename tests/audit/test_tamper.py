"""Tampering by someone with database and file-system access: every case is caught by
``audit verify`` and the damaged entry or checkpoint is named.

The log holds 12 entries with checkpoints at 4, 8 and 12. The attacker drops the
append-only triggers first; the entry they go after (5) is covered by checkpoint 8.
The entry cases also run with the entries recomputed by three processes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from records_service.audit.checkpoint import (
    Checkpoint,
    generate_signing_key,
    sign_checkpoint,
)
from records_service.audit.keys import load_signer
from records_service.audit.log import canonical_entry
from records_service.audit.merkle import MemoryNodeStore, leaf_hash
from records_service.audit.models import AuditEntry
from records_service.audit.rollback import checkpoint_key
from records_service.audit.verify import VerifyReport
from records_service.runtime.services import Services
from records_service.settings import Settings

from .conftest import (
    append_reads,
    drop_append_only_guards,
    overwrite_store_file,
    sign_now,
    verify,
)

TARGET = 5


@pytest.fixture
def audit_settings(audit_settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """One verification process, or as many as a test asks for with `SPREAD`."""
    processes = getattr(request, "param", 1)
    audit = audit_settings.audit.model_copy(update={"verify_processes": processes})
    return audit_settings.model_copy(update={"audit": audit})


# Entry cases run in one process and in three (the caller recomputes 0..2, a worker
# 3..6 holding the target, another 7..11), so a worker's findings are named as well.
SPREAD = pytest.mark.parametrize(
    "audit_settings", [1, 3], ids=["one-process", "three-processes"], indirect=True
)


@pytest.fixture
def log(audit_services: Services) -> Iterator[Services]:
    for _ in range(3):
        append_reads(audit_services, 4)
        sign_now(audit_services)
    clean = verify(audit_services)
    assert clean.ok, clean.problems
    drop_append_only_guards(audit_services.engine)
    yield audit_services


def run_sql(services: Services, *statements: str) -> None:
    with services.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def failed(services: Services) -> VerifyReport:
    report = verify(services)
    assert not report.ok
    return report


def says(report: VerifyReport, *words: str) -> bool:
    return any(all(w in p for w in words) for p in report.problems)


@SPREAD
def test_edited_entry_is_named(log: Services) -> None:
    run_sql(log, f"UPDATE audit_entries SET actor = 'mallory' WHERE idx = {TARGET}")
    report = failed(log)
    assert report.first_bad_index == TARGET
    assert report.problems[0].startswith(f"first bad entry: index {TARGET}")
    assert says(report, f"entry {TARGET}: its content does not match the leaf hash")


def test_edited_details_whitespace_is_caught(log: Services) -> None:
    run_sql(
        log,
        f"UPDATE audit_entries SET details = replace(details, ',', ', ') WHERE idx = {TARGET}",
    )
    assert failed(log).first_bad_index == TARGET


def test_deleted_entry_is_named(log: Services) -> None:
    run_sql(log, f"DELETE FROM audit_entries WHERE idx = {TARGET}")
    report = failed(log)
    assert report.first_bad_index == TARGET
    assert says(report, f"entry {TARGET} is missing")


@SPREAD
def test_deleted_tail_is_named(log: Services) -> None:
    run_sql(log, "DELETE FROM audit_entries WHERE idx >= 10")
    report = failed(log)
    assert report.first_bad_index == 10
    assert says(report, "entries 10..11 are missing")


@SPREAD
def test_reordered_entries_are_named(log: Services) -> None:
    run_sql(
        log,
        f"UPDATE audit_entries SET idx = -1 WHERE idx = {TARGET}",
        f"UPDATE audit_entries SET idx = {TARGET} WHERE idx = {TARGET + 1}",
        f"UPDATE audit_entries SET idx = {TARGET + 1} WHERE idx = -1",
    )
    report = failed(log)
    assert report.first_bad_index == TARGET
    assert says(report, f"entry {TARGET + 1}: its content does not match")


@SPREAD
def test_inserted_forged_entry_is_named(log: Services) -> None:
    run_sql(
        log,
        f"UPDATE audit_entries SET idx = idx + 1000 WHERE idx >= {TARGET}",
        "UPDATE audit_entries SET idx = idx - 999 WHERE idx >= 1000",
        "INSERT INTO audit_entries (idx, at, actor, action, subject, details) "
        f"SELECT {TARGET}, at, 'mallory', 'record.read', 'record:r0', details "
        f"FROM audit_entries WHERE idx = {TARGET + 1}",
        "UPDATE audit_head SET size = size + 1",
    )
    report = failed(log)
    assert report.first_bad_index == TARGET
    assert report.problems[0].startswith(f"first bad entry: index {TARGET}")


def test_forged_entry_appended_without_moving_the_head_is_named(log: Services) -> None:
    run_sql(
        log,
        "INSERT INTO audit_entries (idx, at, actor, action, subject, details) "
        "SELECT 12, at, 'mallory', action, subject, details FROM audit_entries WHERE idx = 0",
    )
    report = failed(log)
    assert report.first_bad_index == 12
    assert says(report, "entries outside the log's recorded size 12: 1, indices 12..12")


def test_edit_with_every_hash_rewritten_is_pinned_between_checkpoints(log: Services) -> None:
    """A capable attacker also recomputes the stored tree; only the signatures remain."""
    run_sql(log, f"UPDATE audit_entries SET actor = 'mallory' WHERE idx = {TARGET}")
    tree = MemoryNodeStore()
    nodes: list[tuple[int, int, bytes]] = []
    with Session(log.engine) as session:
        for entry in session.exec(select(AuditEntry).order_by(col(AuditEntry.idx))):
            nodes += tree.append(leaf_hash(canonical_entry(entry)))
    with log.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_nodes"))
        for level, index, digest in nodes:
            conn.execute(
                text("INSERT INTO audit_nodes (level, idx, hash) VALUES (:l, :i, :h)"),
                {"l": level, "i": index, "h": digest},
            )
    report = failed(log)
    assert report.first_bad_range == (4, 8)
    assert report.problems[0] == "first bad entry: one of indices 4..7"
    assert says(report, "checkpoint 8: the root recomputed from entries 0..7 does not match")
    assert not says(report, "checkpoint 4:"), "checkpoint 4 itself is sound"


def _replace_checkpoint(
    services: Services, size: int, note: str, root_hash: bytes, *, in_store: bool = True
) -> None:
    with services.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_checkpoints SET note = :n, root_hash = :r WHERE tree_size = :s"),
            {"n": note, "r": root_hash, "s": size},
        )
    if in_store:
        overwrite_store_file(services, checkpoint_key(size), note)


def _note(services: Services, size: int) -> str:
    with services.engine.connect() as conn:
        query = text("SELECT note FROM audit_checkpoints WHERE tree_size = :s")
        return str(conn.execute(query, {"s": size}).scalar_one())


def test_forged_signature_is_caught(log: Services) -> None:
    signer = load_signer(log.settings)
    fake_root = bytes(32)
    forged = sign_checkpoint(
        Checkpoint("opcc.test/audit", 8, fake_root), signer.name, generate_signing_key()
    )
    _replace_checkpoint(log, 8, forged, fake_root)
    report = failed(log)
    assert says(report, "checkpoint 8: no signature by the trusted key")


def test_altered_body_under_a_genuine_signature_is_caught(log: Services) -> None:
    lines = _note(log, 8).split("\n")
    lines[2] = "A" * 43 + "="  # another root, same signature line
    altered = "\n".join(lines)
    _replace_checkpoint(log, 8, altered, bytes(32))
    assert says(failed(log), "checkpoint 8: signature by opcc.test/audit does not verify")


def test_inconsistent_checkpoint_signed_with_the_real_key_is_caught(log: Services) -> None:
    """Even the key holder cannot rewrite history: checkpoint 12 still vouches for it."""
    signer = load_signer(log.settings)
    other_history = MemoryNodeStore()
    for n in range(8):
        other_history.append(leaf_hash(f"another entry {n}".encode()))
    fork_root = other_history.root()
    fork = sign_checkpoint(
        Checkpoint("opcc.test/audit", 8, fork_root), signer.name, signer.private_key
    )
    _replace_checkpoint(log, 8, fork, fork_root)
    report = failed(log)
    assert says(report, "checkpoint 8: its signed root is inconsistent with checkpoint 12")
    assert says(report, "checkpoint 4 and checkpoint 8: no consistency proof")
    assert says(report, "checkpoint 8 and checkpoint 12: no consistency proof")
    assert report.first_bad_index is None, "the entries are not to blame"


def test_checkpoint_replaced_in_the_database_only_is_caught(log: Services) -> None:
    signer = load_signer(log.settings)
    fork_root = bytes(range(32))
    fork = sign_checkpoint(
        Checkpoint("opcc.test/audit", 8, fork_root), signer.name, signer.private_key
    )
    with log.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_checkpoints SET note = :n WHERE tree_size = 8"), {"n": fork}
        )
    report = failed(log)
    assert says(report, "checkpoint 8: the database copy differs from the write-once copy")
    assert says(report, "checkpoint 8 (database copy): its signed root is inconsistent")
    assert says(report, "the database row's root_hash differs from its signed note")


def test_removed_checkpoint_copy_is_caught(log: Services) -> None:
    path = log.settings.blob_root / checkpoint_key(4)
    path.unlink()
    assert says(failed(log), "checkpoint 4 is in the database but not in the write-once store")
