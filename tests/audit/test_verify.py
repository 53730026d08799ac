"""``audit verify`` on a real database, ``audit export`` and the offline bundle check,
and key rotation."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from factories import FixedClock
from records_service.audit.bundle import verify_bundle
from records_service.audit.checkpoint import generate_signing_key, public_key_text
from records_service.audit.keys import current_verifier_key, ensure_signing_key, signing_key_path
from records_service.audit.verify import verify_log
from records_service.audit.writer import build_checkpoint_store
from records_service.cli import main
from records_service.runtime.services import Services
from records_service.settings import Settings

from .conftest import append_reads, sign_now, verify


def cli(settings: Settings, *args: str) -> tuple[int, str]:
    """Run the command line in-process with ``settings`` given as RECORDS_* variables."""
    env = {
        "RECORDS_DATA_DIR": str(settings.data_dir),
        "RECORDS_DATABASE_URL": settings.resolved_database_url,
        "RECORDS_AUDIT__ORIGIN": settings.audit.origin,
        "RECORDS_AUDIT__KEY_NAME": settings.audit.key_name or "",
        "RECORDS_AUDIT__PREVIOUS_PUBLIC_KEYS": json.dumps(settings.audit.previous_public_keys),
    }
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_clean_log_verifies(audit_services: Services) -> None:
    append_reads(audit_services, 5)
    assert sign_now(audit_services) == 5
    append_reads(audit_services, 6)
    assert sign_now(audit_services) == 11
    append_reads(audit_services, 2)
    seen: list[int] = []
    report = verify_log(
        audit_services.engine,
        checkpoint_store=build_checkpoint_store(audit_services.settings, audit_services.store),
        trusted_keys=[current_verifier_key(audit_services.settings)],
        origin="opcc.test/audit",
        progress=seen.append,
    )
    assert report.problems == [] and report.ok
    assert (report.tree_size, report.entries_checked, report.checkpoints_checked) == (13, 13, 2)
    assert report.latest_checkpoint == 11
    assert report.warnings == ["entries 11..12 are not yet covered by a signed checkpoint"]
    assert sum(seen) == 13


def test_empty_log_verifies_and_uncovered_entries_fail(audit_services: Services) -> None:
    assert verify(audit_services).ok
    append_reads(audit_services, 2)
    report = verify(audit_services)
    assert not report.ok
    assert "no signed checkpoint covers the log" in report.problems


def test_wrong_key_or_origin_fails(audit_services: Services) -> None:
    append_reads(audit_services, 3)
    sign_now(audit_services)
    stranger = public_key_text("opcc.test/audit", generate_signing_key().public_key())
    report = verify(audit_services, keys=[stranger])
    assert not report.ok
    assert any("checkpoint 3: no signature by the trusted key" in p for p in report.problems)
    other_origin = verify_log(
        audit_services.engine,
        checkpoint_store=audit_services.store,
        trusted_keys=[current_verifier_key(audit_services.settings)],
        origin="someone-else",
    )
    assert any("origin 'opcc.test/audit' is not 'someone-else'" in p for p in other_origin.problems)


def test_cli_checkpoint_verify_public_key(audit_services: Services) -> None:
    settings = audit_services.settings
    append_reads(audit_services, 3)
    code, out = cli(settings, "audit", "checkpoint")
    assert code == 0, out
    assert "signed checkpoint at tree size 3: audit/checkpoints/00000000000000000003.note" in out
    code, out = cli(settings, "audit", "checkpoint")
    assert (code, out.strip()) == (0, "no new entries since the latest checkpoint")
    code, out = cli(settings, "audit", "verify")
    assert code == 0, out
    assert "audit log OK: 3 entries, 1 checkpoints verified, latest at tree size 3" in out
    code, out = cli(settings, "audit", "public-key")
    assert (code, out.strip()) == (0, current_verifier_key(settings))


def test_cli_verify_with_a_key_file(audit_services: Services, tmp_path: Path) -> None:
    append_reads(audit_services, 2)
    sign_now(audit_services)
    good = tmp_path / "published.key"
    good.write_text(
        "# the key from the annual report\n" + current_verifier_key(audit_services.settings)
    )
    assert cli(audit_services.settings, "audit", "verify", "--public-key", str(good))[0] == 0
    other = tmp_path / "other.key"
    other.write_text(public_key_text("opcc.test/audit", generate_signing_key().public_key()))
    code, out = cli(audit_services.settings, "audit", "verify", "--public-key", str(other))
    assert code == 1 and "FAIL: checkpoint 2: no signature by the trusted key" in out


def test_export_then_offline_verify_in_a_bare_process(
    sqlite_audit_services: Services, tmp_path: Path
) -> None:
    services = sqlite_audit_services
    append_reads(services, 6)
    sign_now(services)
    append_reads(services, 1)
    sign_now(services)
    bundle = tmp_path / "bundle"
    code, out = cli(services.settings, "audit", "export", str(bundle))
    assert code == 0, out
    assert f"exported 7 entries and 2 checkpoints to {bundle}" in out
    key_file = tmp_path / "published.key"
    key_file.write_text(current_verifier_key(services.settings) + "\n")
    # The auditor's machine: no data directory, no reachable database, nothing configured.
    auditor = tmp_path / "auditor"
    auditor.mkdir()
    shutil.copytree(bundle, auditor / "bundle")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "RECORDS_DATA_DIR": str(auditor / "nothing-here"),
        "RECORDS_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
    }
    args = ["audit", "verify", "--bundle", "bundle", "--public-key", str(key_file)]
    run = subprocess.run(
        [sys.executable, "-m", "records_service", *args],
        cwd=auditor,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "bundle OK: 7 entries, 2 checkpoints verified" in run.stdout
    assert not (auditor / "nothing-here").exists()
    entries = auditor / "bundle" / "entries.jsonl"
    entries.write_text(entries.read_text().replace('"alice"', '"mallory"', 1))
    result = CliRunner().invoke(main, [*args[:3], str(auditor / "bundle"), *args[4:]])
    assert result.exit_code == 1
    assert "FAIL: entries.jsonl does not match its SHA-256" in result.output


def test_export_refuses_a_non_empty_directory(audit_services: Services, tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    code, out = cli(audit_services.settings, "audit", "export", str(tmp_path / "full"))
    assert code == 1 and "is not empty" in out


def test_key_rotation_keeps_old_checkpoints_verifiable(
    audit_services: Services, clock: FixedClock, tmp_path: Path
) -> None:
    settings = audit_services.settings
    append_reads(audit_services, 3)
    sign_now(audit_services)
    old_key = current_verifier_key(settings)
    # Rotation: retire the old key file, name the new key, and keep the old public key.
    signing_key_path(settings).rename(tmp_path / "retired.key")
    rotated = settings.model_copy(
        update={
            "audit": settings.audit.model_copy(
                update={"key_name": "opcc.test/audit-2027", "previous_public_keys": [old_key]}
            )
        }
    )
    assert ensure_signing_key(rotated)
    rotated_services = Services.start(rotated, clock=clock)
    try:
        append_reads(rotated_services, 2)
        sign_now(rotated_services)
        report = verify(rotated_services)
        assert report.ok, report.problems
        assert report.checkpoints_checked == 2
        forgetful = verify(rotated_services, keys=[current_verifier_key(rotated)])
        assert any("checkpoint 3: no signature" in p for p in forgetful.problems)
        bundle = tmp_path / "bundle"
        code, out = cli(rotated, "audit", "export", str(bundle))
        assert code == 0 and "left out 1 checkpoints signed only by retired keys" in out
    finally:
        rotated_services.close()
    offline = verify_bundle(bundle, trusted_key_text=current_verifier_key(rotated))
    assert offline.ok, offline.problems
    assert (offline.tree_size, offline.checkpoints_checked) == (5, 1)


def test_commands_without_a_key_explain_what_to_do(audit_services: Services) -> None:
    signing_key_path(audit_services.settings).unlink()
    code, out = cli(audit_services.settings, "audit", "public-key")
    assert code == 1 and "run 'records-service init'" in out


def test_cli_spreads_verification_over_the_processes_asked_for(audit_services: Services) -> None:
    append_reads(audit_services, 6)
    sign_now(audit_services)
    code, output = cli(audit_services.settings, "audit", "verify", "--quiet", "--processes", "2")
    assert code == 0, output
    assert "audit log OK: 6 entries" in output
    code, output = cli(audit_services.settings, "audit", "verify", "--processes", "-1")
    assert code == 2
    assert "-1 is not in the range x>=0" in output
