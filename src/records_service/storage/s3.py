"""``S3BlobStore``: the write-once blob store on any S3-compatible server.

Built on the ``minio`` client, which no caller imports. The store owns:

* **Streaming uploads.** ``put_object(length=-1, part_size=...)`` sends one
  request for small objects and a multipart upload for large ones, one part
  in memory at a time. A failed multipart upload is aborted, so a failed put
  leaves no object.
* **Write-once.** A put first checks that the key is free. S3 has no
  portable "create only" upload, so two writers racing on one key can both
  pass that check; on a versioned bucket (always the case with object lock)
  the older upload survives as a non-current version, so no content is lost.
  The service never races itself: keys carry a fresh record id.
* **Object lock mirroring.** With ``object_lock=True`` the bucket is created
  with versioning and object lock. ``retain_until`` on put, :meth:`set_retention`
  (only ever extends, and never weakens COMPLIANCE) and :meth:`set_legal_hold`
  are mirrored onto the object, so the server itself refuses early deletes.
  After each locked put the lock is read back and re-applied if the server
  dropped it (plain-http puts carry no ``Content-MD5``, which S3 requires for a
  lock header, and some servers ignore lock headers on multipart uploads).
* **Deletes** remove every version of the key and never bypass governance
  retention; a locked version makes the whole delete fail with
  ``ObjectLocked`` before anything is removed.
* **A bucket that goes missing** while the service runs (a server restarted
  empty, a bucket removed by mistake) is created again, with its object lock,
  when ``create_bucket`` is set: by the readiness check, by a listing (which then
  lists nothing), and by a put that finds it gone (which itself still fails, as
  ``StorageUnavailable``, if it had already read from its stream; a retry then
  succeeds). Its loss is logged as an error: what it held is gone from it, and
  the fixity check reports it.
* **Errors** from ``minio`` and ``urllib3`` are translated into the storage
  vocabulary.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

import certifi
import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.datatypes import Object
from minio.error import MinioException, S3Error
from minio.retention import Retention

from records_service.storage.base import (
    BlobInfo,
    RetentionMode,
    check_prefix,
    temporary_copy,
    validate_key,
)
from records_service.storage.errors import (
    InvalidKey,
    ObjectExists,
    ObjectLocked,
    ObjectNotFound,
    StorageFull,
    StorageUnavailable,
)

if TYPE_CHECKING:
    from records_service.settings import StorageSettings

log = logging.getLogger(__name__)

MIN_PART_SIZE = 5 * 1024 * 1024
DEFAULT_PART_SIZE = 16 * 1024 * 1024
CHUNK_SIZE = 1024 * 1024
NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "NoSuchObject"})
# AWS answers AccessDenied to a delete of a locked version; MinIO answers
# InvalidRequest ("Object is WORM protected ...").
LOCK_REFUSAL_CODES = frozenset({"AccessDenied", "InvalidRequest"})
# MinIO's answers when its disks, or the bucket's quota, are full.
FULL_CODES = frozenset({"XMinioStorageFull", "XMinioAdminBucketQuotaExceeded"})
RETAIN_UNTIL_HEADER = "x-amz-object-lock-retain-until-date"
LOCK_MODE_HEADER = "x-amz-object-lock-mode"
LEGAL_HOLD_HEADER = "x-amz-object-lock-legal-hold"


class _CountingReader:
    """Wraps the caller's stream to count the bytes the upload consumed."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.count += len(data)
        return data


class BucketMissing(StorageUnavailable):
    """The bucket itself does not exist (any more)."""


def _translate(exc: S3Error, key: str | None) -> Exception:
    if exc.code in NOT_FOUND_CODES and key is not None:
        return ObjectNotFound(key)
    message = f"S3 refused the request for {key!r}: {exc.code}: {exc.message}"
    if exc.code == "NoSuchBucket":
        return BucketMissing(message)
    if exc.code in FULL_CODES:
        return StorageFull(f"the S3 store is full: {message}")
    return StorageUnavailable(message)


@contextmanager
def _translated(key: str | None, *, lock_refusal: bool = False) -> Iterator[None]:
    """Turn ``minio``/``urllib3`` failures inside the block into storage errors.

    With ``lock_refusal``, a refusal that S3 servers use for locked objects
    becomes ``ObjectLocked``.
    """
    try:
        yield
    except S3Error as exc:
        if lock_refusal and exc.code in LOCK_REFUSAL_CODES:
            raise ObjectLocked(f"S3 refused to delete {key!r}: {exc.code}: {exc.message}") from exc
        raise _translate(exc, key) from exc
    except (MinioException, urllib3.exceptions.HTTPError) as exc:
        raise StorageUnavailable(f"S3 request for {key!r} failed: {exc}") from exc


def _whole_seconds_up(moment: datetime) -> datetime:
    """Round up to a whole second (S3 keeps lock dates to the second); require a timezone."""
    if moment.tzinfo is None:
        raise ValueError("retention dates must be timezone-aware")
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment


class _LockState:
    """The object-lock headers of one object version."""

    def __init__(self, obj: Object) -> None:
        headers = obj.metadata or {}
        until = headers.get(RETAIN_UNTIL_HEADER)
        self.retain_until = datetime.fromisoformat(until) if until else None
        self.mode = headers.get(LOCK_MODE_HEADER)
        self.legal_hold = str(headers.get(LEGAL_HOLD_HEADER, "")).upper() == "ON"
        self.version_id = obj.version_id

    def locked_at(self, now: datetime) -> bool:
        """Whether a delete of this version without bypass must be refused at ``now``."""
        return self.legal_hold or (self.retain_until is not None and self.retain_until > now)


def _http_client(ca_bundle: Path | None) -> urllib3.PoolManager:
    """A connection pool that verifies TLS against ``ca_bundle`` (or the default CAs)."""
    if ca_bundle is not None and not ca_bundle.is_file():
        raise ValueError(f"CA bundle {ca_bundle} is not a file")
    ca_certs = str(ca_bundle) if ca_bundle else os.environ.get("SSL_CERT_FILE") or certifi.where()
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=10, read=120),
        maxsize=10,
        cert_reqs="CERT_REQUIRED",
        ca_certs=ca_certs,
        retries=urllib3.Retry(total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
    )


class S3BlobStore:
    """A write-once blob store on one S3 bucket; see the module docstring for its guarantees."""

    def __init__(
        self,
        *,
        endpoint: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str | None = None,
        secure: bool = True,
        ca_bundle: Path | None = None,
        object_lock: bool = True,
        retention_mode: RetentionMode = "GOVERNANCE",
        part_size: int = DEFAULT_PART_SIZE,
        create_bucket: bool = False,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        self._bucket = bucket
        self._region = region
        self._secure = secure
        self._object_lock = object_lock
        self._retention_mode = retention_mode
        self._part_size = part_size
        self._create_bucket = create_bucket
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=_http_client(ca_bundle),
        )

    @classmethod
    def from_settings(cls, settings: StorageSettings) -> S3BlobStore:
        """Build a store from the ``storage`` settings group (does not touch the network)."""
        return cls(
            endpoint=settings.endpoint,
            bucket=settings.bucket,
            access_key=settings.access_key,
            secret_key=settings.secret_key.get_secret_value(),
            region=settings.region,
            secure=settings.secure,
            ca_bundle=settings.ca_bundle,
            object_lock=settings.object_lock,
            retention_mode=settings.retention_mode,
            part_size=settings.part_size,
            create_bucket=settings.create_bucket,
        )

    @property
    def bucket(self) -> str:
        """The bucket this store writes to."""
        return self._bucket

    @property
    def supports_object_lock(self) -> bool:
        """Whether retention and legal holds are mirrored onto the objects."""
        return self._object_lock

    def ensure_bucket(self) -> None:
        """Create the bucket if missing (with versioning and object lock when enabled).

        Raises ``StorageUnavailable`` if the server refuses, or if an existing bucket
        lacks the object lock this store is configured to mirror onto.
        """
        with _translated(None):
            if not self._client.bucket_exists(self._bucket):
                self._make_bucket()
            if self._object_lock:
                self._require_object_lock()

    def _make_bucket(self) -> None:
        try:
            self._client.make_bucket(
                self._bucket, location=self._region, object_lock=self._object_lock
            )
        except S3Error as exc:
            if exc.code != "BucketAlreadyOwnedByYou":  # a concurrent start-up won the race
                raise

    def _require_object_lock(self) -> None:
        try:
            self._client.get_object_lock_config(self._bucket)
        except S3Error as exc:
            if exc.code != "ObjectLockConfigurationNotFoundError":
                raise
            raise StorageUnavailable(
                f"bucket {self._bucket!r} has no object lock configuration; "
                "object lock can only be enabled when a bucket is created"
            ) from exc

    def put(
        self,
        key: str,
        stream: BinaryIO,
        *,
        content_type: str = "application/octet-stream",
        retain_until: datetime | None = None,
    ) -> int:
        """Stream ``stream`` to ``key`` and return the byte count.

        Raises ``ObjectExists`` if the key is taken. Exceptions raised by ``stream``
        propagate unchanged (any multipart upload is aborted first). A missing bucket
        is created again (with ``create_bucket``) if nothing of the stream was read.
        """
        reader = _CountingReader(stream)
        try:
            return self._put(key, reader, content_type, retain_until)
        except BucketMissing:
            if not self._create_bucket:
                raise
            self._recreate_bucket()
            if reader.count:  # the stream cannot be read again: this put fails, the next works
                raise
            return self._put(key, reader, content_type, retain_until)

    def _recreate_bucket(self) -> None:
        log.error(
            "bucket %r is missing; creating it again (whatever it held is gone from it: "
            "run a full fixity check)",
            self._bucket,
        )
        self.ensure_bucket()

    def _put(
        self,
        key: str,
        reader: _CountingReader,
        content_type: str,
        retain_until: datetime | None,
    ) -> int:
        if self.exists(key):
            raise ObjectExists(key)
        lock_until = self._lock_date(retain_until)
        # Over plain http minio sends no Content-MD5, and S3 refuses a lock header
        # without one, so the lock is applied after the upload instead.
        header_lock = None
        if lock_until is not None and self._secure:
            header_lock = Retention(self._retention_mode, lock_until)
        with _translated(key):
            self._client.put_object(
                self._bucket,
                key,
                cast(BinaryIO, reader),  # minio only ever calls read(n)
                length=-1,
                part_size=self._part_size,
                content_type=content_type,
                retention=header_lock,
                num_parallel_uploads=1,
            )
        if lock_until is not None:
            self._confirm_lock(key, lock_until)
        return reader.count

    def _lock_date(self, retain_until: datetime | None) -> datetime | None:
        """The lock date to mirror for a put, or ``None`` when there is nothing to lock."""
        if retain_until is None or not self._object_lock:
            return None
        until = _whole_seconds_up(retain_until)
        return until if until > datetime.now(UTC) else None

    def _confirm_lock(self, key: str, until: datetime) -> None:
        """Read the lock back and apply it if the upload did not; undo the put on failure."""
        try:
            state = self._lock_state(key)
            if state.retain_until is None or state.retain_until < until:
                self._apply_retention(key, self._retention_mode, until, state.version_id)
        except Exception:
            # The put must be all or nothing; an unlocked object can still be removed.
            with suppress(Exception):
                self._remove_versions(key, self._versions(key))
            raise

    def _apply_retention(
        self, key: str, mode: RetentionMode, until: datetime, version_id: str | None
    ) -> None:
        with _translated(key):
            self._client.set_object_retention(
                self._bucket, key, Retention(mode, until), version_id=version_id
            )

    def _lock_state(self, key: str, version_id: str | None = None) -> _LockState:
        with _translated(key):
            return _LockState(self._client.stat_object(self._bucket, key, version_id=version_id))

    def open(self, key: str) -> Iterator[bytes]:
        """Start the download now (raising ``ObjectNotFound``) and yield the bytes in chunks."""
        validate_key(key)
        with _translated(key):
            response = self._client.get_object(self._bucket, key)
        return _response_chunks(response, key)

    def stat(self, key: str) -> BlobInfo:
        """Return size, content type, retain-until date and legal hold of ``key``."""
        validate_key(key)
        with _translated(key):
            obj = self._client.stat_object(self._bucket, key)
        lock = _LockState(obj)
        return BlobInfo(
            key=key,
            size=obj.size or 0,
            content_type=obj.content_type,
            retain_until=lock.retain_until,
            legal_hold=lock.legal_hold,
        )

    def exists(self, key: str) -> bool:
        """Return whether ``key`` has a current (not deleted) version."""
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        """Remove every version of ``key``, without bypassing governance retention.

        Raises ``ObjectNotFound`` if no version holds content, and ``ObjectLocked``,
        before removing anything, if any version is under retention or legal hold.
        """
        validate_key(key)
        versions = self._versions(key)
        content = [obj for obj in versions if not obj.is_delete_marker]
        if not content:
            raise ObjectNotFound(key)
        now = datetime.now(UTC)
        for obj in content:
            if self._lock_state(key, _version_arg(obj)).locked_at(now):
                raise ObjectLocked(f"{key!r} is under retention or legal hold")
        self._remove_versions(key, versions)

    def _versions(self, key: str) -> list[Object]:
        with _translated(key):
            listing = self._client.list_objects(
                self._bucket, prefix=key, recursive=True, include_version=True
            )
            return [obj for obj in listing if obj.object_name == key]

    def _remove_versions(self, key: str, versions: list[Object]) -> None:
        for obj in versions:
            with _translated(key, lock_refusal=True):
                self._client.remove_object(self._bucket, key, version_id=_version_arg(obj))

    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield every key starting with ``prefix``, in lexical order."""
        check_prefix(prefix)
        listing = self._client.list_objects(self._bucket, prefix=prefix, recursive=True)
        return self._listed_or_recreated(listing)

    def _listed_or_recreated(self, listing: Iterator[Object]) -> Iterator[str]:
        """The listing's keys; a missing bucket is created again (``create_bucket``) and
        lists as empty."""
        try:
            yield from _listed_keys(listing)
        except BucketMissing:
            if not self._create_bucket:
                raise
            self._recreate_bucket()

    def set_retention(self, key: str, until: datetime, mode: RetentionMode) -> None:
        """Extend the object's retain-until date to ``until``; never shorten or weaken it.

        An object already in COMPLIANCE mode stays in COMPLIANCE. Dates in the past,
        and any call on a store without object lock, only check that ``key`` exists.
        """
        validate_key(key)
        state = self._lock_state(key)
        until = _whole_seconds_up(until)
        if not self._object_lock or until <= datetime.now(UTC):
            return
        if state.retain_until is not None and state.retain_until >= until:
            return
        new_mode: RetentionMode = "COMPLIANCE" if state.mode == COMPLIANCE else mode
        self._apply_retention(key, new_mode, until, state.version_id)

    def set_legal_hold(self, key: str, on: bool) -> None:
        """Place (``on=True``) or lift a legal hold on the current version of ``key``."""
        validate_key(key)
        state = self._lock_state(key)
        if not self._object_lock:
            return
        with _translated(key):
            if on:
                self._client.enable_object_legal_hold(
                    self._bucket, key, version_id=state.version_id
                )
            else:
                self._client.disable_object_legal_hold(
                    self._bucket, key, version_id=state.version_id
                )

    def as_file(self, key: str) -> AbstractContextManager[Path]:
        """A temporary local copy of ``key``, removed when the block ends."""
        return temporary_copy(self, key)

    def durable_together(self) -> AbstractContextManager[None]:
        """A no-op: every completed upload is already durable."""
        return nullcontext()

    def check_ready(self) -> None:
        """Raise ``StorageUnavailable`` unless the bucket answers with these credentials
        (a missing bucket is created again with ``create_bucket``)."""
        with _translated(None):
            exists = self._client.bucket_exists(self._bucket)
        if exists:
            return
        if not self._create_bucket:
            raise StorageUnavailable(f"bucket {self._bucket!r} does not exist")
        self._recreate_bucket()


def _version_arg(obj: Object) -> str | None:
    # An unversioned bucket lists its objects as version "null", which not every
    # server accepts back as a versionId; plain requests address that one object.
    return None if obj.version_id in (None, "null") else obj.version_id


def _response_chunks(response: urllib3.BaseHTTPResponse, key: str) -> Iterator[bytes]:
    try:
        with _translated(key):
            yield from response.stream(CHUNK_SIZE)
    finally:
        response.close()
        response.release_conn()


def _listed_keys(listing: Iterator[Object]) -> Iterator[str]:
    with _translated(None):
        for obj in listing:
            name = obj.object_name
            if name is None or obj.is_dir or not _is_valid_key(name):
                continue  # not written by this service; never hand it to callers
            yield name


def _is_valid_key(name: str) -> bool:
    try:
        validate_key(name)
    except InvalidKey:
        return False
    return True
