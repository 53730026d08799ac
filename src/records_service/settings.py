"""Typed settings, read from ``RECORDS_*`` environment variables.

Nested groups use a double underscore: ``RECORDS_STORAGE__BACKEND=s3``. Nothing
here is built at import time; :func:`load_settings` (called by the app factory
and the CLI) builds one object per process.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class StorageSettings(BaseModel):
    """Where record content, sidecars and audit checkpoints are stored."""

    backend: Literal["local", "s3"] = Field(
        "local",
        description="Blob store backend: 'local' (a directory) or 's3' (any S3-compatible store).",
    )
    local_root: Path | None = Field(
        None, description="Directory for the local backend; defaults to <data_dir>/blobs."
    )
    endpoint: str = Field(
        "localhost:9000", description="S3 endpoint as host:port, without a scheme."
    )
    bucket: str = Field("records", description="S3 bucket for record content and sidecars.")
    access_key: str = Field("", description="S3 access key id.")
    secret_key: SecretStr = Field(SecretStr(""), description="S3 secret access key.")
    region: str | None = Field(None, description="S3 region, if the store needs one.")
    secure: bool = Field(True, description="Use TLS (https) to reach the S3 endpoint.")
    ca_bundle: Path | None = Field(
        None, description="PEM file of CA certificates to trust for the S3 endpoint's TLS."
    )
    create_bucket: bool = Field(
        True, description="Create the bucket at start-up if it does not exist."
    )
    object_lock: bool = Field(
        True,
        description="Create the bucket with versioning and object lock, and mirror retention "
        "dates and legal holds onto stored objects.",
    )
    retention_mode: Literal["GOVERNANCE", "COMPLIANCE"] = Field(
        "GOVERNANCE", description="Object-lock mode used when mirroring retain-until dates."
    )
    part_size: int = Field(
        16 * 1024 * 1024,
        ge=5 * 1024 * 1024,
        description="Multipart upload part size in bytes (S3 minimum is 5 MiB).",
    )


class ReplicaSettings(BaseModel):
    """An optional second blob store that every version and sidecar is copied to."""

    backend: Literal["off", "local", "s3"] = Field(
        "off",
        description="Replica blob store: 'off', 'local' (a directory) or 's3' (another "
        "bucket, on the same or another S3-compatible endpoint).",
    )
    local_root: Path | None = Field(
        None, description="Directory of a local replica (required when the backend is local)."
    )
    endpoint: str = Field(
        "localhost:9000", description="S3 endpoint of the replica as host:port, without a scheme."
    )
    bucket: str = Field("records-replica", description="S3 bucket of the replica.")
    access_key: str = Field("", description="S3 access key id for the replica.")
    secret_key: SecretStr = Field(
        SecretStr(""), description="S3 secret access key for the replica."
    )
    region: str | None = Field(None, description="S3 region of the replica, if it needs one.")
    secure: bool = Field(True, description="Use TLS (https) to reach the replica's endpoint.")
    ca_bundle: Path | None = Field(
        None, description="PEM file of CA certificates to trust for the replica's TLS."
    )
    create_bucket: bool = Field(
        True, description="Create the replica bucket at start-up (and again if it goes missing)."
    )
    object_lock: bool = Field(
        False,
        description="Create the replica bucket with versioning and object lock (retention "
        "dates are mirrored onto the primary store only).",
    )
    overdue_minutes: float = Field(
        60.0,
        gt=0,
        description="A record whose objects have waited this long to be copied to the replica "
        "is reported by the retention job as a missing_replica finding.",
    )

    @model_validator(mode="after")
    def _local_needs_a_root(self) -> ReplicaSettings:
        if self.backend == "local" and self.local_root is None:
            raise ValueError("a local replica needs RECORDS_REPLICA__LOCAL_ROOT (a directory)")
        return self

    def as_storage(self, defaults: StorageSettings) -> StorageSettings:
        """The replica as storage settings, to build it like the primary store (the
        part size and retention mode are the primary's)."""
        return defaults.model_copy(
            update={
                "backend": self.backend,
                "local_root": self.local_root,
                "endpoint": self.endpoint,
                "bucket": self.bucket,
                "access_key": self.access_key,
                "secret_key": self.secret_key,
                "region": self.region,
                "secure": self.secure,
                "ca_bundle": self.ca_bundle,
                "create_bucket": self.create_bucket,
                "object_lock": self.object_lock,
            }
        )


class RetentionSettings(BaseModel):
    """The retention schedule and the retention job."""

    schedule_file: Path | None = Field(
        None,
        description="TOML retention schedule (record types, periods, completeness rules); "
        "defaults to the shipped UK schedule.",
    )
    interval_hours: float = Field(
        24.0,
        ge=0,
        description="Run the retention job inside the server every this many hours "
        "(0 disables; use cron with 'records-service retention run' instead).",
    )
    fixity: Literal["off", "sample", "full"] = Field(
        "sample",
        description="Fixity check in each retention run: re-hash a random sample of stored "
        "versions, all of them, or none.",
    )
    fixity_sample_size: int = Field(
        100, ge=1, description="Versions re-hashed per run when fixity is 'sample'."
    )
    transfer_dir: Path | None = Field(
        None,
        description="Directory for transfer packages (zip, written once); defaults to the "
        "blob store under transfers/<record-id>/.",
    )
    batch_size: int = Field(
        10_000, ge=100, description="Records read per database round trip by the retention job."
    )


class WorkerSettings(BaseModel):
    """Background work: text extraction, index updates, audit checkpoints, the retention timer."""

    enabled: bool = Field(
        True, description="Run the background work while `records-service serve` runs."
    )
    mode: Literal["process", "thread"] = Field(
        "process",
        description="process: `serve` starts `records-service worker` as one more process "
        "at lower CPU priority, so background work never holds a request-serving "
        "interpreter; thread: run it in a thread of the server (one server process only).",
    )
    nice: int = Field(
        10, ge=0, le=19, description="CPU priority lowering (nice) of `records-service worker`."
    )
    idle_priority: bool = Field(
        True,
        description="Run `records-service worker` under the idle CPU scheduling policy "
        "(Linux SCHED_IDLE) as well: it then runs only when request-serving processes "
        "leave a core free, and yields the moment they wake. Only where it may leave the "
        "policy again (CAP_SYS_NICE, or a RLIMIT_NICE that allows its nice value).",
    )
    starvation_seconds: float = Field(
        30.0,
        gt=0,
        description="With the idle policy: when background work has waited this long "
        "without catching up (every core kept busy), its threads move to the normal policy "
        "at nice 19, a small but certain share of the CPU, until they have caught up.",
    )
    poll_seconds: float = Field(
        5.0, gt=0, description="How often the background worker looks for pending work."
    )
    wake_seconds: float = Field(
        0.2,
        gt=0,
        description="How often `records-service worker` checks the audit log for new "
        "activity, so that work from another process starts at once.",
    )


class IndexSettings(BaseModel):
    """The full-text search index and the background step that keeps it up to date."""

    engine: Literal["tantivy", "whoosh"] = Field(
        "tantivy",
        description="The search engine. A Whoosh index left by an earlier release keeps "
        "answering while the tantivy index is built from the database in the background.",
    )
    path: Path | None = Field(
        None, description="Directory of the search index; defaults to <data_dir>/index."
    )
    batch_size: int = Field(
        50,
        ge=1,
        le=1000,
        description="Records re-indexed per index commit by the background indexing step.",
    )
    lock_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds a write waits for another process holding the index (for "
        "example 'records-service reindex') before it is retried later from the queue.",
    )


class ExtractionSettings(BaseModel):
    """Text extraction in the background: its time bound and OCR of scanned documents."""

    max_seconds: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="Seconds one document's extraction may take (OCR included) before it "
        "is stopped and its text recorded as failed.",
    )
    ocr: Literal["auto", "off"] = Field(
        "auto",
        description="auto: recognise the text of PDF pages without a text layer and of "
        "PNG, JPEG and TIFF images with Tesseract (the tesseract-ocr package); off: such "
        "pages and images give no text.",
    )
    ocr_languages: str = Field(
        "eng",
        pattern=r"^[a-z][a-z_]{1,31}(\+[a-z][a-z_]{1,31}){0,7}$",
        description="Tesseract languages to recognise, joined by '+' (eng+cym); each "
        "needs its tesseract-ocr-LANG package.",
    )
    ocr_max_pages: int = Field(
        50, ge=1, le=2000, description="Pages or images recognised by OCR at most per document."
    )


class WebSettings(BaseModel):
    """The web interface's login sessions."""

    session_secret: SecretStr = Field(
        SecretStr(""),
        description="Key that signs session cookies; by default one is generated into "
        "<data_dir>/keys/session.key (mode 0600). Set it when several servers share sessions.",
    )
    cookie_secure: bool = Field(
        False,
        description="Send the session cookie over HTTPS only. Turn on whenever the service "
        "is reached over TLS (off by default for the embedded http://127.0.0.1 server).",
    )
    session_max_age: int = Field(
        8 * 3600, gt=0, description="Seconds a web login lasts before signing in again."
    )


class AuditSettings(BaseModel):
    """Signed checkpoints of the audit log: how often, signed by which key, kept where."""

    checkpoint_every_entries: int = Field(
        100, ge=1, description="Sign a checkpoint once this many entries are not yet covered."
    )
    checkpoint_every_seconds: float = Field(
        60.0,
        gt=0,
        description="Sign a checkpoint once the oldest entry not yet covered is this old.",
    )
    origin: str = Field(
        "records-service",
        min_length=1,
        description="The log's name, the first line of every checkpoint; never change it.",
    )
    key_name: str | None = Field(
        None,
        description="Name of the signing key in checkpoint signatures; defaults to the "
        "origin. Give each new key a new name when rotating (see docs/audit.md).",
    )
    key_file: Path | None = Field(
        None,
        description="Ed25519 signing key (PEM, mode 0600), created by 'init'; defaults to "
        "<data_dir>/keys/audit-signing.key.",
    )
    previous_public_keys: list[str] = Field(
        default_factory=list,
        description="Verifier keys of retired signing keys (JSON list), so checkpoints "
        "signed before a rotation still verify.",
    )
    bucket: str | None = Field(
        None,
        description="S3 only: a separate bucket for checkpoints (same endpoint and "
        "credentials); by default they go under audit/checkpoints/ in the main bucket.",
    )
    retention_years: int = Field(
        10, ge=1, description="S3 object lock: years each checkpoint object is locked for."
    )
    verify_processes: int = Field(
        0,
        ge=0,
        description="Processes that recompute the entries in 'audit verify' (0: one per "
        "CPU core). Logs under 50,000 entries are checked in one.",
    )
    retention_mode: Literal["GOVERNANCE", "COMPLIANCE"] = Field(
        "COMPLIANCE",
        description="S3 object-lock mode for checkpoints (COMPLIANCE: nobody can remove "
        "them before the date; GOVERNANCE: privileged users can).",
    )


class AuthSettings(BaseModel):
    """Limits on guessing: sign-in lockouts and how failed requests are audited."""

    signin_account_failures: int = Field(
        5,
        ge=1,
        description="Failed web sign-ins (or current-password checks) for one user name "
        "before that name is locked out.",
    )
    signin_client_failures: int = Field(
        20,
        ge=1,
        description="Failed web sign-ins from one client address (IPv6: its /64) before "
        "that address is locked out.",
    )
    signin_lockout_seconds: int = Field(
        60,
        ge=1,
        description="Seconds of the first lockout; each further failure doubles it.",
    )
    signin_max_lockout_seconds: int = Field(
        3600, ge=1, description="The longest a lockout lasts, in seconds."
    )
    signin_forget_seconds: int = Field(
        3600,
        ge=1,
        description="Seconds without a failure (and without a lockout) after which a user "
        "name's or address's failures are forgotten.",
    )
    failure_interval_seconds: int = Field(
        300,
        ge=1,
        le=86400,
        description="Failed API (bearer) requests from one address are audited once per "
        "reason per interval of this many seconds: the first at once, the rest as one "
        "entry with their count when the interval has closed.",
    )


class Settings(BaseSettings):
    """All configuration for one records-service process."""

    model_config = SettingsConfigDict(
        env_prefix="RECORDS_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Field(
        Path("./data"),
        description="Directory for the embedded default: SQLite database, blobs, index, keys.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy database URL; defaults to sqlite:///<data_dir>/records.db. "
        "For PostgreSQL use postgresql+psycopg://user:pass@host/db.",
    )
    storage: StorageSettings = Field(default_factory=StorageSettings)
    max_upload_bytes: int = Field(
        200 * 1024 * 1024,
        gt=0,
        description="Largest accepted upload, in bytes. It also bounds the request that "
        "carries it (plus 64 KiB for the form fields), so the files of one web upload "
        "share it.",
    )
    host: str = Field("127.0.0.1", description="Address the HTTP server binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port the HTTP server listens on.")
    server_processes: int = Field(
        0,
        ge=0,
        description="HTTP server processes run by `records-service serve` (0: one per usable "
        "CPU core).",
    )
    balance_connections: bool = Field(
        True,
        description="With several server processes, close a keep-alive connection when its "
        "process holds more than its share of the clients, so that clients reconnect to a "
        "less busy process (turn off behind a proxy that balances requests itself).",
    )
    retention: RetentionSettings = Field(default_factory=lambda: RetentionSettings())
    workers: WorkerSettings = Field(default_factory=lambda: WorkerSettings())
    web: WebSettings = Field(default_factory=lambda: WebSettings())
    auth: AuthSettings = Field(default_factory=lambda: AuthSettings())
    audit: AuditSettings = Field(default_factory=lambda: AuditSettings())
    index: IndexSettings = Field(default_factory=lambda: IndexSettings())
    replica: ReplicaSettings = Field(default_factory=lambda: ReplicaSettings())
    idempotency_key_hours: int = Field(
        24,
        ge=1,
        le=24 * 30,
        description="Hours an Idempotency-Key of a capture or new-version request is kept: "
        "a retry with the same key within them gets the original response.",
    )
    extraction: ExtractionSettings = Field(default_factory=lambda: ExtractionSettings())

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'records.db').resolve()}"

    @property
    def blob_root(self) -> Path:
        """The local blob store's root directory."""
        return self.storage.local_root or self.data_dir / "blobs"

    @property
    def index_path(self) -> Path:
        """The search index's directory."""
        return self.index.path or self.data_dir / "index"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides taking precedence."""
    return Settings(**overrides)  # type: ignore[arg-type]


def describe_settings() -> list[tuple[str, str, str]]:
    """Every setting as (environment variable, default, description), for docs and ``config``."""
    return list(_describe(Settings, "RECORDS_"))


def _describe(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, str, str]]:
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _describe(annotation, f"{prefix}{name.upper()}__")
            continue
        default = info.get_default(call_default_factory=True)
        if isinstance(default, SecretStr):
            default = "(secret)" if default.get_secret_value() else ""
        yield (
            f"{prefix}{name.upper()}",
            "" if default is None else str(default),
            info.description or "",
        )
