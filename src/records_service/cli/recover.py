"""The ``records-service recover`` command: rebuild the catalogue from the blob store.

A thin shell over :func:`records_service.runtime.recovery.recover_from_store`:
progress bars, the plain-English summary and the JSON report.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from records_service.cli._services import cli_services
from records_service.runtime.recovery import Progress, RecoveryReport, recover_from_store
from records_service.runtime.services import Services
from records_service.settings import Settings

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar


@click.command("recover")
@click.option(
    "--from-store",
    "from_store",
    is_flag=True,
    required=True,
    help="Rebuild from the blob store's sidecars and change notes (the only source so far).",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    required=True,
    help="Write the recovery report (JSON) to this file.",
)
@click.option(
    "--audit-bundle",
    "bundles",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="An 'audit export' bundle to bring lost audit entries back from (repeatable; "
    "the longest good one is used).",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.pass_obj
def recover(
    settings: Settings, from_store: bool, report_path: Path, bundles: tuple[Path, ...], quiet: bool
) -> None:
    """Add to the database what the blob store holds and the database lacks.

    Works on an empty database (after 'records-service init') and on one restored
    from an older backup, where it adds only what is missing; running it again adds
    nothing. Each version's content is checked against its sidecar's SHA-256: an
    object that does not match is reported, not taken in. Users cannot be recovered:
    user names found get placeholder accounts without password or token. Audit
    entries the store's checkpoints prove but no bundle holds are recorded in the
    log as lost.
    Exits with status 1 if any stored object could not be used.
    """
    assert from_store  # required; the flag names the source for when there are others
    with cli_services(settings) as services:
        report = _run(services, bundles, quiet)
    report.write(report_path)
    for line in report.summary():
        click.echo(line)
    click.echo(f"report written to {report_path}")
    if report.records.problems:
        raise click.ClickException(
            f"{len(report.records.problems)} stored object(s) could not be used (see the report)"
        )


class _Bar:
    """A progress bar on stderr that learns its length from the first report."""

    def __init__(self, label: str, hidden: bool) -> None:
        self._label, self._hidden = label, hidden
        self._bar: ProgressBar[int] | None = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = click.progressbar(
                length=total, label=self._label, file=sys.stderr, hidden=self._hidden, show_pos=True
            )
            self._bar.__enter__()
        self._bar.update(done - self._bar.pos)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def _run(services: Services, bundles: tuple[Path, ...], quiet: bool) -> RecoveryReport:
    reading, writing = _Bar("reading the store", quiet), _Bar("writing records", quiet)
    try:
        return recover_from_store(services, bundles=bundles, progress=Progress(reading, writing))
    finally:
        reading.close()
        writing.close()
