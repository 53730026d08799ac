"""The ``records-service import`` command: bring a legacy folder tree or zip in.

A thin shell over :mod:`records_service.imports`: it reads the mapping, opens the
source, checks everything that can be checked before writing, then runs the batch
with a progress bar (files/s, MB/s, time left), prints a summary, and writes the
report as CSV and JSON. See docs/import.md.
"""

from __future__ import annotations

import getpass
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from records_service.bounds import check_text
from records_service.cli._services import cli_services
from records_service.db import read_scope
from records_service.imports.batches import (
    begin_batch,
    done_paths,
    find_batch,
    finish_batch,
    import_user,
)
from records_service.imports.checks import check_names
from records_service.imports.mapping import Mapping as RuleSet
from records_service.imports.mapping import load_mapping
from records_service.imports.models import MAX_BATCH_NAME_LENGTH, ImportBatch, Outcome
from records_service.imports.queries import report_rows
from records_service.imports.report import ReportRow, write_csv, write_json
from records_service.imports.runner import GROUP_FILES, MAX_GROUP_FILES, FileResult, ImportRun
from records_service.imports.sources import Source, SourceFile, SourceLimits, open_source
from records_service.runtime.services import Services
from records_service.settings import Settings


def _batch_name(given: str | None, source: Path) -> str:
    name = given if given is not None else source.resolve().name
    try:
        check_text(name)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--batch") from None
    if not name.strip() or len(name) > MAX_BATCH_NAME_LENGTH:
        raise click.BadParameter(
            f"give a name of 1 to {MAX_BATCH_NAME_LENGTH} characters", param_hint="--batch"
        )
    return name


@click.command("import")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--map",
    "mapping_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The mapping file (TOML): ordered rules from paths to record metadata.",
)
@click.option("--dry-run", is_flag=True, help="Show what would happen; write nothing.")
@click.option(
    "--batch",
    "batch_name",
    default=None,
    help="The batch's name (default: the source's name). Run the same command again "
    "to resume or re-check a batch.",
)
@click.option(
    "--report",
    "report_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write every file's outcome to this CSV file, and as JSON beside it (.json).",
)
@click.option(
    "--user",
    "username",
    default=None,
    help="The user the records are captured as (default: your login name); they "
    "must be allowed to capture.",
)
@click.option(
    "--group",
    "group_files",
    type=click.IntRange(1, MAX_GROUP_FILES),
    default=GROUP_FILES,
    show_default=True,
    help="Files written per transaction (fewer: a smaller step lost to a kill, and slower).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
def import_command(
    settings: Settings,
    source: Path,
    mapping_file: Path,
    dry_run: bool,
    batch_name: str | None,
    report_file: Path | None,
    username: str | None,
    group_files: int,
    quiet: bool,
) -> None:
    """Import SOURCE, a directory tree or a .zip, as records, by the rules of --map.

    Each file becomes a record through the same capture as the API (with its
    provenance: path, size, modification time, batch, who and when); a file whose
    bytes are already held is recorded as a sighting of that record; a file no rule
    matches is reported and left out. A run that stops part way is finished by
    running the same command again; nothing is captured twice.
    """
    name = _batch_name(batch_name, source)
    mapping = load_mapping(mapping_file.read_text(encoding="utf-8"), name=mapping_file.name)
    limits = SourceLimits(max_file_bytes=settings.max_upload_bytes)
    with cli_services(settings) as services, open_source(source, limits) as opened:
        run = _prepare(services, opened, mapping, name, username or getpass.getuser(), dry_run)
        run.group_files = group_files
        tally = _run(run, opened.files(), quiet=quiet)
        batch_totals = _finish(services, run)
        _summary(run, tally, batch_totals)
        if report_file is not None:
            header = {"batch": name, "source": str(opened.location), "dry_run": dry_run}
            counts = batch_totals if batch_totals is not None else dict(tally.outcomes)
            rows = (lambda: tally.rows) if run.dry_run else (lambda: _stored_rows(services, run))
            _write_report(report_file, {**header, "counts": counts}, rows)


def _prepare(
    services: Services, source: Source, mapping: RuleSet, name: str, username: str, dry_run: bool
) -> ImportRun:
    """Check everything that can be checked, then start (or resume) the batch."""
    location = str(source.location)
    with read_scope(services.engine) as session:
        actor = import_user(session, username)
        check_names(session, mapping, services.record_types, source.files())
        batch: ImportBatch | None = find_batch(session, name, location, mapping)
    if not dry_run:
        batch = begin_batch(
            services.engine,
            name=name,
            source=location,
            mapping=mapping,
            actor=actor,
            clock=services.clock,
        )
    done = done_paths(services.engine, batch.id if batch else None)
    return ImportRun(
        services.capture_context(), mapping, source, actor, batch, dry_run=dry_run, done=done
    )


@dataclass
class _Tally:
    """What this run did: outcomes, files settled earlier, bytes, seconds, dry-run lines."""

    outcomes: Counter[str] = field(default_factory=Counter)
    earlier: int = 0
    size: int = 0
    seconds: float = 0.0
    rows: list[ReportRow] = field(default_factory=list)


def _run(run: ImportRun, files: list[SourceFile], *, quiet: bool) -> _Tally:
    """Import every file with a progress bar: bytes (MB/s, time left) and files/s."""
    tally = _Tally()
    started = time.monotonic()
    with tqdm(
        total=sum(f.size for f in files),
        unit="B",
        unit_scale=True,
        unit_divisor=1000,
        desc="import",
        file=sys.stderr,
        disable=quiet,
        mininterval=0.5,
        dynamic_ncols=True,
    ) as bar:
        for number, result in enumerate(run.files(files), 1):
            _count(tally, result, keep=run.dry_run)
            bar.update(result.file.size)
            rate = number / max(time.monotonic() - started, 1e-9)
            bar.set_postfix_str(f"{number}/{len(files)} files, {rate:.0f} files/s", refresh=False)
    tally.seconds = time.monotonic() - started
    return tally


def _count(tally: _Tally, result: FileResult, *, keep: bool) -> None:
    if result.earlier:
        tally.earlier += 1
    else:
        tally.outcomes[result.outcome.outcome.value] += 1
        tally.size += result.size
    if keep:
        tally.rows.append(_dry_row(result))


def _dry_row(result: FileResult) -> ReportRow:
    outcome = result.outcome
    mapped = json.loads(outcome.mapped) if outcome.mapped else {}
    return ReportRow(
        path=result.file.path,
        outcome="earlier" if result.earlier else outcome.outcome.value,
        reason="settled by an earlier run of the batch" if result.earlier else outcome.reason,
        size=result.size,
        modified_at=result.file.modified_at.isoformat(),
        sha256=outcome.sha256,
        rule_line=outcome.rule,
        record_id=outcome.record_id,
        version=outcome.version,
        mapped=mapped,
    )


def _finish(services: Services, run: ImportRun) -> dict[str, int] | None:
    """Close the run (not a dry run's); the whole batch's counts."""
    if run.dry_run or run.batch is None:
        return None
    counts = finish_batch(services.engine, run.batch, actor=run.actor, clock=services.clock)
    return {outcome.value: counts[outcome.value] for outcome in Outcome}


def _stored_rows(services: Services, run: ImportRun) -> Iterator[ReportRow]:
    assert run.batch is not None and run.batch.id is not None
    with read_scope(services.engine) as session:
        yield from report_rows(session, run.batch.id)


def _phrase(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{counts.get(o.value, 0)} {o.value}" for o in Outcome)


def _summary(run: ImportRun, tally: _Tally, batch_totals: dict[str, int] | None) -> None:
    """Print what this run did and, after a real run, where the whole batch stands."""
    done = sum(tally.outcomes.values())
    verb = "would be" if run.dry_run else "this run"
    click.echo(f"{verb}: {_phrase(tally.outcomes)}; {tally.earlier} settled by an earlier run")
    seconds = max(tally.seconds, 1e-9)
    click.echo(
        f"{done} files, {tally.size / 1e6:.1f} MB in {tally.seconds:.1f} s: "
        f"{done / seconds:.1f} files/s, {tally.size / 1e6 / seconds:.1f} MB/s"
    )
    if batch_totals is not None and run.batch is not None:
        click.echo(f"batch {run.batch.name!r} (run {run.batch.runs}): {_phrase(batch_totals)}")
    if run.dry_run:
        click.echo("dry run: nothing was written")


def _write_report(
    path: Path, header: dict[str, Any], rows: Callable[[], Iterable[ReportRow]]
) -> None:
    """The report as CSV at ``path`` and as JSON beside it, each written as the rows
    are read (``rows`` gives them afresh for each), so memory stays flat."""
    with path.open("w", encoding="utf-8", newline="") as out:
        write_csv(out, rows())
    json_path = path.with_suffix(".json")
    with json_path.open("w", encoding="utf-8") as out:
        write_json(out, header, rows())
    click.echo(f"report: {path} and {json_path}")
