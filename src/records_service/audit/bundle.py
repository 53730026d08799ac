"""Export and offline verification of audit-log bundles.

A bundle is a directory that lets an outsider check the audit log with no
database and no running service:

- ``entries.jsonl``: one JSON object per entry, in index order, with ``index``,
  ``canonical`` (base64 of the entry's canonical bytes, the only authoritative
  field), ``leaf_hash`` (hex, as recorded by the log) and readable fields;
- ``checkpoints/<tree size, zero padded>.note``: signed checkpoints;
- ``public-key.txt``: the C2SP verifier key of the log;
- ``manifest.json``: origin, counts and the SHA-256 of every other file.

This module owns the layout, `write_bundle` and `verify_bundle`. Reading the
entries and checkpoints out of the database is left to callers. The manifest
is not signed: it catches corruption, while the checkpoints catch tampering.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from records_service.audit._report import first_bad_summary
from records_service.audit.checkpoint import (
    CheckpointError,
    open_checkpoint,
    parse_verifier_key,
)
from records_service.audit.merkle import EMPTY_ROOT, HASH_SIZE, RootAccumulator, leaf_hash

BUNDLE_FORMAT = "records-service-audit-bundle/1"
ENTRIES_FILE = "entries.jsonl"
CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_SUFFIX = ".note"
PUBLIC_KEY_FILE = "public-key.txt"
MANIFEST_FILE = "manifest.json"
MAX_ENTRY_PROBLEMS = 20
_RESERVED_FIELDS = frozenset({"index", "canonical"})
# One decoder and encoder for every line, rather than one per call.
_JSON = json.JSONDecoder()
# Readable fields are informative only, so anything unusual is written as text.
_ENTRY_ENCODER = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
)


@dataclass(frozen=True)
class BundleReport:
    """The outcome of `verify_bundle`.

    `first_bad_index` is the first bad entry when the evidence pins it down: an
    entry whose canonical bytes do not match its leaf hash, a gap or misplaced
    index, or a window of one entry between a matching and a mismatching
    checkpoint. `first_bad_range` is the half-open range of indices that must
    hold the first bad entry: entries after the last matching checkpoint are
    vouched for by nothing, so it can start before `first_bad_index`.
    """

    ok: bool
    problems: list[str]
    tree_size: int
    checkpoints_checked: int
    first_bad_index: int | None = None
    first_bad_range: tuple[int, int] | None = None
    warnings: list[str] = field(default_factory=list)


def checkpoint_file_name(tree_size: int) -> str:
    """Return the bundle file name of the checkpoint at `tree_size`."""
    return f"{tree_size:020d}{CHECKPOINT_SUFFIX}"


def write_bundle(
    path: Path,
    entries: Iterable[tuple[int, bytes, Mapping[str, Any]]],
    checkpoints: Iterable[tuple[int, str]],
    public_key_text: str,
    origin: str,
) -> dict[str, Any]:
    """Write a bundle into `path` (new or empty) and return its manifest.

    `entries` are (index, canonical bytes, readable fields) in index order. A
    ``leaf_hash`` field (bytes or hex), if given, is kept as the log recorded
    it, so that verification can compare it with the canonical bytes; else it
    is computed. `checkpoints` are (tree size, signed note text). Entries are
    written as given, gaps included, so that an export never hides damage.
    """
    if path.exists() and any(path.iterdir()):
        raise FileExistsError(f"bundle directory {path} is not empty")
    (path / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    entry_count, files[ENTRIES_FILE] = _write_entries(path / ENTRIES_FILE, entries)
    sizes = _write_checkpoints(path / CHECKPOINT_DIR, checkpoints, files)
    files[PUBLIC_KEY_FILE] = _write_file(path / PUBLIC_KEY_FILE, public_key_text.strip() + "\n")
    manifest = {
        "format": BUNDLE_FORMAT,
        "origin": origin,
        "tree_size": entry_count,
        "counts": {"entries": entry_count, "checkpoints": len(sizes)},
        "latest_checkpoint_size": sizes[-1] if sizes else None,
        "files": dict(sorted(files.items())),
    }
    _write_file(path / MANIFEST_FILE, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def verify_bundle(path: Path, *, trusted_key_text: str | None = None) -> BundleReport:
    """Check a bundle offline and report every problem found.

    Checks the manifest hashes, that entry indices run 0, 1, 2... without gaps,
    each entry's recorded leaf hash, each checkpoint's signature and origin,
    and that each checkpoint's root equals the root recomputed from the
    entries up to its size. Pass the log's published key as `trusted_key_text`:
    without it the bundle's own public-key.txt is trusted, and a forger who
    re-signs everything with a new key would pass.
    """
    findings = _Findings()
    manifest = _check_manifest(path, findings)
    key_text = _choose_key(path, trusted_key_text, findings)
    origin = manifest.get("origin") if isinstance(manifest.get("origin"), str) else None
    signed = _load_checkpoints(path, key_text, origin, findings)
    scan = _scan_entries(path / ENTRIES_FILE, signed, findings)
    _judge_checkpoints(scan, signed, findings)
    if manifest and manifest.get("tree_size") != scan.count:
        claimed = manifest.get("tree_size")
        findings.problem(f"manifest says tree_size {claimed}, bundle holds {scan.count} entries")
    return findings.report(scan.count, len(signed))


class _Findings:
    """Collects problems; caps per-entry problems so a wrecked log stays readable."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.exact_bad: int | None = None
        self.window: tuple[int, int] | None = None
        self._entry_problems = 0

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def bad_entry(self, index: int, text: str) -> None:
        if self.exact_bad is None or index < self.exact_bad:
            self.exact_bad = index
        self._entry_problems += 1
        if self._entry_problems <= MAX_ENTRY_PROBLEMS:
            self.problems.append(text)

    def report(self, tree_size: int, checkpoints_checked: int) -> BundleReport:
        problems = list(self.problems)
        hidden = self._entry_problems - MAX_ENTRY_PROBLEMS
        if hidden > 0:
            problems.append(f"{hidden} more entry problems not listed")
        bad_range = _first_bad_range(self.exact_bad, self.window)
        bad_index = _first_bad_index(self.exact_bad, bad_range)
        if bad_range is not None:
            problems.insert(0, first_bad_summary(bad_index, bad_range))
        return BundleReport(
            ok=not problems,
            problems=problems,
            tree_size=tree_size,
            checkpoints_checked=checkpoints_checked,
            first_bad_index=bad_index,
            first_bad_range=bad_range,
            warnings=list(self.warnings),
        )


def _first_bad_range(exact: int | None, window: tuple[int, int] | None) -> tuple[int, int] | None:
    """Combine a proven bad index with a root-mismatch window [lo, hi)."""
    if window is None:
        return None if exact is None else (exact, exact + 1)
    lo, hi = window
    if exact is None or exact >= hi:
        return window
    # A proven bad entry inside the window caps it; one before the window comes first.
    return (exact, exact + 1) if exact < lo else (lo, exact + 1)


def _first_bad_index(exact: int | None, bad_range: tuple[int, int] | None) -> int | None:
    if bad_range is None:
        return None
    lo, hi = bad_range
    if exact is not None and lo <= exact < hi:
        return exact
    return lo if hi - lo == 1 else None


def _check_manifest(path: Path, findings: _Findings) -> dict[str, Any]:
    """Check the manifest's format and file hashes; return it ({} if unreadable)."""
    try:
        manifest = json.loads((path / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        findings.problem(f"{MANIFEST_FILE} cannot be read: {exc}")
        return {}
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        findings.problem(f"{MANIFEST_FILE} is not a {BUNDLE_FORMAT} manifest")
        return {}
    listed = manifest.get("files")
    listed = listed if isinstance(listed, dict) else {}
    present = _bundle_files(path)
    for name in sorted(present - listed.keys()):
        findings.problem(f"{name} is not listed in {MANIFEST_FILE}")
    for name, expected in sorted(listed.items()):
        if name not in present:
            findings.problem(f"{name} is listed in {MANIFEST_FILE} but missing")
        elif _sha256_file(path / name) != expected:
            findings.problem(f"{name} does not match its SHA-256 in {MANIFEST_FILE}")
    return manifest


def _bundle_files(path: Path) -> set[str]:
    """Relative names of the files a bundle may hold (the manifest aside)."""
    names = {n for n in (ENTRIES_FILE, PUBLIC_KEY_FILE) if (path / n).is_file()}
    folder = path / CHECKPOINT_DIR
    if folder.is_dir():
        names.update(f"{CHECKPOINT_DIR}/{p.name}" for p in folder.iterdir() if p.is_file())
    return names


def _choose_key(path: Path, trusted_key_text: str | None, findings: _Findings) -> str | None:
    """Return the verifier key to check checkpoints with, or None if there is none."""
    try:
        bundled = (path / PUBLIC_KEY_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        bundled = None
        findings.problem(f"{PUBLIC_KEY_FILE} cannot be read: {exc}")
    if trusted_key_text is not None:
        if bundled is not None and bundled != trusted_key_text.strip():
            findings.problem(f"{PUBLIC_KEY_FILE} is not the trusted key")
        key_text: str | None = trusted_key_text.strip()
    else:
        findings.warnings.append(
            f"checkpoints were checked with the bundle's own {PUBLIC_KEY_FILE}; "
            "compare it with the log's published key"
        )
        key_text = bundled
    if key_text is not None:
        try:
            parse_verifier_key(key_text)
        except CheckpointError as exc:
            findings.problem(f"verifier key is unusable: {exc}")
            return None
    return key_text


def _load_checkpoints(
    path: Path, key_text: str | None, origin: str | None, findings: _Findings
) -> dict[int, bytes]:
    """Open every checkpoint file; return {tree size: signed root} for those that verify."""
    folder = path / CHECKPOINT_DIR
    files = sorted(folder.glob(f"*{CHECKPOINT_SUFFIX}")) if folder.is_dir() else []
    if not files:
        findings.problem("the bundle holds no checkpoints, so nothing authenticates its entries")
    signed: dict[int, bytes] = {}
    for file in files:
        label = f"checkpoint {CHECKPOINT_DIR}/{file.name}"
        stem = file.name[: -len(CHECKPOINT_SUFFIX)]
        if key_text is None:
            findings.problem(f"{label}: not verified, no usable key")
            continue
        try:
            cp = open_checkpoint(file.read_text(encoding="utf-8"), key_text)
        except (CheckpointError, OSError, UnicodeDecodeError) as exc:
            findings.problem(f"{label}: {exc}")
            continue
        if not (stem.isascii() and stem.isdigit()) or int(stem) != cp.tree_size:
            findings.problem(f"{label}: file name does not match its tree size {cp.tree_size}")
        elif origin is not None and cp.origin != origin:
            findings.problem(f"{label}: origin {cp.origin!r} is not the log's origin {origin!r}")
        else:
            # Without a readable manifest, the first good checkpoint sets the origin.
            origin = origin or cp.origin
            signed[cp.tree_size] = cp.root_hash
    return signed


@dataclass
class _Scan:
    """What streaming the entries found: the count and each checkpoint's match."""

    count: int = 0
    matches: dict[int, bool] = field(default_factory=dict)


def _scan_entries(entries_path: Path, signed: Mapping[int, bytes], findings: _Findings) -> _Scan:
    """Stream the entries once: check indices and leaf hashes, compare checkpoint roots."""
    scan = _Scan()
    accumulator = RootAccumulator()
    due = sorted(signed)
    if due and due[0] == 0:
        scan.matches[0] = signed[0] == EMPTY_ROOT
    due = [size for size in due if size > 0]
    expected = 0
    try:
        with entries_path.open("rb") as lines:
            for line_number, raw in enumerate(lines, start=1):
                expected = _check_entry(raw, line_number, expected, accumulator, findings)
                if due and due[0] == accumulator.size:
                    size = due.pop(0)
                    scan.matches[size] = accumulator.root() == signed[size]
    except OSError as exc:
        findings.problem(f"{ENTRIES_FILE} cannot be read: {exc}")
    scan.count = accumulator.size
    return scan


def _check_entry(
    raw: bytes, line_number: int, expected: int, accumulator: RootAccumulator, findings: _Findings
) -> int:
    """Check one entry line, append its leaf, and return the next expected index."""
    position = accumulator.size
    try:
        index, canonical, recorded = _parse_entry(raw)
    except ValueError as exc:
        findings.bad_entry(position, f"{ENTRIES_FILE} line {line_number}: {exc}")
        # Keep later positions aligned; this leaf cannot match any signed root.
        accumulator.append(leaf_hash(raw))
        return expected + 1
    if index != expected:
        findings.bad_entry(
            min(index, expected),
            f"{ENTRIES_FILE} line {line_number}: entries out of sequence, "
            f"expected index {expected}, found {index}",
        )
    leaf = leaf_hash(canonical)
    if recorded is not None and recorded != leaf:
        findings.bad_entry(index, f"entry {index}: canonical bytes do not match its leaf_hash")
    accumulator.append(leaf)
    return index + 1


def _parse_entry(raw: bytes) -> tuple[int, bytes, bytes | None]:
    """Return (index, canonical bytes, recorded leaf hash or None); ValueError if malformed."""
    try:
        record = _JSON.decode(raw.decode("utf-8"))
    except ValueError as exc:
        raise ValueError(f"not a JSON object ({exc.__class__.__name__})") from exc
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    index = record.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ValueError("missing or invalid 'index'")
    try:
        canonical = binascii.a2b_base64(record.get("canonical", ""), strict_mode=True)
        recorded = record.get("leaf_hash")
        recorded_bytes = None if recorded is None else bytes.fromhex(recorded)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValueError(f"entry {index}: bad 'canonical' or 'leaf_hash' encoding") from exc
    if "canonical" not in record:
        raise ValueError(f"entry {index}: missing 'canonical'")
    if recorded_bytes is not None and len(recorded_bytes) != HASH_SIZE:
        raise ValueError(f"entry {index}: 'leaf_hash' is not {HASH_SIZE} bytes")
    return index, canonical, recorded_bytes


def _judge_checkpoints(scan: _Scan, signed: Mapping[int, bytes], findings: _Findings) -> None:
    """Turn root comparisons into problems, blaming entries or checkpoints as evidence allows.

    A checkpoint that matches vouches for every entry below its size, so an
    earlier checkpoint that does not match was signed over a different history
    (the log forked); mismatches after the last match point at the entries.
    """
    beyond = [size for size in sorted(signed) if size > scan.count]
    if beyond:
        findings.bad_entry(scan.count, f"entry index {scan.count} is missing")
    for size in beyond:
        scan.matches[size] = False
        findings.problem(
            f"checkpoint {size}: covers {size} entries but the bundle holds {scan.count}"
        )
    last_match = max((s for s, ok in scan.matches.items() if ok), default=0)
    for size in sorted(s for s, ok in scan.matches.items() if not ok and s <= scan.count):
        if size < last_match:
            findings.problem(
                f"checkpoint {size}: signed root is inconsistent with checkpoint {last_match}, "
                "which vouches for the same entries"
            )
            continue
        findings.problem(
            f"checkpoint {size}: root recomputed from entries 0..{size - 1} "
            "does not match the signed root"
        )
        if findings.window is None:
            findings.window = (last_match, size)


def _write_entries(
    path: Path, entries: Iterable[tuple[int, bytes, Mapping[str, Any]]]
) -> tuple[int, str]:
    """Write entries.jsonl; return (entry count, SHA-256 hex of the file)."""
    digest = hashlib.sha256()
    count = 0
    with path.open("wb") as out:
        for index, canonical, fields in entries:
            line = _entry_line(index, canonical, fields)
            out.write(line)
            digest.update(line)
            count += 1
    return count, digest.hexdigest()


def _entry_line(index: int, canonical: bytes, fields: Mapping[str, Any]) -> bytes:
    clash = _RESERVED_FIELDS & fields.keys()
    if clash:
        raise ValueError(f"entry {index}: readable fields may not be named {sorted(clash)}")
    record: dict[str, Any] = dict(fields)
    recorded = fields.get("leaf_hash")
    if isinstance(recorded, bytes | bytearray):
        recorded = bytes(recorded).hex()
    record["leaf_hash"] = recorded if recorded is not None else leaf_hash(canonical).hex()
    record["index"] = index
    record["canonical"] = base64.b64encode(canonical).decode()
    return (_ENTRY_ENCODER.encode(record) + "\n").encode()


def _write_checkpoints(
    folder: Path, checkpoints: Iterable[tuple[int, str]], files: dict[str, str]
) -> list[int]:
    """Write each signed note under its zero-padded size; return the sorted sizes."""
    sizes: list[int] = []
    for size, note in sorted(checkpoints, key=lambda item: item[0]):
        if sizes and sizes[-1] == size:
            raise ValueError(f"two checkpoints for tree size {size}")
        name = checkpoint_file_name(size)
        files[f"{CHECKPOINT_DIR}/{name}"] = _write_file(folder / name, note)
        sizes.append(size)
    return sizes


def _write_file(path: Path, text: str) -> str:
    """Write UTF-8 text (no newline translation); return its SHA-256 hex."""
    data = text.encode()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
