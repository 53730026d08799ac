"""A log restored from an older copy, or lost: found, refused, and recorded when accepted."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from factories import FixedClock
from records_service.audit.keys import trusted_keys
from records_service.audit.rollback import LogRolledBack, acknowledge_rollback, checkpoint_key
from records_service.audit.verify import _check_beyond, _Findings
from records_service.audit.writer import build_checkpoint_store, checkpoint_step
from records_service.cli import main
from records_service.runtime.services import Services
from support.faults import FaultyStore

from .conftest import append_reads, drop_append_only_guards, sign_now, verify

TABLES = ("audit_entries", "audit_nodes", "audit_checkpoints", "audit_head")
LOST_5_TO_8 = (
    "the log has 5 entries; the store holds a signed checkpoint of 9: entries are missing "
    "or the database was restored from an older copy"
)

Copy = dict[str, list[dict[str, Any]]]


def _copy_log(engine: Engine) -> Copy:
    """The audit tables as they are: what a backup of the database holds of them."""
    with engine.connect() as conn:
        return {
            t: [dict(r._mapping) for r in conn.execute(text(f"SELECT * FROM {t}"))] for t in TABLES
        }


def _restore_log(engine: Engine, copy: Copy) -> None:
    """Put the audit tables back as they were in ``copy``, as restoring that backup does."""
    drop_append_only_guards(engine)
    with engine.begin() as conn:
        for table in TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
            for row in copy[table]:
                names = ", ".join(row)
                values = ", ".join(f":{name}" for name in row)
                conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({values})"), row)


def _rolled_back(services: Services) -> None:
    """Sign at 5, keep a copy, sign at 9, then restore the copy: entries 5 to 8 are lost."""
    append_reads(services, 5)
    assert sign_now(services) == 5
    copy = _copy_log(services.engine)
    append_reads(services, 4)
    assert sign_now(services) == 9
    _restore_log(services.engine, copy)


def _acknowledge(services: Services, reason: str = "restored from the 02:00 backup") -> Any:
    return acknowledge_rollback(
        services.engine,
        build_checkpoint_store(services.settings, services.store),
        verifier_keys=trusted_keys(services.settings),
        reason=reason,
        actor="rob",
        clock=services.clock,
    )


def test_a_log_restored_from_an_older_copy_fails_verification(audit_services: Services) -> None:
    _rolled_back(audit_services)
    report = verify(audit_services)
    assert not report.ok
    assert LOST_5_TO_8 in report.problems
    assert report.first_bad_index == 5


def test_nothing_is_signed_over_the_lost_history(
    audit_services: Services, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    _rolled_back(audit_services)
    append_reads(audit_services, 5, actor="bob")  # past the lost 9: now its root differs
    with pytest.raises(LogRolledBack, match=r"signs a different root.*acknowledge-rollback"):
        sign_now(audit_services)
    step = checkpoint_step(
        audit_services.settings,
        engine=audit_services.engine,
        store=audit_services.store,
        clock=clock,
    )
    with caplog.at_level(logging.ERROR):
        assert (step(), step()) == (0, 0)
    refusals = [r for r in caplog.records if "checkpoints are not signed" in r.getMessage()]
    assert len(refusals) == 1  # said once, not at every wake


def test_a_refused_step_backs_off_until_the_loss_is_acknowledged(
    audit_services: Services, clock: FixedClock
) -> None:
    _rolled_back(audit_services)
    append_reads(audit_services, 5, actor="bob")
    store = FaultyStore(audit_services.store)
    engine = audit_services.engine
    step = checkpoint_step(audit_services.settings, engine=engine, store=store, clock=clock)
    assert step() == 0
    looked = store.lists
    assert looked > 0  # the first refusal comes from listing the store
    clock.advance(seconds=59)
    assert (step(), store.lists) == (0, looked)  # backing off: the store is not listed
    clock.advance(seconds=2)
    assert (step(), store.lists > looked) == (0, True)  # one minute on, it looks again
    looked = store.lists
    clock.advance(seconds=61)
    assert (step(), store.lists) == (0, looked)  # then it waits twice as long
    _acknowledge(audit_services)
    assert step() == 1  # an acknowledgement ends the wait at once, and signing resumes


def test_a_lost_database_fails_verification(audit_services: Services) -> None:
    empty = _copy_log(audit_services.engine)
    append_reads(audit_services, 5)
    assert sign_now(audit_services) == 5
    _restore_log(audit_services.engine, empty)
    report = verify(audit_services)
    assert not report.ok
    assert any(
        "the log has 0 entries; the store holds a signed checkpoint of 5" in p
        for p in report.problems
    )


def test_an_acknowledged_loss_is_recorded_and_signing_resumes(audit_services: Services) -> None:
    _rolled_back(audit_services)
    payload = _acknowledge(audit_services)
    assert (payload.log_size, payload.lost_from, payload.lost_to) == (5, 5, 8)
    assert payload.checkpoints == [checkpoint_key(9)]
    assert len(payload.roots[0]) == 64  # the signed root, read back and checked
    append_reads(audit_services, 3)  # with the acknowledgement: 9 entries again
    assert sign_now(audit_services) == 9  # a new epoch's key: the old one is taken for good
    assert audit_services.store.exists(checkpoint_key(9, 1))
    report = verify(audit_services)
    assert report.ok, report.problems
    assert report.latest_checkpoint == 9
    assert any(
        w.startswith("entries 5 to 8 were lost (acknowledged at entry 5: restored from")
        for w in report.warnings
    )


def test_a_restored_log_that_grew_past_the_loss_is_acknowledged_from_the_last_agreement(
    audit_services: Services,
) -> None:
    _rolled_back(audit_services)
    append_reads(audit_services, 6, actor="bob")  # 11 entries; 5 to 8 are not the signed ones
    payload = _acknowledge(audit_services)
    assert (payload.log_size, payload.lost_from, payload.lost_to) == (11, 5, 8)
    assert sign_now(audit_services) == 12
    report = verify(audit_services)
    assert report.ok, report.problems
    assert any(w.startswith("entries 5 to 8 were lost") for w in report.warnings)


def test_acknowledging_needs_a_loss_and_a_reason(audit_services: Services) -> None:
    append_reads(audit_services, 2)
    sign_now(audit_services)
    with pytest.raises(Exception, match="nothing was lost"):
        _acknowledge(audit_services)
    with pytest.raises(Exception, match="give the reason"):
        _acknowledge(audit_services, reason="  ")


def test_a_checkpoint_published_after_the_snapshot_is_no_loss() -> None:
    # Verification reads one snapshot, then lists the store: a checkpoint signed in
    # between is beyond the snapshot, yet the log holds its entries by now.
    findings = _Findings()
    _check_beyond({checkpoint_key(9): 9}, lambda: 12, findings)
    assert findings.problems == []
    _check_beyond({checkpoint_key(9): 9}, lambda: 5, findings)
    assert findings.problems == [LOST_5_TO_8, "entries 5 to 8 are missing"]


def test_the_issue_reproduced_with_the_command_line_alone(tmp_path: Path, sqlite_url: str) -> None:
    env = {"RECORDS_DATA_DIR": str(tmp_path / "data"), "RECORDS_DATABASE_URL": sqlite_url}
    database = Path(sqlite_url.removeprefix("sqlite:///"))

    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    run("init")
    run("users", "add", "u1", "--role", "staff")
    first = run("audit", "checkpoint")
    shutil.copy(database, tmp_path / "copy.db")
    run("users", "add", "u2", "--role", "staff")
    run("users", "add", "u3", "--role", "staff")
    second = run("audit", "checkpoint")
    assert first != second
    shutil.copy(tmp_path / "copy.db", database)  # the restore

    assert "entries are missing or the database was restored" in run("audit", "verify", code=1)
    assert "acknowledge-rollback" in run("audit", "checkpoint", code=1)
    said = run("audit", "acknowledge-rollback", "--reason", "restored after disk failure")
    assert "recorded the loss of entries" in said
    assert "signed checkpoint" in run("audit", "checkpoint")
    verified = run("audit", "verify")
    assert "were lost (acknowledged at entry" in verified and "audit log OK" in verified
