"""The suite's one fault injector: a wrapper around a real store that fails on cue.

Fakes are for fault injection only, and this is the only store fake. It can fail
the n-th put, break a put's stream part-way, fail every delete, or run a callback
just before each put or listing (to stage a race, or a crash, at that moment).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Unpack

from records_service.storage import (
    BlobInfo,
    BlobStore,
    PutOptions,
    RetentionMode,
    StorageUnavailable,
)


class FaultyStore:
    """Wraps a real store and fails at the chosen steps."""

    def __init__(
        self,
        inner: BlobStore,
        *,
        fail_put_on: int | None = None,
        fail_mid_stream: bool = False,
        fail_delete: bool = False,
        before_put: Callable[[str], None] | None = None,
        before_list: Callable[[str], None] | None = None,
    ) -> None:
        self.inner = inner
        self.fail_put_on = fail_put_on
        self.fail_mid_stream = fail_mid_stream
        self.fail_delete = fail_delete
        self.before_put = before_put
        self.before_list = before_list
        self.puts = 0
        self.lists = 0

    def put(self, key: str, stream: BinaryIO, **options: Unpack[PutOptions]) -> int:
        self.puts += 1
        if self.before_put is not None:
            self.before_put(key)
        if self.puts == self.fail_put_on:
            raise StorageUnavailable("injected fault on put")
        if self.fail_mid_stream:
            stream = _Breaking(stream)  # type: ignore[assignment]
        return self.inner.put(key, stream, **options)

    def durable_together(self) -> AbstractContextManager[None]:
        return self.inner.durable_together()

    def open(self, key: str) -> Iterator[bytes]:
        return self.inner.open(key)

    def as_file(self, key: str) -> AbstractContextManager[Path]:
        return self.inner.as_file(key)

    def stat(self, key: str) -> BlobInfo:
        return self.inner.stat(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def delete(self, key: str) -> None:
        if self.fail_delete:
            raise StorageUnavailable(f"injected fault deleting {key}")
        self.inner.delete(key)

    def list(self, prefix: str = "") -> Iterator[str]:
        self.lists += 1
        if self.before_list is not None:
            self.before_list(prefix)
        return self.inner.list(prefix)

    def set_retention(self, key: str, until: datetime, mode: RetentionMode) -> None:
        self.inner.set_retention(key, until, mode)

    def set_legal_hold(self, key: str, on: bool) -> None:
        self.inner.set_legal_hold(key, on)

    @property
    def supports_object_lock(self) -> bool:
        return self.inner.supports_object_lock

    def check_ready(self) -> None:
        self.inner.check_ready()


class _Breaking:
    """A stream that fails on its second read."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.reads = 0

    def read(self, n: int = -1) -> bytes:
        self.reads += 1
        if self.reads > 1:
            raise StorageUnavailable("injected fault mid-stream")
        return self.inner.read(min(n, 10) if n > 0 else 10)
