"""The ``records-service reindex`` command: rebuild the search index from the database.

A thin shell over :func:`records_service.search.feed.rebuild_from_database`.
It is safe to run while the server is running: the server keeps answering
searches from the old index until the new one is swapped in, and while the
rebuild runs it holds the index's write lock, so the server's indexing waits
and its queued work is applied to the new index afterwards (see docs/search.md).
"""

from __future__ import annotations

import sys
import time

import click

from records_service.cli._services import cli_services
from records_service.cpus import usable_cores
from records_service.db import read_scope
from records_service.indexing.base import IndexBusy, SearchIndex
from records_service.runtime.services import Services
from records_service.search.documents import count_searchable_versions
from records_service.search.feed import IndexLag, index_lag, rebuild_from_database
from records_service.search.progress import read_progress
from records_service.settings import Settings


@click.command("reindex")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--processes",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Processes that index at once (0: one per CPU core). The new index then has "
    "one segment per process, which searches read a little more slowly until merged.",
)
@click.option(
    "--status",
    is_flag=True,
    help="Only show the index's state: engine, documents, a rebuild's progress (the "
    "worker's or another reindex's) and queued changes. Changes nothing.",
)
@click.pass_obj
def reindex(settings: Settings, quiet: bool, processes: int, status: bool) -> None:
    """Rebuild the search index from the database and the stored text.

    Searches keep answering from the old index until the new one is complete.
    Changes made meanwhile stay queued and are applied afterwards by the
    running server (or at its next start). Another process's rebuild or
    indexing is waited for (see RECORDS_INDEX__LOCK_TIMEOUT).
    """
    with cli_services(settings) as services:
        assert services.index is not None
        try:
            if status:
                _show_status(services, services.index)
                return
            count, elapsed = _rebuild(services, services.index, quiet=quiet, processes=processes)
            lag = _lag(services)
        except IndexBusy as exc:
            raise click.ClickException(f"the index is busy: {exc}") from None
    rate = count / elapsed if elapsed > 0 else 0.0
    click.echo(f"indexed {count} versions in {elapsed:.1f} s ({rate:.1f} per second)")
    if lag.pending:
        click.echo(
            f"{lag.pending} queued index change(s) will be applied by the running server "
            "(or when it next starts)"
        )


def _rebuild(
    services: Services, index: SearchIndex, *, quiet: bool, processes: int
) -> tuple[int, float]:
    """Rebuild with a progress bar; the count indexed and the seconds it took."""
    total = count_searchable_versions(services.engine)
    started = time.monotonic()
    with click.progressbar(
        length=total, label="versions", file=sys.stderr, hidden=quiet, show_pos=True
    ) as bar:
        count = rebuild_from_database(
            services.engine,
            index,
            lambda done: bar.update(done - bar.pos),
            processes=processes or usable_cores(),
            progress_dir=services.settings.index_path,
        )
    return count, time.monotonic() - started


def _lag(services: Services) -> IndexLag:
    with read_scope(services.engine) as session:
        return index_lag(session, services.clock())


def _show_status(services: Services, index: SearchIndex) -> None:
    """Print what ``/health`` says about the index, in plain words."""
    stats = index.stats()
    click.echo(f"engine: {stats.engine} ({stats.path})")
    click.echo(f"documents: {stats.doc_count}")
    if stats.answering_from:
        click.echo(f"searches answer from the {stats.answering_from} index until it is built")
    if stats.needs_rebuild:
        click.echo(f"needs a full rebuild: {stats.rebuild_reason or 'yes'}")
    progress = read_progress(services.settings.index_path)
    if progress is not None:
        click.echo(
            f"rebuilding: {progress.done} of {progress.total} versions "
            f"({progress.percent:.0f}%, {progress.per_second:.0f} per second)"
        )
    elif stats.rebuilding:
        click.echo("rebuilding: yes")
    lag = _lag(services)
    click.echo(f"queued changes: {lag.pending}")
