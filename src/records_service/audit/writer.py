"""Signing checkpoints of the audit log and publishing them to write-once storage.

This module owns when a checkpoint is due (``audit.checkpoint_every_entries`` new
entries, or the oldest entry not yet covered is ``audit.checkpoint_every_seconds``
old), where checkpoints are stored (``audit/checkpoints/<size>.note``: the main
store, or a separate S3 bucket, locked until ``audit.retention_years`` from now),
and the order of a publication:

1. read the log size and compute its root from the stored Merkle nodes, in a short
   read transaction (appends go on meanwhile; nodes below a committed size never change);
2. sign the checkpoint;
3. write it to the write-once store;
4. insert the ``audit_checkpoints`` row.

The store is written first so the database never names a checkpoint the store lacks.
If a crash falls between steps 3 and 4, the next run finds the stored note (its key
is taken), checks it against the stored tree and adopts it. Signing itself belongs
to :mod:`records_service.audit.checkpoint`.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from records_service.audit.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from records_service.audit.keys import (
    Signer,
    current_verifier_key,
    ensure_signing_key,
    load_signer,
    signing_key_path,
)
from records_service.audit.log import log_size
from records_service.audit.merkle import root
from records_service.audit.models import AuditCheckpoint, AuditEntry
from records_service.audit.nodes import with_stored_nodes
from records_service.audit.rollback import (
    CheckpointConflict,
    LogRolledBack,
    acknowledged,
    check_store,
    checkpoint_key,
)
from records_service.clock import Clock
from records_service.db import read_scope, session_scope
from records_service.settings import AuditSettings, Settings
from records_service.storage import BlobStore, ObjectExists, s3_store

log = logging.getLogger(__name__)

NOTE_CONTENT_TYPE = "text/plain; charset=utf-8"
_warned_missing_keys: set[Path] = set()


def build_checkpoint_store(settings: Settings, main_store: BlobStore) -> BlobStore:
    """The write-once store for checkpoints: the main store, or an S3 store set up for them.

    On S3 the checkpoint store uses ``audit.retention_mode`` and, if set, its own
    ``audit.bucket`` (created like the main bucket when ``storage.create_bucket``).
    """
    if settings.storage.backend == "local":
        return main_store
    storage = settings.storage.model_copy(
        update={
            "bucket": settings.audit.bucket or settings.storage.bucket,
            "retention_mode": settings.audit.retention_mode,
        }
    )
    store = s3_store(storage)
    if settings.audit.bucket and settings.storage.create_bucket:
        store.ensure_bucket()
    return store


def prepare_audit(settings: Settings, store: BlobStore) -> list[str]:
    """What ``init`` does for the audit log: create the signing key and check the
    checkpoint storage. Returns the lines to print. An existing key is kept as it is.
    """
    created = ensure_signing_key(settings)
    build_checkpoint_store(settings, store).check_ready()
    path = signing_key_path(settings)
    state = "created" if created else "present"
    return [
        f"audit signing key {state}: {path}",
        f"audit public key: {current_verifier_key(settings)}",
    ]


@dataclass(frozen=True)
class CheckpointPolicy:
    """How much unsigned history the log tolerates before signing."""

    every_entries: int
    every_seconds: float

    @classmethod
    def from_settings(cls, audit: AuditSettings) -> CheckpointPolicy:
        """The policy configured in the ``audit`` settings group."""
        return cls(audit.checkpoint_every_entries, audit.checkpoint_every_seconds)


@dataclass(frozen=True)
class LogState:
    """The log size, the latest checkpoint's size and the oldest uncovered entry's time."""

    size: int
    checkpointed: int
    oldest_uncovered_at: datetime | None

    def due(self, policy: CheckpointPolicy, now: datetime) -> bool:
        """Whether ``policy`` asks for a checkpoint now."""
        pending = self.size - self.checkpointed
        if pending <= 0:
            return False
        if pending >= policy.every_entries:
            return True
        age = (now - self.oldest_uncovered_at) if self.oldest_uncovered_at else timedelta(0)
        return age.total_seconds() >= policy.every_seconds


def log_state(session: Session) -> LogState:
    """Read the log's checkpoint state."""
    size = log_size(session)
    latest = session.exec(select(func.max(col(AuditCheckpoint.tree_size)))).one()
    checkpointed = int(latest) if latest is not None else 0
    oldest = session.get(AuditEntry, checkpointed) if size > checkpointed else None
    return LogState(size, checkpointed, oldest.at if oldest is not None else None)


def _add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


@dataclass
class KnownStored:
    """The largest tree size known to be signed in the store, or None before a listing.

    Listing the store's checkpoints grows with their number, so it is done once per
    process and then kept up to date from the publications themselves.
    """

    upto: int | None = None


class CheckpointWriter:
    """Signs checkpoints and publishes them to the write-once store and the database."""

    def __init__(
        self,
        *,
        engine: Engine,
        store: BlobStore,
        signer: Signer,
        origin: str,
        clock: Clock,
        retention_years: int,
        known: KnownStored | None = None,
    ) -> None:
        self._engine = engine
        self._store = store
        self._signer = signer
        self._origin = origin
        self._clock = clock
        self._years = retention_years
        self._known = known or KnownStored()

    def publish(self, *, policy: CheckpointPolicy | None = None) -> AuditCheckpoint | None:
        """Sign and publish a checkpoint of the whole log, if one is due.

        With no ``policy`` it is due whenever there are entries no checkpoint covers.
        Returns the new checkpoint, or None when nothing was due or a concurrent
        writer published the same size first.
        """
        now = self._clock()
        with session_scope(self._engine) as session:
            state = log_state(session)
            epoch = self._refuse_rollback(session, state.size)
            wanted = policy or CheckpointPolicy(every_entries=1, every_seconds=0)
            if not state.due(wanted, now):
                return None
            size = state.size
            root_hash = with_stored_nodes(session, lambda nodes: root(size, nodes))
        note = sign_checkpoint(
            Checkpoint(self._origin, size, root_hash, timestamp=now),
            self._signer.name,
            self._signer.private_key,
        )
        key = checkpoint_key(size, epoch)
        try:
            self._store.put(
                key,
                io.BytesIO(note.encode("utf-8")),
                content_type=NOTE_CONTENT_TYPE,
                retain_until=_add_years(now, self._years),
            )
        except ObjectExists:
            note = self._adopt_stored(key, size, root_hash)
        self._known.upto = max(self._known.upto or 0, size)
        return self._insert(size, root_hash, note, key, now)

    def _refuse_rollback(self, session: Session, size: int) -> int:
        """The epoch to sign in; raises :class:`LogRolledBack` if the store holds a
        checkpoint the log no longer agrees with (see ``audit/rollback.py``)."""
        losses = acknowledged(session)
        if self._known.upto is not None and self._known.upto <= size:
            return losses.epoch
        found = check_store(session, self._store, size, losses.keys)
        if found is not None:
            raise LogRolledBack(
                f"{found.message()}. Nothing is signed until the loss is acknowledged "
                "('records-service audit acknowledge-rollback')"
            )
        self._known.upto = size
        return losses.epoch

    def _adopt_stored(self, key: str, size: int, root_hash: bytes) -> str:
        """Return the note already stored under ``key`` if it signs the same root."""
        stored = b"".join(self._store.open(key)).decode("utf-8")
        found = open_checkpoint(stored, self._signer.verifier_key)
        if found.tree_size != size or found.root_hash != root_hash:
            raise CheckpointConflict(
                f"{key} in the write-once store signs a different root than the stored tree"
            )
        log.warning("adopting checkpoint %s found in the store without a database row", key)
        return stored

    def _insert(
        self, size: int, root_hash: bytes, note: str, key: str, now: datetime
    ) -> AuditCheckpoint | None:
        row = AuditCheckpoint(
            tree_size=size, root_hash=root_hash, note=note, storage_key=key, created_at=now
        )
        try:
            with session_scope(self._engine) as session:
                session.add(row)
        except IntegrityError:
            # A concurrent writer inserted this size between our read and our insert.
            return None
        log.info("signed audit checkpoint at tree size %d", size)
        return row


def writer_for(
    settings: Settings,
    *,
    engine: Engine,
    store: BlobStore,
    clock: Clock,
    known: KnownStored | None = None,
) -> CheckpointWriter:
    """A writer configured from settings; ``SigningKeyMissing`` without a key file."""
    return CheckpointWriter(
        engine=engine,
        store=build_checkpoint_store(settings, store),
        signer=load_signer(settings),
        origin=settings.audit.origin,
        clock=clock,
        retention_years=settings.audit.retention_years,
        known=known,
    )


# While signing is refused over a rolled-back log, the store is listed again
# after these delays, doubling, instead of at every wake; an acknowledgement
# recorded in the log meanwhile ends the wait at once.
REFUSAL_RETRY_FIRST = timedelta(minutes=1)
REFUSAL_RETRY_MAX = timedelta(hours=1)


@dataclass
class _Refusal:
    """Why signing stopped, and when the step looks at the store again."""

    said: set[str]
    retry_at: datetime | None = None
    delay: timedelta = REFUSAL_RETRY_FIRST
    epoch: int = 0

    def waiting(self, session: Session, now: datetime) -> bool:
        """True while the back-off lasts and no loss has been acknowledged since."""
        if self.retry_at is None or now >= self.retry_at:
            return False
        return acknowledged(session).epoch == self.epoch

    def refused(self, exc: LogRolledBack, session_epoch: int, now: datetime) -> None:
        if str(exc) not in self.said:  # said once, not at every wake
            self.said.add(str(exc))
            log.error("audit checkpoints are not signed: %s", exc)
        if self.retry_at is not None:
            self.delay = min(self.delay * 2, REFUSAL_RETRY_MAX)
        self.retry_at, self.epoch = now + self.delay, session_epoch

    def cleared(self) -> None:
        self.retry_at, self.delay = None, REFUSAL_RETRY_FIRST


def checkpoint_step(
    settings: Settings, *, engine: Engine, store: BlobStore, clock: Clock
) -> Callable[[], int]:
    """A background step that publishes a checkpoint when the policy says so.

    Returns 1 when it signed one, else 0. Without a signing key it logs a warning
    once per process and does nothing, so a service started before ``init`` still runs.
    While the log is rolled back it backs off (see ``REFUSAL_RETRY_FIRST``).
    """
    policy = CheckpointPolicy.from_settings(settings.audit)
    known = KnownStored()
    refusal = _Refusal(said=set())

    def step() -> int:
        now = clock()
        with read_scope(engine) as session:
            if not log_state(session).due(policy, now) or refusal.waiting(session, now):
                return 0
            epoch = acknowledged(session).epoch
        key_path = signing_key_path(settings)
        if not key_path.is_file():
            if key_path not in _warned_missing_keys:
                _warned_missing_keys.add(key_path)
                log.warning("no audit signing key at %s: run 'records-service init'", key_path)
            return 0
        writer = writer_for(settings, engine=engine, store=store, clock=clock, known=known)
        try:
            signed = writer.publish(policy=policy)
        except LogRolledBack as exc:
            refusal.refused(exc, epoch, now)
            return 0
        refusal.cleared()
        return 0 if signed is None else 1

    return step
