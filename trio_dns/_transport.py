"""The network as the resolver sees it: datagrams and byte streams to an address.

Theory of operation: everything above this module talks to the network only
through `Transport`, which has two operations: open a UDP endpoint (a fresh socket
on a random source port, from which datagrams go to any address and replies come
back labelled with who sent them) and open a TCP stream to an address. The real
implementation here uses sockets; `trio_dns.testing.FakeNetwork` implements the
same protocol in memory on virtual time. Reply matching, TC handling and EDNS
fallback are not here but in `_exchange.py`, so the code that defends against
spoofing is the same code that the fake network's attacks are aimed at.

No method takes a timeout: callers own deadlines with cancel scopes.
"""

from __future__ import annotations

import errno
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import trio

from ._address import Address as Address
from ._address import normalize_address as normalize_address

_MAX_DATAGRAM = 65535


def address_family(address: Address) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address[0] else socket.AF_INET


class DatagramEndpoint(Protocol):
    """A UDP socket of our own, bound to a random source port."""

    async def send(self, data: bytes, address: Address) -> None: ...

    async def receive(self) -> tuple[bytes, Address]:
        """The next datagram to arrive, whoever sent it, and its sender."""
        ...


class Transport(Protocol):
    def open_udp(self, remote: Address) -> AbstractAsyncContextManager[DatagramEndpoint]:
        """A fresh endpoint of the right address family for sending to `remote`."""
        ...

    async def connect_tcp(self, remote: Address) -> trio.abc.Stream:
        """A TCP connection to `remote`; raises OSError if it cannot be made."""
        ...


class _SocketEndpoint:
    def __init__(self, sock: trio.socket.SocketType) -> None:
        self._sock = sock

    async def send(self, data: bytes, address: Address) -> None:
        await self._sock.sendto(data, address)

    async def receive(self) -> tuple[bytes, Address]:
        data, source = await self._sock.recvfrom(_MAX_DATAGRAM)
        return data, normalize_address(source[0], source[1])


class SocketTransport:
    """The real network, through Trio's sockets."""

    # How many random ports to try before letting the kernel choose one.
    _PORT_ATTEMPTS = 10

    @asynccontextmanager
    async def open_udp(self, remote: Address) -> AsyncIterator[DatagramEndpoint]:
        family = address_family(remote)
        sock = trio.socket.socket(family, socket.SOCK_DGRAM)
        with sock:
            await self._bind_random_port(sock, family)
            yield _SocketEndpoint(sock)

    async def _bind_random_port(self, sock: trio.socket.SocketType, family: int) -> None:
        # A random source port (plus a random ID) is what makes blind spoofing cost
        # about 2**32 guesses instead of 2**16 (RFC 5452 section 4.5).
        wildcard = "::" if family == socket.AF_INET6 else "0.0.0.0"
        for _ in range(self._PORT_ATTEMPTS):
            port = 1024 + secrets.randbelow(65536 - 1024)
            try:
                await sock.bind((wildcard, port))
                return
            except OSError as exc:
                if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
                    raise
        await sock.bind((wildcard, 0))

    async def connect_tcp(self, remote: Address) -> trio.abc.Stream:
        sock = trio.socket.socket(address_family(remote), socket.SOCK_STREAM)
        try:
            await sock.connect(remote)
        except BaseException:
            sock.close()
            raise
        return trio.SocketStream(sock)
