"""The ``records-service audit`` commands: checkpoint, verify, export, public-key, grants.

A thin shell over :mod:`records_service.audit`: the work is done by its writer,
verifier, exporter and grants modules.
``audit verify --bundle`` touches neither the database nor the configured
storage, so an outside auditor can run it on their own machine.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

import click

from records_service.audit.bundle import BundleReport, verify_bundle
from records_service.audit.checkpoint import CheckpointError
from records_service.audit.export import export_bundle
from records_service.audit.grants import postgres_grants
from records_service.audit.keys import current_verifier_key, read_key_file, trusted_keys
from records_service.audit.log import log_size
from records_service.audit.rollback import CheckpointConflict, acknowledge_rollback
from records_service.audit.verify import VerifyReport, verify_log, verify_processes
from records_service.audit.writer import build_checkpoint_store, writer_for
from records_service.cli._services import CLI_ACTOR, cli_services
from records_service.db import session_scope
from records_service.errors import DomainError
from records_service.runtime.services import Services
from records_service.settings import Settings

# Below this many entries a progress bar is only noise.
PROGRESS_THRESHOLD = 50_000


def _services(settings: Settings) -> AbstractContextManager[Services]:
    # A checkpoint that cannot be trusted, or one the stored tree contradicts, is
    # reported by its message, as a domain refusal is.
    return cli_services(settings, refusals=(CheckpointError, CheckpointConflict))


@click.group()
def audit() -> None:
    """Checkpoint, verify and export the tamper-evident audit log."""


@audit.command("checkpoint")
@click.pass_obj
def checkpoint(settings: Settings) -> None:
    """Sign a checkpoint of the log now, if any entry is not yet covered."""
    with _services(settings) as services:
        writer = writer_for(
            settings, engine=services.engine, store=services.store, clock=services.clock
        )
        written = writer.publish()
    if written is None:
        click.echo("no new entries since the latest checkpoint")
    else:
        click.echo(f"signed checkpoint at tree size {written.tree_size}: {written.storage_key}")


@audit.command("acknowledge-rollback")
@click.option(
    "--reason",
    required=True,
    help="Why the loss is accepted: what happened and what was done (kept in the log).",
)
@click.pass_obj
def acknowledge(settings: Settings, reason: str) -> None:
    """Record in the log that entries covered by signed checkpoints were lost.

    Use it after 'audit verify' or 'audit checkpoint' reports that the store holds a
    checkpoint of more entries than the log (the database was restored from an older
    copy, or lost). The entry names the lost range and the checkpoints that prove
    it; signing then resumes. The loss stays visible: 'audit verify' reports it.
    """
    with _services(settings) as services:
        payload = acknowledge_rollback(
            services.engine,
            build_checkpoint_store(settings, services.store),
            verifier_keys=trusted_keys(settings),
            reason=reason,
            actor=CLI_ACTOR,
            clock=services.clock,
        )
    click.echo(
        f"recorded the loss of entries {payload.lost_from} to {payload.lost_to}, proved by "
        f"{len(payload.checkpoints)} signed checkpoint(s); checkpoints are signed again"
    )


@audit.command("public-key")
@click.pass_obj
def public_key(settings: Settings) -> None:
    """Print the verifier key of the current signing key (publish it widely)."""
    try:
        click.echo(current_verifier_key(settings))
    except DomainError as exc:
        raise click.ClickException(exc.detail) from None


@audit.command("verify")
@click.option(
    "--bundle",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Verify an exported bundle offline, without any database or configuration.",
)
@click.option(
    "--public-key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File of trusted verifier keys (one per line), instead of the configured ones.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--processes",
    type=click.IntRange(min=0),
    default=None,
    help="Processes that recompute the entries (0: one per CPU core; default: the "
    "audit.verify_processes setting).",
)
@click.pass_context
def verify(
    ctx: click.Context,
    bundle: Path | None,
    key_file: Path | None,
    quiet: bool,
    processes: int | None,
) -> None:
    """Recompute the log's root and check it against every signed checkpoint.

    Exits with status 1 on any problem and names the first bad entry.
    """
    keys = _read_keys(key_file) if key_file else None
    if bundle is not None:
        _verify_bundle(bundle, keys)
        return
    settings: Settings = ctx.obj
    if processes is not None:
        settings = settings.model_copy(
            update={"audit": settings.audit.model_copy(update={"verify_processes": processes})}
        )
    with _services(settings) as services:
        report = _verify_database(services, keys, quiet)
    _print_report(
        report,
        f"audit log OK: {report.entries_checked} entries, "
        f"{report.checkpoints_checked} checkpoints verified, "
        f"latest at tree size {report.latest_checkpoint}",
    )


def _read_keys(path: Path) -> list[str]:
    try:
        keys = read_key_file(path)
    except (CheckpointError, OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    if not keys:
        raise click.ClickException(f"{path} holds no verifier key")
    return keys


def _verify_bundle(path: Path, keys: list[str] | None) -> None:
    if keys is not None and len(keys) > 1:
        raise click.ClickException("a bundle is verified with exactly one key")
    report = verify_bundle(path, trusted_key_text=keys[0] if keys else None)
    _print_report(
        report,
        f"bundle OK: {report.tree_size} entries, {report.checkpoints_checked} checkpoints verified",
    )


def _verify_database(services: Services, keys: list[str] | None, quiet: bool) -> VerifyReport:
    settings = services.settings
    store = build_checkpoint_store(settings, services.store)
    trusted = keys if keys is not None else trusted_keys(settings)
    with session_scope(services.engine) as session:
        size = log_size(session)
    with click.progressbar(
        length=size, label="verifying", hidden=quiet or size < PROGRESS_THRESHOLD
    ) as bar:
        return verify_log(
            services.engine,
            checkpoint_store=store,
            trusted_keys=trusted,
            origin=settings.audit.origin,
            progress=bar.update,
            processes=verify_processes(settings),
        )


def _print_report(report: VerifyReport | BundleReport, verdict: str) -> None:
    """Warnings, then problems; exit 1 if there is any problem, else print ``verdict``."""
    for warning in report.warnings:
        click.echo(f"warning: {warning}")
    for problem in report.problems:
        click.echo(f"FAIL: {problem}")
    if not report.ok:
        raise click.exceptions.Exit(1)
    click.echo(verdict)


@audit.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
def export(settings: Settings, directory: Path) -> None:
    """Write the log as an offline bundle into DIRECTORY (new or empty).

    Give the bundle and the published public key to the auditor, who runs
    'records-service audit verify --bundle DIRECTORY --public-key KEYFILE'.
    """
    with _services(settings) as services:
        if directory.exists() and any(directory.iterdir()):
            raise click.ClickException(f"{directory} is not empty")
        summary = export_bundle(
            services.engine,
            directory,
            checkpoint_store=build_checkpoint_store(settings, services.store),
            public_key=current_verifier_key(settings),
            retired_keys=settings.audit.previous_public_keys,
            origin=settings.audit.origin,
        )
    click.echo(
        f"exported {summary.entries} entries and {summary.checkpoints} checkpoints to {directory}"
    )
    if summary.retired_key_checkpoints:
        click.echo(
            f"left out {summary.retired_key_checkpoints} checkpoints signed only by retired keys"
        )


@audit.command("grants")
@click.option("--role", default="records_app", show_default=True, help="The service's role.")
def grants(role: str) -> None:
    """Print the PostgreSQL grants that leave the service role unable to alter the log."""
    try:
        script = postgres_grants(role)
    except DomainError as exc:
        raise click.BadParameter(exc.detail) from None
    click.echo(script, nl=False)
