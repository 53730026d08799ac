"""The ``records-service backup`` and ``restore`` commands, for the embedded default.

A thin shell over :mod:`records_service.backup`: it draws the progress bars
(tqdm, on a terminal only), prints what was done in plain words, and turns every
refusal into a one-line error.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from alembic.script import ScriptDirectory
from tqdm import tqdm

from records_service.backup import BackupRefused
from records_service.backup.checks import CheckResult, check_restored
from records_service.backup.manifest import previous_manifest
from records_service.backup.progress import Advance, Bars
from records_service.backup.restore import RestoreReport, newer_than_backup, restore_backup
from records_service.backup.take import BackupReport, take_backup
from records_service.cli._services import cli_services
from records_service.migrations import alembic_config
from records_service.settings import Settings
from records_service.storage import StorageError

RUNBOOK = "docs/recovery.md"
# Steps smaller than this finish before a bar would be read.
BAR_MIN_BYTES = 64 * 1024 * 1024


def _bars(quiet: bool) -> Bars:
    @contextmanager
    def bar(label: str, total: int, unit: str) -> Iterator[Advance]:
        small = total < (BAR_MIN_BYTES if unit == "B" else BAR_MIN_BYTES // 4096)
        # disable=None: drawn only on a terminal, never into a log file.
        hidden = True if quiet or small else None
        with tqdm(
            total=total,
            desc=label,
            unit=unit,
            unit_scale=unit == "B",
            disable=hidden,
            leave=False,
            file=sys.stderr,
        ) as shown:
            yield shown.update

    return bar


@contextmanager
def _refusals(action: str) -> Iterator[None]:
    """Every expected failure as one line, never a traceback."""
    try:
        yield
    except BackupRefused as exc:
        raise click.ClickException(str(exc)) from None
    except StorageError as exc:
        raise click.ClickException(f"{action} stopped: {exc}") from None
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        raise click.ClickException(f"{action} stopped: {exc.strerror or exc}{where}") from None
    except sqlite3.Error as exc:
        raise click.ClickException(f"{action} stopped: the database said: {exc}") from None


@click.command("backup")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--verify-all",
    is_flag=True,
    help="Re-read every object already in DEST and check it against the manifest, "
    "not only the ones copied now (slower; do it weekly).",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.pass_obj
def backup(settings: Settings, dest: Path, verify_all: bool, quiet: bool) -> None:
    """Back up the embedded installation (SQLite and the local blob store) into DEST.

    Safe while the service runs: the database is copied as of one moment, without
    holding up writers. DEST must be an existing directory; use the same one every
    time, since objects already in it are not copied again. Copies the database,
    the blobs, the audit signing key, the other keys and the retention schedule
    file, writes DEST/manifest.json with the SHA-256 of every file, and reads the
    new copies back to check them. Copy DEST off the machine afterwards.

    Exits 1 if anything is wrong. For PostgreSQL or S3 settings it refuses and
    points at docs/recovery.md.
    """
    with _refusals("the backup"):
        report = take_backup(settings, dest, bars=_bars(quiet), verify_all=verify_all)
    _print_backup(report)
    if not report.ok:
        for problem in report.problems:
            click.echo(f"PROBLEM: {problem}")
        raise click.ClickException(f"the backup finished with {len(report.problems)} problem(s)")


def _print_backup(report: BackupReport) -> None:
    manifest, blobs = report.manifest, report.blobs
    click.echo(f"backup written to {report.destination} at {manifest.created_at}")
    click.echo(
        f"  database: {manifest.records} records, {manifest.versions} versions, schema "
        f"revision {manifest.schema_revision}, audit log of {manifest.audit.log_size} entries"
    )
    click.echo(
        f"  objects: {len(blobs.copied)} copied now, {blobs.kept} already in the backup"
        + (f", {blobs.repaired} damaged copies replaced" if blobs.repaired else "")
        + (f", {report.pruned} no longer in the store removed" if report.pruned else "")
    )
    if blobs.newer:
        click.echo(f"  {blobs.newer} object(s) newer than the database copy: in the next backup")
    click.echo(
        f"  verified against {report.destination / 'manifest.json'} in {report.seconds:.1f} s"
    )


@click.command("restore")
@click.argument("source", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--existing-store",
    is_flag=True,
    help="Only the database was lost and the blob store survived: put back only the "
    "objects it lacks and never replace one.",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.pass_obj
def restore(settings: Settings, source: Path, existing_store: bool, quiet: bool) -> None:
    """Restore a backup made by 'records-service backup' from SOURCE, then check it.

    Restores only into an empty installation (no database rows, no stored objects),
    and only a backup whose every file matches its manifest. Puts back the database,
    the blobs, the keys and the schedule, then runs the store-against-catalogue
    check, a full fixity pass and the audit log's verification, and reports each.
    Exits 1 if any check fails. Stop the service first.
    """
    with _refusals("the restore"):
        _refuse_unknown_schema(source)
        report = restore_backup(settings, source, bars=_bars(quiet), existing_store=existing_store)
    _print_restore(report)
    with _refusals("the checks"), cli_services(settings) as services:
        results = check_restored(
            services.engine, services.store, services.schedule, settings, services.clock
        )
        newer = list(newer_than_backup(services.store, report.manifest)) if existing_store else []
    failed = _print_checks(results)
    if newer:
        click.echo(
            f"{len(newer)} version(s) in the store are newer than the backup: see "
            f"'Recovering from the store alone' in {RUNBOOK}"
        )
    if failed:
        raise click.ClickException(
            f"restored, but {len(failed)} check(s) failed: {', '.join(failed)} (see {RUNBOOK})"
        )
    click.echo("restore complete: every check passed")


def _refuse_unknown_schema(source: Path) -> None:
    """A backup made by a later release has a schema this one cannot open: say so first."""
    manifest = previous_manifest(source)  # an unusable one is refused by restore_backup
    if manifest is None or manifest.schema_revision is None:
        return
    script = ScriptDirectory.from_config(alembic_config())
    known = {revision.revision for revision in script.walk_revisions()}
    if manifest.schema_revision not in known:
        raise BackupRefused(
            f"the backup's database has schema revision {manifest.schema_revision}, which "
            f"this release does not know: restore it with records-service "
            f"{manifest.service_version} (the release that made it) or later"
        )


def _print_restore(report: RestoreReport) -> None:
    manifest = report.manifest
    click.echo(
        f"restored the backup of {manifest.created_at}: {manifest.records} records, "
        f"{manifest.versions} versions, audit log of {manifest.audit.log_size} entries"
    )
    click.echo(
        f"  objects: {report.blobs_restored} put back"
        + (f", {report.blobs_present} already in the store" if report.blobs_present else "")
    )
    for placed in report.placed:
        click.echo(f"  {placed}")
    for note in report.notes:
        click.echo(f"NOTE: {note}")
    for problem in report.problems:
        click.echo(f"PROBLEM: {problem}")
    click.echo("  the search index is not in a backup: run 'records-service reindex'")


def _print_checks(results: list[CheckResult]) -> list[str]:
    """Print each check's outcome; return the names of those that failed."""
    for result in results:
        click.echo(f"{'OK' if result.ok else 'FAILED'}: {result.name}: {result.summary}")
        for detail in result.details:
            click.echo(f"    {detail}")
    return [result.name for result in results if not result.ok]
