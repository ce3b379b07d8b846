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
