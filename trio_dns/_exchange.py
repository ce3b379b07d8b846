"""One question to one server, and its answer: the stub resolver's core.

Theory of operation: `Exchanger.exchange` sends a query to one address and
returns the first reply that really answers it. Over UDP that means the reply
came from the address and port we sent to, carries our ID and our question, and
has QR set; anything else arriving on our socket is a spoof attempt or a late
reply to an earlier query, and is counted and ignored rather than raised, so a
forger cannot make us give up early. A reply with TC set is asked again over TCP
(RFC 7766). A server that answers FORMERR or NOTIMP to a query with EDNS is asked
once more without it, and that is remembered for the server (RFC 6891 section 7).

Nothing here waits on its own: callers bound each exchange with a cancel scope.
"""

from __future__ import annotations

import attrs
import trio

from ._address import Address, format_address, normalize_address
from ._errors import DNSError, MalformedMessage
from ._transport import Transport
from ._wire.enums import Flag, Rcode
from ._wire.message import Message

_MAX_TCP_REPLIES = 16  # replies on one connection read before giving up on ours


class ExchangeError(DNSError):
    """The server answered, but not with a usable reply (garbage, or a closed
    connection); a timeout is the caller's cancel scope, not this."""


@attrs.define
class ExchangeStats:
    """Counters for what the exchange layer saw; cheap to update, read by metrics."""

    queries_udp: int = 0
    queries_tcp: int = 0
    ignored_replies: int = 0  # wrong source, ID or question: spoofed or late
    malformed_replies: int = 0
    truncated_replies: int = 0
    edns_fallbacks: int = 0


def _matches(query: Message, reply: Message) -> bool:
    return reply.id == query.id and Flag.QR in reply.flags and reply.question == query.question


@attrs.define(eq=False)
class Exchanger:
    """Sends queries through a transport; remembers which servers refuse EDNS."""

    transport: Transport
    stats: ExchangeStats = attrs.Factory(ExchangeStats)
    _no_edns: set[Address] = attrs.Factory(set)

    def edns_refused(self, address: Address) -> bool:
        return address in self._no_edns

    async def exchange(self, address: Address, query: Message, *, tcp: bool = False) -> Message:
        """Send `query` to `address` and return the matching reply."""
        address = normalize_address(*address)
        if query.edns is not None and address in self._no_edns:
            query = attrs.evolve(query, edns=None)
        reply = await self._udp_then_tcp(address, query, tcp)
        if (
            query.edns is not None
            and reply.edns is None
            and reply.rcode in (Rcode.FORMERR, Rcode.NOTIMP)
        ):
            # An old or broken server that does not understand EDNS; ask plainly.
            self.stats.edns_fallbacks += 1
            self._no_edns.add(address)
            reply = await self._udp_then_tcp(address, attrs.evolve(query, edns=None), tcp)
        return reply

    async def _udp_then_tcp(self, address: Address, query: Message, tcp: bool) -> Message:
        if not tcp:
            reply = await self.exchange_udp(address, query)
            if Flag.TC not in reply.flags:
                return reply
            self.stats.truncated_replies += 1
        return await self.exchange_tcp(address, query)

    async def exchange_udp(self, address: Address, query: Message) -> Message:
        payload = query.to_wire()
        self.stats.queries_udp += 1
        async with self.transport.open_udp(address) as endpoint:
            try:
                await endpoint.send(payload, address)
            except OSError as exc:  # no route, no IPv6: this server cannot be reached
                raise ExchangeError(
                    f"cannot send to {format_address(address)}: {exc.strerror or exc}"
                ) from None
            while True:
                try:
                    data, source = await endpoint.receive()
                except OSError as exc:  # ICMP port unreachable: nothing listens there
                    raise ExchangeError(
                        f"{format_address(address)} refused the query: {exc.strerror or exc}"
                    ) from None
                if source != address:
                    self.stats.ignored_replies += 1
                    continue
                try:
                    reply = Message.from_wire(data)
                except MalformedMessage as exc:
                    if data[:2] != payload[:2]:
                        self.stats.ignored_replies += 1
                        continue
                    # Our ID from the right address: the server itself sent garbage.
                    self.stats.malformed_replies += 1
                    raise ExchangeError(
                        f"{format_address(address)} sent a malformed reply: {exc}"
                    ) from None
                if not _matches(query, reply):
                    self.stats.ignored_replies += 1
                    continue
                return reply

    async def exchange_tcp(self, address: Address, query: Message) -> Message:
        payload = query.to_wire()
        self.stats.queries_tcp += 1
        try:
            stream = await self.transport.connect_tcp(address)
        except OSError as exc:
            raise ExchangeError(
                f"cannot connect to {format_address(address)}: {exc.strerror or 'failed'}"
            ) from None
        async with stream:
            try:
                await stream.send_all(len(payload).to_bytes(2, "big") + payload)
                reader = _FrameReader(stream)
                for _ in range(_MAX_TCP_REPLIES):
                    data = await reader.frame()
                    try:
                        reply = Message.from_wire(data)
                    except MalformedMessage as exc:
                        self.stats.malformed_replies += 1
                        raise ExchangeError(
                            f"{format_address(address)} sent a malformed reply over TCP: {exc}"
                        ) from None
                    if _matches(query, reply):
                        return reply
                    self.stats.ignored_replies += 1
            except (trio.BrokenResourceError, OSError) as exc:
                raise ExchangeError(
                    f"TCP connection to {format_address(address)} failed: {exc}"
                ) from None
        raise ExchangeError(f"{format_address(address)} sent {_MAX_TCP_REPLIES} replies, none ours")


class _FrameReader:
    """Reads 2-octet length-prefixed messages from a stream (RFC 1035 section 4.2.2)."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._buffer = bytearray()

    async def _fill(self, size: int) -> None:
        while len(self._buffer) < size:
            chunk = await self._stream.receive_some(65536)
            if not chunk:
                raise ExchangeError("connection closed before a whole reply arrived")
            self._buffer += chunk

    async def frame(self) -> bytes:
        await self._fill(2)
        length = int.from_bytes(self._buffer[:2], "big")
        await self._fill(2 + length)
        data = bytes(self._buffer[2 : 2 + length])
        del self._buffer[: 2 + length]
        return data
