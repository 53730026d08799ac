"""Where a request came from, as the throttles and the audit log name it.

An IPv4 address stands for itself. An IPv6 address stands for its /64, because one
client is usually given a whole /64 and could otherwise change address at every
request. Anything else (a Unix socket, a test client) is kept as text, cut short.
"""

from __future__ import annotations

import ipaddress

IPV6_PREFIX = 64
MAX_SOURCE_CHARS = 64
UNKNOWN_SOURCE = "unknown"


def client_source(host: str | None) -> str:
    """The throttling and audit name of the client at ``host``."""
    if not host:
        return UNKNOWN_SOURCE
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:MAX_SOURCE_CHARS]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)
