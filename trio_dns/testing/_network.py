"""A simulated internet of authoritative servers, on Trio's clock.

Theory of operation: `FakeNetwork` implements `Transport` without sockets or
background tasks. When a client sends a UDP query, the network hands the bytes
to the server at that address, which computes its reply (or replies, or none)
at once; each reply is pushed onto the sending endpoint's queue, a heap keyed
by delivery time (now + latency). `receive()` sleeps until the earliest
delivery time, waking early when a new packet is queued. TCP works the same
way through a fake stream: `send_all` cuts the 2-octet-framed queries out of
what was written, and their framed replies wait in the stream's own heap for
`receive_some`. Everything happens on `trio.current_time()`, so under
`MockClock(autojump_threshold=0)` a test with 30-second timeouts ends at once,
and with randomness drawn from per-address generators seeded from `seed`, it
ends the same way every time.

Dead servers drop UDP silently and let TCP connects hang, for the caller's
cancel scope to end; an address with no server drops UDP and refuses TCP.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import math
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from .._decisions.authority import Zone
from .._errors import MalformedMessage
from .._network.transport import Address, DatagramEndpoint, normalize_address
from .._wire.enums import RRType
from .._wire.message import Message
from .._wire.name import Name
from ._behaviour import DEFAULT_LATENCY, Behaviour
from ._log import Action, Exchange, TransportKind
from ._server import AuthoritativeServer, Response, make_address

_EPHEMERAL = (1024, 65535)


class _Mailbox:
    """Datagrams or stream chunks waiting for their delivery time."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, bytes, Address]] = []
        self._order = itertools.count()  # equal times deliver in the order queued
        self._wakeup = trio.Event()

    def put(self, when: float, data: bytes, source: Address) -> None:
        heapq.heappush(self._heap, (when, next(self._order), data, source))
        # Wake every waiter to look at the new earliest time; later waiters get a
        # fresh event.
        self._wakeup.set()
        self._wakeup = trio.Event()

    async def get(self) -> tuple[bytes, Address]:
        while True:
            if self._heap and self._heap[0][0] <= trio.current_time():
                # Take the packet only once we know we are not cancelled, so a
                # cancelled receive never loses one.
                await trio.lowlevel.checkpoint_if_cancelled()
                _, _, data, source = heapq.heappop(self._heap)
                await trio.lowlevel.cancel_shielded_checkpoint()
                return data, source
            wakeup = self._wakeup
            deadline = self._heap[0][0] if self._heap else math.inf
            with trio.move_on_at(deadline):
                await wakeup.wait()


class _FakeEndpoint:
    """A UDP socket of the simulated client."""

    def __init__(self, network: FakeNetwork, local: Address) -> None:
        self.local = local
        self._network = network
        self._mailbox = _Mailbox()
        self.closed = False

    def deliver(self, when: float, data: bytes, source: Address) -> None:
        if not self.closed:
            self._mailbox.put(when, data, source)

    async def send(self, data: bytes, address: Address) -> None:
        if self.closed:
            raise trio.ClosedResourceError("endpoint is closed")
        await trio.lowlevel.checkpoint()
        remote = normalize_address(*address)
        if (":" in remote[0]) != (":" in self.local[0]):
            raise OSError(errno.EAFNOSUPPORT, "address family does not match the endpoint's")
        response = self._network._carry("udp", self.local, remote, bytes(data))
        now = trio.current_time()
        for packet in response.packets:
            self.deliver(now + packet.delay, packet.data, packet.source)

    async def receive(self) -> tuple[bytes, Address]:
        if self.closed:
            raise trio.ClosedResourceError("endpoint is closed")
        return await self._mailbox.get()


class _FakeStream(trio.abc.Stream):
    """A TCP connection of the simulated client to one server address."""

    def __init__(self, network: FakeNetwork, local: Address, remote: Address) -> None:
        self._network = network
        self._local = local
        self._remote = remote
        self._written = bytearray()  # client bytes not yet a whole framed query
        self._mailbox = _Mailbox()
        self._unread = b""
        self._closed = False

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self._closed:
            raise trio.ClosedResourceError("stream is closed")
        await trio.lowlevel.checkpoint()
        self._written += data
        while len(self._written) >= 2:
            size = int.from_bytes(self._written[:2], "big")
            if len(self._written) < 2 + size:
                break
            query = bytes(self._written[2 : 2 + size])
            del self._written[: 2 + size]
            response = self._network._carry("tcp", self._local, self._remote, query)
            now = trio.current_time()
            for packet in response.packets:
                framed = len(packet.data).to_bytes(2, "big") + packet.data
                self._mailbox.put(now + packet.delay, framed, packet.source)

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._closed:
            raise trio.ClosedResourceError("stream is closed")
        if not self._unread:
            self._unread, _ = await self._mailbox.get()
        else:
            await trio.lowlevel.checkpoint()
        size = len(self._unread) if max_bytes is None else max_bytes
        chunk, self._unread = self._unread[:size], self._unread[size:]
        return chunk

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._network._release(self._local)
        await trio.lowlevel.checkpoint()


def _check_limit(instance: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"{attribute.name} is a number of exchanges (0 or more), not {value!r}")


@attrs.define(eq=False)
class FakeNetwork:
    """An in-memory internet that implements `trio_dns.Transport`.

    `add_server` puts authoritative servers on it; `exchanges` is the log of
    the queries carried, the latest `log_limit` of them (None: all; 0: none).
    `seed` fixes every random choice; the client's own addresses are
    `client_v4` and `client_v6`.
    """

    seed: int = 0
    client_v4: str = "198.51.100.1"
    client_v6: str = "2001:db8:ffff::1"
    # How long before a TCP connection to an address with no server is refused.
    unreachable_latency: float = DEFAULT_LATENCY
    # Each exchange logged holds its query and reply (about 1.5 kB): a bound keeps
    # a network that serves for days from growing without end.
    log_limit: int | None = attrs.field(default=10_000, validator=_check_limit)
    carried: int = attrs.field(init=False, default=0)  # queries carried, logged or not
    _servers: dict[Address, AuthoritativeServer] = attrs.field(init=False, factory=dict)
    _rngs: dict[Address, random.Random] = attrs.field(init=False, factory=dict)
    _port_rng: random.Random = attrs.field(init=False)
    _ports_in_use: set[Address] = attrs.field(init=False, factory=set)
    _log: deque[Exchange] = attrs.field(init=False)
    # Wall-clock seconds at virtual time zero, fixed by the first call to `clock`.
    _epoch: float | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        self._port_rng = random.Random(f"{self.seed}:ports")
        self._log = deque(maxlen=self.log_limit)

    # -- building the network --------------------------------------------------

    def clock(self) -> float:
        """Wall-clock seconds that follow Trio's (virtual) clock: a resolver on
        this network ages its cache and checks signatures by it, so jumping the
        autojump clock forward expires TTLs as the real passing of time would."""
        if self._epoch is None:
            self._epoch = time.time() - trio.current_time()
        return self._epoch + trio.current_time()

    def add_server(
        self,
        addresses: Iterable[str | Address],
        zones: Iterable[Zone | str] = (),
        *,
        behaviour: Behaviour | None = None,
        port: int = 53,
        name: str = "",
    ) -> AuthoritativeServer:
        """A server at `addresses` (text, on `port`, or (host, port)) serving `zones`
        (Zone objects, or zone-file text with absolute names or an $ORIGIN)."""
        server = AuthoritativeServer.make(
            addresses, zones, behaviour=behaviour, port=port, name=name
        )
        return self.add(server)

    def add(self, server: AuthoritativeServer) -> AuthoritativeServer:
        taken = [address for address in server.addresses if address in self._servers]
        if taken:
            raise ValueError(f"addresses already in use: {taken}")
        for address in server.addresses:
            self._servers[address] = server
        return server

    def remove(self, server: AuthoritativeServer) -> None:
        for address in server.addresses:
            if self._servers.get(address) is server:
                del self._servers[address]

    def server_at(self, address: str | Address) -> AuthoritativeServer | None:
        return self._servers.get(make_address(address))

    @property
    def servers(self) -> list[AuthoritativeServer]:
        return list({id(server): server for server in self._servers.values()}.values())

    # -- the log ---------------------------------------------------------------

    @property
    def exchanges(self) -> tuple[Exchange, ...]:
        """The queries carried so far (the latest `log_limit`), in the order sent."""
        return tuple(self._log)

    def queries_to(self, address: str | Address) -> list[Exchange]:
        """The queries sent to one host (any port, if given as text) or (host, port)."""
        if isinstance(address, str):
            host = normalize_address(address, 0)[0]
            return [e for e in self._log if e.server[0] == host]
        wanted = make_address(address)
        return [e for e in self._log if e.server == wanted]

    def queries_for(self, qname: Name | str, qtype: RRType | str | None = None) -> list[Exchange]:
        """The queries asking about one name (and type, if given)."""
        name = Name.make(qname)
        rtype = None if qtype is None else RRType.make(qtype)
        return [e for e in self._log if e.qname == name and (rtype is None or e.qtype == rtype)]

    def clear_log(self) -> None:
        self._log.clear()

    # -- Transport -------------------------------------------------------------

    @asynccontextmanager
    async def open_udp(self, remote: Address) -> AsyncIterator[DatagramEndpoint]:
        endpoint = _FakeEndpoint(self, self._allocate(remote))
        try:
            await trio.lowlevel.checkpoint()
            yield endpoint
        finally:
            endpoint.closed = True
            self._release(endpoint.local)

    async def connect_tcp(self, remote: Address) -> trio.abc.Stream:
        remote = normalize_address(*remote)
        server = self._servers.get(remote)
        if server is None:
            await trio.sleep(self.unreachable_latency)
            raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused (fake network)")
        behaviour = server.behaviour_at(remote)
        if behaviour.dead:
            # A SYN into the void: only the caller's deadline ends this.
            await trio.sleep_forever()
        await trio.sleep(behaviour.delay(self._rng(remote)))
        if not behaviour.tcp:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused (fake network)")
        return _FakeStream(self, self._allocate(remote), remote)

    # -- internals -------------------------------------------------------------

    def _rng(self, address: Address) -> random.Random:
        # One generator per server address: what one server does does not depend on
        # how queries to other servers were interleaved.
        rng = self._rngs.get(address)
        if rng is None:
            rng = self._rngs[address] = random.Random(f"{self.seed}:{address[0]}:{address[1]}")
        return rng

    def _allocate(self, remote: Address) -> Address:
        host = self.client_v6 if ":" in remote[0] else self.client_v4
        while True:
            local = normalize_address(host, self._port_rng.randint(*_EPHEMERAL))
            if local not in self._ports_in_use:
                self._ports_in_use.add(local)
                return local

    def _release(self, local: Address) -> None:
        self._ports_in_use.discard(local)

    def _carry(
        self, transport: TransportKind, client: Address, remote: Address, data: bytes
    ) -> Response:
        server = self._servers.get(remote)
        now = trio.current_time()
        self.carried += 1
        logging = self.log_limit != 0
        if server is None:
            query: Message | bytes
            try:
                query = Message.from_wire(data)
            except MalformedMessage:
                query = data
            if logging:
                self._log.append(Exchange(now, transport, client, remote, query, Action.NO_SERVER))
            return Response(Action.NO_SERVER, query)
        response = server.respond(
            data, address=remote, tcp=transport == "tcp", rng=self._rng(remote)
        )
        if logging:
            self._log.append(
                Exchange(
                    now, transport, client, remote, response.query, response.action, response.reply
                )
            )
        return response
