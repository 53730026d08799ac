"""Verifying the audit log in the database against its signed checkpoints.

`verify_log` reads one consistent snapshot of the database and the checkpoint
copies in the write-once store, and checks:

- every checkpoint: its signature (by a trusted key), origin and size, and that
  the database copy and the write-once copy are the same text;
- every entry, in index order: no index is missing, and its canonical bytes
  (recomputed from its columns) hash to the leaf recorded when it was written;
- the root recomputed from the entries at each checkpoint's size equals the signed
  root; a checkpoint that disagrees while a later one agrees was signed over a
  different history (a fork), otherwise the entries are to blame;
- successive checkpoints are linked by consistency proofs built from the stored tree,
  and the stored tree's root at the log size equals the recomputed root.

It reports the first bad entry as precisely as the evidence allows. Reading
options, printing and exit codes are left to the command line.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy import Connection, Engine, text

from records_service.audit._parallelscan import PARALLEL_MIN_ENTRIES, LeafScan
from records_service.audit._report import first_bad_summary
from records_service.audit._snapshot import snapshot
from records_service.audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    VerifierKey,
    open_checkpoint,
    parse_checkpoint_body,
    parse_verifier_key,
)
from records_service.audit.merkle import (
    EMPTY_ROOT,
    RootAccumulator,
    consistency_proof,
    root,
    verify_consistency,
)
from records_service.audit.nodes import LoadedNodes, addresses_needed, fetch_nodes
from records_service.audit.rollback import (
    CHECKPOINT_PREFIX,
    Acknowledged,
    Rollback,
    acknowledged,
    key_size,
)
from records_service.cpus import usable_cores
from records_service.settings import Settings
from records_service.storage import BlobStore, StorageError

MAX_LISTED_ENTRY_PROBLEMS = 20
_DB = "database"
_STORE = "write-once store"
Progress = Callable[[int], None]


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of `verify_log`.

    ``first_bad_index`` is the first bad entry when the evidence pins it down;
    ``first_bad_range`` is the half-open range that must hold it (wider when only
    a checkpoint root disagrees and the stored leaf hashes were rewritten too).
    """

    ok: bool
    tree_size: int
    entries_checked: int
    checkpoints_checked: int
    latest_checkpoint: int | None
    problems: list[str]
    warnings: list[str]
    first_bad_index: int | None = None
    first_bad_range: tuple[int, int] | None = None


@dataclass(frozen=True)
class _Signed:
    """A checkpoint copy whose signature verified."""

    size: int
    root: bytes
    label: str


@dataclass
class _Findings:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    exact_bad: int | None = None
    window: tuple[int, int] | None = None
    entry_problems: int = 0

    def bad_entry(self, index: int, message: str) -> None:
        if self.exact_bad is None or index < self.exact_bad:
            self.exact_bad = index
        self.entry_problems += 1
        if self.entry_problems <= MAX_LISTED_ENTRY_PROBLEMS:
            self.problems.append(message)

    def first_bad(self) -> tuple[int | None, tuple[int, int] | None]:
        exact, window = self.exact_bad, self.window
        if window is None:
            return exact, None if exact is None else (exact, exact + 1)
        lo, hi = window
        if exact is not None and exact < hi:
            return exact, (min(lo, exact), exact + 1)
        return (lo if hi - lo == 1 else None), window


def verify_log(
    engine: Engine,
    *,
    checkpoint_store: BlobStore | None,
    trusted_keys: Sequence[str],
    origin: str,
    progress: Progress | None = None,
    processes: int = 1,
    parallel_min_entries: int = PARALLEL_MIN_ENTRIES,
) -> VerifyReport:
    """Verify the whole log; see the module docstring for what is checked.

    ``checkpoint_store`` is the write-once store (None skips comparing copies,
    for a database restored without its store). ``progress`` is called with the
    number of entries processed after each batch. Logs of ``parallel_min_entries``
    or more have their entries recomputed by ``processes`` processes.
    """
    findings = _Findings()
    keys = _parse_keys(trusted_keys, findings)
    with snapshot(engine) as conn:
        head = int(conn.execute(text("SELECT size FROM audit_head WHERE id = 1")).scalar_one())
        with LeafScan(conn, head, processes=processes, min_entries=parallel_min_entries) as leaves:
            live = partial(_live_size, engine)
            notes = _collect_notes(conn, checkpoint_store, head, live, findings)
            signed = _open_notes(notes, keys, origin, findings)
            scan = _scan(leaves, sorted({s.size for s in signed}), findings, progress)
        _check_outside(conn, head, scan, findings)
        _judge(scan, signed, findings)
        _check_stored_tree(conn, scan, head, findings)
        _check_consistency(conn, signed, findings)
    return _report(findings, head, scan, signed)


def verify_processes(settings: Settings) -> int:
    """The configured number of verification processes; 0 means one per usable CPU core."""
    return settings.audit.verify_processes or usable_cores()


def _parse_keys(texts: Sequence[str], findings: _Findings) -> list[VerifierKey]:
    keys: list[VerifierKey] = []
    for key_text in texts:
        try:
            keys.append(parse_verifier_key(key_text))
        except CheckpointError as exc:
            findings.problems.append(f"trusted key {key_text.strip()!r} is unusable: {exc}")
    if not keys:
        findings.problems.append("no trusted verifier key: checkpoints cannot be checked")
    return keys


def _report(findings: _Findings, head: int, scan: _Scan, signed: list[_Signed]) -> VerifyReport:
    hidden = findings.entry_problems - MAX_LISTED_ENTRY_PROBLEMS
    problems = list(findings.problems)
    if hidden > 0:
        problems.append(f"{hidden} more entry problems not listed")
    index, bad_range = findings.first_bad()
    if bad_range is not None:
        problems.insert(0, first_bad_summary(index, bad_range))
    latest = max((s.size for s in signed), default=None)
    if latest is None and head > 0:
        problems.append("no signed checkpoint covers the log")
    elif latest is not None and latest < head:
        findings.warnings.append(
            f"entries {latest}..{head - 1} are not yet covered by a signed checkpoint"
        )
    return VerifyReport(
        ok=not problems,
        tree_size=head,
        entries_checked=scan.count,
        checkpoints_checked=len(signed),
        latest_checkpoint=latest,
        problems=problems,
        warnings=list(findings.warnings),
        first_bad_index=index,
        first_bad_range=bad_range,
    )


# --- checkpoints ---------------------------------------------------------------------


def _collect_notes(
    conn: Connection,
    store: BlobStore | None,
    head: int,
    live: Callable[[], int],
    findings: _Findings,
) -> dict[int, dict[str, str]]:
    """Every checkpoint copy by size and source, after cross-checking the two sources."""
    notes: dict[int, dict[str, str]] = {}
    losses = acknowledged(conn)
    findings.warnings.extend(losses.losses)
    rows = conn.execute(
        text("SELECT tree_size, root_hash, note, storage_key FROM audit_checkpoints")
    )
    for size, root_hash, note, storage_key in rows:
        notes.setdefault(int(size), {})[_DB] = note
        if key_size(storage_key) != int(size):
            findings.problems.append(f"checkpoint {size}: database row names key {storage_key!r}")
        _check_root_column(int(size), bytes(root_hash), note, findings)
    if store is None:
        findings.warnings.append("write-once copies of the checkpoints were not compared")
        return notes
    for size, note in _store_notes(store, head, losses, live, findings).items():
        notes.setdefault(size, {})[_STORE] = note
    for size, copies in sorted(notes.items()):
        _compare_copies(size, copies, findings)
    return notes


def _check_root_column(size: int, root_hash: bytes, note: str, findings: _Findings) -> None:
    try:
        body = note[: note.rindex("\n\n") + 1]
        stated = parse_checkpoint_body(body).root_hash
    except (ValueError, CheckpointError):
        return  # the note itself is reported when it is opened
    if stated != root_hash:
        findings.problems.append(
            f"checkpoint {size}: the database row's root_hash differs from its signed note"
        )


def _store_notes(
    store: BlobStore,
    head: int,
    losses: Acknowledged,
    live: Callable[[], int],
    findings: _Findings,
) -> dict[int, str]:
    """The store's checkpoints the snapshot can check, by size; reports the rest.

    A checkpoint beyond the snapshot was either published since it was taken (the
    log has grown past it by now) or signed over entries the log has lost. Those an
    acknowledged loss names are left out: their loss is reported as a warning.
    """
    found: dict[int, str] = {}
    beyond: dict[str, int] = {}
    try:
        for key in store.list(CHECKPOINT_PREFIX):
            size = key_size(key)
            if size is None:
                findings.warnings.append(f"unexpected object {key} among the checkpoints")
            elif key in losses.keys:
                continue
            elif size > head:
                beyond[key] = size
            else:
                found[size] = b"".join(store.open(key)).decode("utf-8", errors="replace")
    except StorageError as exc:
        findings.problems.append(f"cannot read checkpoints from the write-once store: {exc}")
    _check_beyond(beyond, live, findings)
    return found


def _check_beyond(beyond: dict[str, int], live: Callable[[], int], findings: _Findings) -> None:
    if not beyond:
        return
    size = live()
    lost = {key: stored for key, stored in beyond.items() if stored > size}
    if lost:
        findings.problems.append(Rollback(size, size, lost).message())
        findings.bad_entry(size, f"entries {size} to {max(lost.values()) - 1} are missing")


def _live_size(engine: Engine) -> int:
    """The log's size now, outside the verification's snapshot."""
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT size FROM audit_head WHERE id = 1")).scalar_one())


def _compare_copies(size: int, copies: dict[str, str], findings: _Findings) -> None:
    if _DB in copies and _STORE not in copies:
        findings.problems.append(
            f"checkpoint {size} is in the database but not in the write-once store"
        )
    elif _STORE in copies and _DB not in copies:
        findings.warnings.append(
            f"checkpoint {size} is in the write-once store but not in the database "
            "(an interrupted publication, or a removed row); the stored copy was checked"
        )
    elif copies[_DB] != copies[_STORE]:
        findings.problems.append(
            f"checkpoint {size}: the database copy differs from the write-once copy"
        )


def _open_notes(
    notes: dict[int, dict[str, str]], keys: Sequence[VerifierKey], origin: str, findings: _Findings
) -> list[_Signed]:
    """Verify every distinct copy; return those signed by a trusted key for this log."""
    signed: list[_Signed] = []
    for size, copies in sorted(notes.items()):
        distinct = {note: source for source, note in sorted(copies.items(), reverse=True)}
        for note, source in distinct.items():
            label = f"checkpoint {size}" + (f" ({source} copy)" if len(distinct) > 1 else "")
            try:
                cp = _open_with_any(note, keys)
            except CheckpointError as exc:
                findings.problems.append(f"{label}: {exc}")
                continue
            if cp.tree_size != size:
                findings.problems.append(f"{label}: it states tree size {cp.tree_size}")
            elif cp.origin != origin:
                findings.problems.append(f"{label}: origin {cp.origin!r} is not {origin!r}")
            else:
                signed.append(_Signed(size, cp.root_hash, label))
    return signed


def _open_with_any(note: str, keys: Sequence[VerifierKey]) -> Checkpoint:
    errors: list[str] = []
    for key in keys:
        try:
            return open_checkpoint(note, key)
        except CheckpointError as exc:
            errors.append(str(exc))
    # A failing signature by a trusted key says more than "no signature by the others".
    specific = [e for e in errors if not e.startswith("no signature by")]
    raise CheckpointError("; ".join(dict.fromkeys(specific or errors)) or "no trusted key")


# --- entries ------------------------------------------------------------------------


@dataclass
class _Scan:
    count: int = 0
    intact: bool = True
    roots: dict[int, bytes] = field(default_factory=dict)
    final_root: bytes = EMPTY_ROOT


class _Roots:
    """Accumulates leaf hashes and takes the root at each wanted size on the way."""

    def __init__(self, sizes: list[int]) -> None:
        self.accumulator = RootAccumulator()
        self.roots: dict[int, bytes] = {0: EMPTY_ROOT} if 0 in sizes else {}
        self._due = sorted({s for s in sizes if s > 0})
        self._next = 0

    def add(self, leaves: list[bytes]) -> None:
        offset = 0
        while self._next < len(self._due):
            size = self._due[self._next]
            take = size - self.accumulator.size
            if take > len(leaves) - offset:
                break
            self.accumulator.extend(leaves[offset : offset + take])
            offset += take
            self.roots[size] = self.accumulator.root()
            self._next += 1
        self.accumulator.extend(leaves[offset:])


def _scan(
    leaves: LeafScan, sizes: list[int], findings: _Findings, progress: Progress | None
) -> _Scan:
    """Recompute every leaf of [0, head) once, taking the roots at ``sizes`` on the way."""
    roots = _Roots(sizes)
    found = leaves.run(roots.add, progress)
    for index, message in found.problems:
        findings.bad_entry(index, message)
    return _Scan(
        count=found.count,
        intact=not found.problems,
        roots=roots.roots,
        final_root=roots.accumulator.root(),
    )


def _check_outside(conn: Connection, head: int, scan: _Scan, findings: _Findings) -> None:
    """Entries whose index lies outside 0..head-1 were added behind the log's back."""
    query = text(
        "SELECT count(*), min(idx), max(idx) FROM audit_entries WHERE idx < 0 OR idx >= :head"
    )
    outside, lowest, highest = conn.execute(query, {"head": head}).one()
    if outside:
        scan.intact = False
        findings.bad_entry(
            max(int(lowest), 0),
            f"entries outside the log's recorded size {head}: {outside}, "
            f"indices {lowest}..{highest}",
        )


def _span(first: int, last: int) -> str:
    return f"entry {first} is" if first == last else f"entries {first}..{last} are"


def _judge(scan: _Scan, signed: list[_Signed], findings: _Findings) -> None:
    """Compare each signed root with the recomputed one and say who is to blame.

    A checkpoint that matches vouches for every entry below its size, so an
    earlier checkpoint that does not match was signed over a different history.
    """
    matches = {s: scan.roots.get(s.size) == s.root for s in signed if s.size <= scan.count}
    for s in signed:
        if s.size > scan.count:
            findings.problems.append(
                f"{s.label}: covers {s.size} entries but the database holds {scan.count}"
            )
            if findings.exact_bad is None:
                findings.bad_entry(scan.count, f"{_span(scan.count, s.size - 1)} missing")
    last_match = max((s.size for s, ok in matches.items() if ok), default=0)
    for s in sorted((s for s, ok in matches.items() if not ok), key=lambda s: s.size):
        if s.size <= last_match:
            findings.problems.append(
                f"{s.label}: its signed root is inconsistent with checkpoint {last_match}, "
                "which vouches for the same entries"
            )
            continue
        findings.problems.append(
            f"{s.label}: the root recomputed from entries 0..{s.size - 1} "
            "does not match its signed root"
        )
        if findings.window is None:
            findings.window = (last_match, s.size)


# --- the stored tree ------------------------------------------------------------------


def _check_stored_tree(conn: Connection, scan: _Scan, head: int, findings: _Findings) -> None:
    """The stored nodes (which serve proofs) must give the recomputed root."""
    if not scan.intact or scan.count != head:
        return  # already reported; the stored tree cannot be compared position by position
    needed = addresses_needed(lambda nodes: root(head, nodes))
    try:
        stored = root(head, LoadedNodes(fetch_nodes(conn, needed)))
    except KeyError as exc:
        findings.problems.append(f"stored Merkle node {exc.args[0]} is missing")
        return
    if stored != scan.final_root:
        findings.problems.append(
            f"the stored Merkle tree's root at size {head} differs from the root "
            "recomputed from the entries"
        )


def _check_consistency(conn: Connection, signed: list[_Signed], findings: _Findings) -> None:
    """Check a consistency proof, from the stored tree, between successive checkpoints."""
    chain = sorted(signed, key=lambda s: s.size)
    pairs = [(a, b) for a, b in itertools.pairwise(chain) if a.size < b.size]
    if not pairs:
        return
    wanted: set[tuple[int, int]] = set()
    for a, b in pairs:
        wanted |= addresses_needed(partial(consistency_proof, a.size, b.size))
    nodes = LoadedNodes(fetch_nodes(conn, wanted))
    for a, b in pairs:
        try:
            proof = consistency_proof(a.size, b.size, nodes)
        except KeyError as exc:
            findings.problems.append(f"stored Merkle node {exc.args[0]} is missing")
            return
        if not verify_consistency(a.size, b.size, a.root, b.root, proof):
            findings.problems.append(
                f"{a.label} and {b.label}: no consistency proof from the stored tree links them"
            )
