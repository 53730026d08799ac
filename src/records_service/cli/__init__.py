"""The ``records-service`` command line: a thin shell over the same services as the API.

Settings come from ``RECORDS_*`` environment variables (see ``--help`` of each
command and the README's configuration table). This module holds the group, the
setup and serving commands and ``users``; the ``audit``, ``retention``,
``reindex``, ``recover``, ``replica``, ``backup`` (with ``restore``) and
``import`` commands live in the modules of the same names beside it, and every
command opens the services through :func:`records_service.cli._services.cli_services`.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import click

from records_service import __version__
from records_service.audit.writer import prepare_audit
from records_service.auth import service as users_service
from records_service.auth.models import Role
from records_service.auth.throttle import ThrottleKey, release, remembered
from records_service.auth.tokens import split_token
from records_service.cli._services import CLI_ACTOR
from records_service.cli._services import cli_services as _services
from records_service.cli.audit import audit as audit_commands
from records_service.cli.backup import backup as backup_command
from records_service.cli.backup import restore as restore_command
from records_service.cli.finance import finance as finance_commands
from records_service.cli.gaps import gaps as gap_commands
from records_service.cli.imports import import_command
from records_service.cli.recover import recover as recover_command
from records_service.cli.reindex import reindex as reindex_command
from records_service.cli.replica import replica as replica_commands
from records_service.cli.report import report as report_commands
from records_service.cli.retention import retention as retention_commands
from records_service.cli.transparency import transparency as transparency_commands
from records_service.db import session_scope
from records_service.runtime.services import Services
from records_service.settings import Settings, load_settings

# Temp files younger than this may belong to uploads still in progress.
LEFTOVER_AGE = timedelta(hours=1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="records-service")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Records management for commissioned services: capture, keep, find, prove.

    Configure with RECORDS_* environment variables; by default everything lives
    under ./data (SQLite, blobs, index).
    """
    ctx.obj = load_settings()


@main.command()
@click.option(
    "--first-admin",
    metavar="NAME",
    default=None,
    help="If there are no users yet, create this admin user and print its API token "
    "and web sign-in password.",
)
@click.pass_obj
def init(settings: Settings, first_admin: str | None) -> None:
    """Create the data directory, apply database migrations and prepare storage.

    Safe to run again: it only applies what is missing.
    """
    with _services(settings) as services:
        services.store.check_ready()
        click.echo(f"database ready: {services.engine.url.render_as_string(hide_password=True)}")
        click.echo(f"storage ready: {settings.storage.backend}")
        for line in prepare_audit(settings, services.store):
            click.echo(line)
        if first_admin:
            _first_admin(services, first_admin)


def _first_admin(services: Services, username: str) -> None:
    with session_scope(services.engine) as session:
        if users_service.list_users(session):
            return
        users_service.add_user(
            session, username=username, roles=["admin"], actor=CLI_ACTOR, clock=services.clock
        )
        token = users_service.issue_token(
            session, username=username, label="first admin", actor=CLI_ACTOR, clock=services.clock
        )
        password = secrets.token_urlsafe(12)
        users_service.set_password(
            session, username=username, password=password, actor=CLI_ACTOR, clock=services.clock
        )
    click.echo(f"created admin user {username!r}; API token (shown once, keep it safe):")
    click.echo(f"  {token}")
    click.echo("web sign-in password (shown once; change it under 'Change password'):")
    click.echo(f"  {password}")


@main.command()
@click.option("--host", default=None, help="Address to bind (default: RECORDS_HOST or 127.0.0.1).")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port (default: RECORDS_PORT or 8000).",
)
@click.option(
    "--processes",
    type=click.IntRange(min=0),
    default=None,
    help="HTTP server processes (default: RECORDS_SERVER_PROCESSES; 0 means one per core).",
)
@click.option("--log-level", default="info", show_default=True, help="uvicorn log level.")
@click.pass_obj
def serve(
    settings: Settings, host: str | None, port: int | None, processes: int | None, log_level: str
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs) and the background worker.

    Migrations are applied on start. Background work (text extraction, index updates,
    audit checkpoints, the retention timer) runs in one more process at a lower CPU
    priority, unless RECORDS_WORKERS__ENABLED=false or RECORDS_WORKERS__MODE=thread.
    """
    from records_service.app import create_app
    from records_service.runtime.serve import ServeError, server_processes
    from records_service.runtime.serve import serve as run_server

    try:
        run_server(
            settings,
            create_app=create_app,
            host=host or settings.host,
            port=port or settings.port,
            processes=server_processes(settings, processes),
            log_level=log_level,
        )
    except ServeError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("--parent-pid", type=click.IntRange(min=1), default=None, hidden=True)
@click.pass_obj
def worker(settings: Settings, parent_pid: int | None) -> None:
    """Run the background work in the foreground until stopped (Ctrl-C or SIGTERM).

    Sidecars of new versions, text extraction, search index updates, audit checkpoints
    and the retention timer.
    `serve` starts one itself; run this instead when the server runs with
    RECORDS_WORKERS__ENABLED=false, for example in its own container. Run one per
    deployment.
    """
    from records_service.runtime.serve import lower_priority, run_worker, share_one_heap

    share_one_heap()  # first, before any thread starts
    # Lowered before the services start, so that every thread they start (the
    # search engine's own among them) inherits the lower priority.
    lower_priority(settings.workers.nice, idle=settings.workers.idle_priority)
    # Its own commits leave the log's checkpoints to run_worker, as the servers' do.
    with _services(settings, checkpoint_wal=False) as services:
        run_worker(services, parent_pid=parent_pid)


@main.command()
@click.pass_obj
def check(settings: Settings) -> None:
    """Compare the store with the catalogue: orphan objects and missing content.

    Exits non-zero when they disagree. On the local store, also lists the temp files
    of writes interrupted more than an hour ago (a crash mid-upload); they hold no
    content of any record and may be removed.
    """
    from records_service.records.orphans import find_orphans
    from records_service.storage.local import LocalBlobStore

    with _services(settings) as services:
        report = find_orphans(services.engine, services.store)
        store = services.store
        leftovers = store.leftovers(LEFTOVER_AGE) if isinstance(store, LocalBlobStore) else ()
    for path in leftovers:
        click.echo(f"unfinished write (may be removed): {settings.blob_root / path}")
    for key in report.orphan_objects:
        click.echo(f"orphan object (no catalogue row): {key}")
    for key in report.missing_objects:
        click.echo(f"missing object (row without content): {key}")
    if not report.ok:
        raise click.ClickException(
            f"{len(report.orphan_objects)} orphan(s), {len(report.missing_objects)} missing"
        )
    click.echo("store and catalogue agree")


@main.command("config")
@click.option("--markdown", is_flag=True, help="Print a Markdown table (as in the README).")
def config(markdown: bool) -> None:
    """List every RECORDS_* setting with its default and meaning."""
    from records_service.settings import describe_settings

    rows = describe_settings()
    if markdown:
        click.echo("| Variable | Default | Meaning |\n|---|---|---|")
        for name, default, text in rows:
            shown = f"`{default}`" if default else ""
            click.echo(f"| `{name}` | {shown} | {text} |")
        return
    for name, default, text in rows:
        click.echo(f"{name}={default}\n    {text}")


_STAMP = "%Y-%m-%dT%H:%M:%SZ"


@main.group()
def users() -> None:
    """Manage users, roles, passwords and API tokens."""


@users.command("add")
@click.argument("username")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    help="Role: staff, reviewer, records_manager, auditor or admin (repeatable).",
)
@click.option("--name", "display_name", default="", help="Display name.")
@click.pass_obj
def users_add(settings: Settings, username: str, roles: tuple[str, ...], display_name: str) -> None:
    """Create a user and print a new API token (shown only once)."""
    with _services(settings) as services, session_scope(services.engine) as session:
        users_service.add_user(
            session,
            username=username,
            roles=roles,
            display_name=display_name,
            actor=CLI_ACTOR,
            clock=services.clock,
        )
        token = users_service.issue_token(
            session,
            username=username,
            label="created with user",
            actor=CLI_ACTOR,
            clock=services.clock,
        )
    click.echo(token)


@users.command("token")
@click.argument("username")
@click.option("--label", default="", help="What the token is for.")
@click.pass_obj
def users_token(settings: Settings, username: str, label: str) -> None:
    """Issue another API token for a user (shown only once)."""
    with _services(settings) as services, session_scope(services.engine) as session:
        click.echo(
            users_service.issue_token(
                session, username=username, label=label, actor=CLI_ACTOR, clock=services.clock
            )
        )


@users.command("tokens")
@click.argument("username")
@click.pass_obj
def users_tokens(settings: Settings, username: str) -> None:
    """List a user's API tokens: id, created, revoked (or "active") and label."""
    with _services(settings) as services, session_scope(services.engine) as session:
        for token in users_service.list_tokens(session, username):
            revoked = token.revoked_at
            state = f"revoked {revoked:{_STAMP}}" if revoked else "active"
            click.echo(f"{token.public_id}\t{token.created_at:{_STAMP}}\t{state}\t{token.label}")


@users.command("revoke-token")
@click.argument("token_id")
@click.pass_obj
def users_revoke_token(settings: Settings, token_id: str) -> None:
    """Revoke one API token at once, by its id (see 'users tokens') or its whole text."""
    parts = split_token(token_id)
    public_id = parts[0] if parts is not None else token_id
    with _services(settings) as services, session_scope(services.engine) as session:
        users_service.revoke_token(
            session, token_id=public_id, actor=CLI_ACTOR, clock=services.clock
        )
    click.echo(f"revoked {public_id}")


@users.command("list")
@click.pass_obj
def users_list(settings: Settings) -> None:
    """List users with their roles and state."""
    with _services(settings) as services, session_scope(services.engine) as session:
        for user in users_service.list_users(session):
            state = "disabled" if user.disabled else "active"
            click.echo(f"{user.username}\t{user.roles}\t{state}\t{user.display_name}")


@users.command("disable")
@click.argument("username")
@click.pass_obj
def users_disable(settings: Settings, username: str) -> None:
    """Disable a user: their tokens, password and web sessions stop working at once."""
    with _services(settings) as services, session_scope(services.engine) as session:
        users_service.disable_user(
            session, username=username, actor=CLI_ACTOR, clock=services.clock
        )
    click.echo(f"disabled {username}")


@users.command("enable")
@click.argument("username")
@click.pass_obj
def users_enable(settings: Settings, username: str) -> None:
    """Enable a disabled user again (for example an account a recovery made)."""
    with _services(settings) as services, session_scope(services.engine) as session:
        users_service.enable_user(session, username=username, actor=CLI_ACTOR, clock=services.clock)
    click.echo(f"enabled {username}")


_ROLE_NAMES = click.Choice([role.value for role in Role])


@users.command("roles")
@click.argument("username")
@click.option("--add", "add", multiple=True, type=_ROLE_NAMES, help="Role to give (repeatable).")
@click.option(
    "--remove", "remove", multiple=True, type=_ROLE_NAMES, help="Role to take away (repeatable)."
)
@click.pass_obj
def users_roles(
    settings: Settings, username: str, add: tuple[str, ...], remove: tuple[str, ...]
) -> None:
    """Change a user's roles (audited); a user keeps at least one. Prints the roles now held."""
    with _services(settings) as services, session_scope(services.engine) as session:
        user = users_service.change_roles(
            session,
            username=username,
            add=add,
            remove=remove,
            actor=CLI_ACTOR,
            clock=services.clock,
        )
        click.echo(f"{username}\t{user.roles}")


@users.command("passwd")
@click.argument("username")
@click.password_option(help="The new password (prompted when omitted).")
@click.pass_obj
def users_passwd(settings: Settings, username: str, password: str) -> None:
    """Set a user's password for the web interface."""
    with _services(settings) as services, session_scope(services.engine) as session:
        users_service.set_password(
            session, username=username, password=password, actor=CLI_ACTOR, clock=services.clock
        )
    click.echo(f"password set for {username}")


@users.command("unlock")
@click.argument("username", required=False)
@click.option(
    "--client",
    "address",
    default=None,
    help="Release a client address (as 'users locks' shows it) instead of a user name.",
)
@click.pass_obj
def users_unlock(settings: Settings, username: str | None, address: str | None) -> None:
    """Release a sign-in lockout at once and forget its failures (audited)."""
    if (username is None) == (address is None):
        raise click.UsageError("give either a USERNAME or --client ADDRESS")
    key = ThrottleKey.account(username) if username else ThrottleKey.client(address)
    with _services(settings) as services, session_scope(services.engine) as session:
        policy = services.sign_in_context().policy
        failures = release(session, key, policy=policy, actor=CLI_ACTOR, clock=services.clock)
    if failures:
        click.echo(f"released {key.key} ({failures} failed attempts forgotten)")
    else:
        click.echo(f"no failed sign-ins remembered for {key.key}")


@users.command("locks")
@click.pass_obj
def users_locks(settings: Settings) -> None:
    """List user names and client addresses with failed sign-ins remembered: scope,
    name, failures, and until when they are locked ("-": not locked)."""
    with _services(settings) as services, session_scope(services.engine) as session:
        policy = services.sign_in_context().policy
        for standing in remembered(session, policy, services.clock()):
            key, until = standing.key, standing.locked_until
            shown = f"{until:{_STAMP}}" if until else "-"
            click.echo(f"{key.scope.value}\t{key.name}\t{standing.failures}\t{shown}")


main.add_command(retention_commands)
main.add_command(audit_commands)
main.add_command(reindex_command)
main.add_command(recover_command)
main.add_command(replica_commands)
main.add_command(backup_command)
main.add_command(restore_command)
main.add_command(import_command)
main.add_command(finance_commands)
main.add_command(transparency_commands)
main.add_command(gap_commands)
main.add_command(report_commands)
