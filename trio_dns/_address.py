"""Network addresses as the resolver handles them: `(host, port)` in one spelling."""

from __future__ import annotations

import socket

# (host, port), with host an IP address literal in its canonical spelling.
Address = tuple[str, int]


def normalize_address(host: str, port: int) -> Address:
    """One spelling per address, so replies can be matched by equality."""
    try:
        if ":" in host:
            host = socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, host))
        else:
            host = socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, host))
    except (OSError, ValueError):
        raise ValueError(f"{host!r} is not an IP address") from None
    return (host, port)


def format_address(address: Address) -> str:
    """`192.0.2.1:53`, or `[2001:db8::1]:53`."""
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_loopback(host: str) -> bool:
    """127.0.0.0/8 or ::1 (IPv4-mapped too), in canonical spelling: this host."""
    return host.startswith(("127.", "::ffff:127.")) or host == "::1"


def never_asked(host: str) -> bool:
    """Addresses no nameserver can have: unspecified (0.0.0.0/8, ::), the
    limited broadcast, and multicast (224.0.0.0/4, ff00::/8)."""
    if ":" in host:
        return host == "::" or host.startswith("ff")
    first = host.partition(".")[0]
    return first == "0" or host == "255.255.255.255" or 224 <= int(first) <= 239
