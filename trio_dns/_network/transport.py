"""The network as the resolver sees it: datagrams and byte streams to an address.

Theory of operation: everything above this module talks to the network only
through `Transport`, which has two operations: open a UDP endpoint (a fresh socket
on a random source port, from which datagrams go to any address and replies come
back labelled with who sent them) and open a TCP stream to an address. The real
implementation here uses sockets; `trio_dns.testing.FakeNetwork` implements the
same protocol in memory on virtual time. Reply matching, TC handling and EDNS
fallback are not here but in `_exchange.py`, so the code that defends against
spoofing is the same code that the fake network's attacks are aimed at. (The
real transport adds a first line of defence below it: each query's socket is
connected to its server, so the kernel drops datagrams from anyone else.)

No method takes a timeout: callers own deadlines with cancel scopes.
"""

from __future__ import annotations

import errno
import socket
from contextlib import AbstractAsyncContextManager
from typing import Protocol

import trio

from .._address import Address as Address
from .._address import normalize_address as normalize_address
from .._unpredictable import random_port

_MAX_DATAGRAM = 65535
_NONBLOCK = getattr(socket, "SOCK_NONBLOCK", 0)
# How many random ports to try before letting the kernel choose one.
_PORT_ATTEMPTS = 10


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


class _UdpSocket:
    """One query's UDP socket: its own context manager and its own endpoint.

    Plain non-blocking stdlib sockets and `trio.lowlevel.wait_readable`, not Trio's
    socket wrappers: those resolve every address they are given (even a literal)
    and checkpoint around every call, which cost more than the rest of an
    upstream query's I/O. Addresses here are always IP literals already.

    The first datagram to the endpoint's own remote connects the socket to it,
    as Unbound does by default (`udp-connect`): the kernel then drops datagrams
    from anyone else before they wake us, and reports an ICMP "port unreachable"
    as ECONNREFUSED on the next receive, so a server that is down fails at once
    instead of timing out. Connected sockets also close the ICMP side channel
    that let the SAD DNS attack find the source port (CVE-2020-25705)."""

    def __init__(self, remote: Address) -> None:
        self._remote = remote
        self._sock: socket.socket | None = None
        self._connected = False

    async def __aenter__(self) -> _UdpSocket:
        family = address_family(self._remote)
        # Non-blocking from birth where the platform allows: one system call fewer.
        sock = socket.socket(family, socket.SOCK_DGRAM | _NONBLOCK)
        try:
            if not _NONBLOCK:
                sock.setblocking(False)
            _bind_random_port(sock, family)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # No trio.lowlevel.notify_closing: only the task that opened this socket
        # ever waits on it, and that task is here, not waiting.
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _socket(self) -> socket.socket:
        if self._sock is None:
            raise trio.ClosedResourceError("the UDP endpoint is closed")
        return self._sock

    async def send(self, data: bytes, address: Address) -> None:
        sock = self._socket()
        connected = address == self._remote
        if connected and not self._connected:
            sock.connect(address)  # OSError here (no route...) is the caller's to report
            self._connected = True
        # No checkpoint when the datagram goes at once (it nearly always does):
        # the receive that follows is one, and a scheduling round costs as much
        # as the send itself.
        while True:
            try:
                if connected:
                    sock.send(data)
                else:
                    sock.sendto(data, address)
                return
            except BlockingIOError:
                await trio.lowlevel.wait_writable(sock)

    async def receive(self) -> tuple[bytes, Address]:
        sock = self._socket()
        while True:
            await trio.lowlevel.wait_readable(sock)
            try:
                data, source = sock.recvfrom(_MAX_DATAGRAM)
            except BlockingIOError:
                continue
            if len(source) == 2:
                # The kernel spells IPv4 sources canonically already.
                return data, source
            return data, normalize_address(source[0], source[1])


def _bind_random_port(sock: socket.socket, family: int) -> None:
    # A random source port (plus a random ID) is what makes blind spoofing cost
    # about 2**32 guesses instead of 2**16 (RFC 5452 section 4.5).
    wildcard = "::" if family == socket.AF_INET6 else "0.0.0.0"
    for _ in range(_PORT_ATTEMPTS):
        port = random_port()
        try:
            sock.bind((wildcard, port))
            return
        except OSError as exc:
            if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
                raise
    sock.bind((wildcard, 0))


class SocketTransport:
    """The real network, through the operating system's sockets."""

    def open_udp(self, remote: Address) -> AbstractAsyncContextManager[DatagramEndpoint]:
        return _UdpSocket(remote)

    async def connect_tcp(self, remote: Address) -> trio.abc.Stream:
        sock = trio.socket.socket(address_family(remote), socket.SOCK_STREAM)
        try:
            await sock.connect(remote)
        except BaseException:
            sock.close()
            raise
        return trio.SocketStream(sock)
