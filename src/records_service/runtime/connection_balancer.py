"""Spreading keep-alive connections over the server processes.

The server processes of one ``records-service serve`` share its listening socket,
and a process serves each connection it accepts until the connection closes. Clients
that keep their connections open can therefore crowd onto one process while another
idles: with 4 clients and 2 processes, a 3 + 1 split cost about a fifth of the capture
rate and a 4 + 0 split about a third (docs/benchmarks.md).

Each server process counts the connections it has answered in the last second and
publishes the count in a small table shared by the processes (:class:`ConnectionTable`,
a file that each of them maps into memory). A process holding more than its share
(the connections of all processes over their number, rounded up) closes the
connection it is answering, with ``Connection: close`` on the response. The client
reconnects, and the new connection is accepted by a process that is waiting for work,
usually the one with fewer clients. Closing only above the share leaves even splits
alone: closing every connection after a fixed number of requests broke them up as
often as it mended uneven ones (docs/benchmarks.md).
"""

from __future__ import annotations

import fcntl
import math
import mmap
import os
import struct
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# One slot per server process: its pid, its connections, and when it wrote them.
SLOT = struct.Struct("<qqd")
SLOTS = 64
# A connection counts as active for this long after its last request.
WINDOW_SECONDS = 1.0


def create_table(path: Path) -> None:
    """Create (or empty) the shared table at ``path``; ``serve`` does, before forking."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(SLOT.size * SLOTS))


class ConnectionTable:
    """The shared table, seen from one process, which holds one slot of it.

    A slot whose process has exited is free again (the pid is checked, so a process
    killed outright leaves nothing to clean up).
    """

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        fd = os.open(path, os.O_RDWR)
        try:
            self._map = mmap.mmap(fd, SLOT.size * SLOTS)
            fcntl.flock(fd, fcntl.LOCK_EX)  # one process claims a slot at a time
            try:
                self._slot = self._claim()
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _claim(self) -> int:
        for slot in range(SLOTS):
            pid, _, _ = SLOT.unpack_from(self._map, slot * SLOT.size)
            if not _alive(pid):
                SLOT.pack_into(self._map, slot * SLOT.size, os.getpid(), 0, 0.0)
                return slot
        raise RuntimeError(f"more than {SLOTS} server processes share one connection table")

    def publish(self, active: int) -> None:
        """Record this process's count of active connections."""
        SLOT.pack_into(self._map, self._slot * SLOT.size, os.getpid(), active, self._clock())

    def share(self) -> int:
        """The connections each live process would hold if they were spread evenly.

        A count older than the window is taken as zero: the process has answered no
        request since, so its clients have gone.
        """
        fresh_after = self._clock() - WINDOW_SECONDS
        total = processes = 0
        for slot in range(SLOTS):
            pid, active, written = SLOT.unpack_from(self._map, slot * SLOT.size)
            if pid == 0:
                break  # slots are claimed lowest first and never emptied: the rest are unused
            if _alive(pid):
                processes += 1
                total += active if written >= fresh_after else 0
        return math.ceil(total / processes) if processes else 0


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


class BalancedConnections:
    """ASGI middleware: closes a connection when this process holds more than its share."""

    def __init__(self, app: ASGIApp, *, table: ConnectionTable) -> None:
        self.app = app
        self._table = table
        self._last_seen: OrderedDict[tuple[Any, ...], float] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] != "http" or client is None or not self._over_share(tuple(client)):
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_closing)

    def _over_share(self, connection: tuple[Any, ...]) -> bool:
        """Count ``connection`` as active, publish the count, and say whether to close it."""
        now = time.monotonic()
        seen = self._last_seen
        seen.pop(connection, None)
        seen[connection] = now
        while next(iter(seen.values())) < now - WINDOW_SECONDS:
            seen.popitem(last=False)
        self._table.publish(len(seen))
        if len(seen) <= self._table.share():
            return False
        del seen[connection]  # it is closing; its client comes back as a new connection
        self._table.publish(len(seen))
        return True
