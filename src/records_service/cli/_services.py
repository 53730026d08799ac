"""Opening the services for one CLI command, with refusals shown as CLI errors.

The one way a command of :mod:`records_service.cli` (and of its groups: audit,
retention, reindex) opens the services.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from records_service.errors import DomainError
from records_service.runtime.services import Services
from records_service.settings import Settings
from records_service.storage import StorageError

CLI_ACTOR = "cli"  # the actor of what a command writes to the audit log


@contextmanager
def cli_services(
    settings: Settings,
    *,
    checkpoint_wal: bool = True,
    refusals: tuple[type[Exception], ...] = (),
) -> Iterator[Services]:
    """Start the services for a command and close them afterwards.

    A ``DomainError`` becomes a ``click.ClickException`` (its message, exit 1), as do a
    blob store that cannot be reached (``StorageError``) and any of the command's own
    ``refusals`` (their text): a person sees what is wrong, not a traceback.
    ``checkpoint_wal=False`` for the worker, which checkpoints SQLite's log itself.
    """
    try:
        services = Services.start(settings, checkpoint_wal=checkpoint_wal)
    except StorageError as exc:
        raise click.ClickException(f"the blob store is unavailable: {exc}") from None
    try:
        yield services
    except DomainError as exc:
        raise click.ClickException(exc.detail) from None
    except StorageError as exc:
        raise click.ClickException(f"the blob store is unavailable: {exc}") from None
    except refusals as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        services.close()
