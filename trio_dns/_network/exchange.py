"""One question to one server, and its answer: the stub resolver's core.

Theory of operation: `Exchanger.exchange` sends a query to one address and
returns the first reply that really answers it. Over UDP that means the reply
came from the address and port we sent to, carries our ID and our question, and
has QR set; anything else arriving on our socket is a spoof attempt or a late
reply to an earlier query, and is counted and ignored rather than raised, so a
forger cannot make us give up early. A reply with TC set is asked again over TCP
(RFC 7766). A server that answers FORMERR or NOTIMP to a query with EDNS is asked
once more without it, and that is remembered for the server (RFC 6891 section 7).

Case randomisation (0x20, draft-vixie-dnsext-dns0x20, Unbound's
`use-caps-for-id`, here on by default): each query's name goes out with every
letter in a random case, and servers copy the question into their reply as
sent, so a forger must guess that spelling as well as the ID and the port: one
bit more per letter. The check is on the reply's octets before parsing: its
question must be our spelling exactly. The spelling is then put back, in those
octets, to the one the caller asked with, so every name compressed against the
question (the answer's owner names, nearly always) reads as the caller spelled
it too; names the server wrote out itself keep the server's spelling. A UDP
reply that is right in everything but the case is ignored and counted, and the
question is asked again over TCP, where no off-path forger can answer: if that
reply has the case wrong too, the server does not echo case, and it is
remembered and asked without 0x20 from then on (Unbound instead asks all the
zone's servers without 0x20 and compares their answers, every time). A server
that cannot be reached over TCP to tell is asked once more over UDP without
0x20, as Unbound's fallback does. As Unbound, PTR questions keep their case
(some middleboxes rewrite reverse names).

Every ignored reply also counts towards `unwanted_reply_threshold` (Unbound's
option of that name): when that many have been seen, someone is guessing at our
ports and IDs in earnest, and `on_unwanted_threshold` is called to flush the
caches, in case a guess got through; then counting starts again.

With `rebinding` set, private addresses are taken out of every reply before it
is returned (`_rebinding.py`): replies from upstream are the only data that
passes here, so the operator's local zones are never filtered.

The per-server memories (no EDNS, no 0x20) hold at most `max_servers` addresses
each, least recently used forgotten first.

Nothing here waits on its own: callers bound each exchange with a cancel scope.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable

import attrs
import trio

from .._address import Address, format_address, normalize_address
from .._decisions.rebinding import Rebinding
from .._errors import DNSError, MalformedMessage
from .._unpredictable import random_bytes
from .._wire.enums import Flag, Rcode, RRType
from .._wire.message import Message
from .transport import Transport

log = logging.getLogger("trio_dns.exchange")

_MAX_TCP_REPLIES = 16  # replies on one connection read before giving up on ours
_QUESTION_AT = 12  # the question's name follows the header, never compressed
_ONE_QUESTION = b"\x00\x01"
# 0x20 at the octets of a name's wire form that are ASCII letters. Length octets
# (at most 63) are never letters, so a whole wire form can be masked at once.
_LETTERS = bytes(0x20 if chr(i).isascii() and chr(i).isalpha() else 0 for i in range(256))


class ExchangeError(DNSError):
    """The server answered, but not with a usable reply (garbage, or a closed
    connection); a timeout is the caller's cancel scope, not this."""


class _CaseMismatch(ExchangeError):
    """A UDP reply right in everything but the case of its question."""


@attrs.frozen
class ExchangeSettings:
    """How the exchange layer defends itself (see the module docstring)."""

    case_randomisation: bool = True
    # Ignored replies before the caches are flushed; 0: never. Unbound's suggested
    # value: ten million wrong guesses is an attack, not bad luck.
    unwanted_reply_threshold: int = attrs.field(
        default=10_000_000, validator=attrs.validators.ge(0)
    )
    # Addresses each per-server memory holds (as Unbound's infra-cache-numhosts).
    max_servers: int = attrs.field(default=10_000, validator=attrs.validators.ge(1))
    rebinding: Rebinding | None = None


@attrs.define
class ExchangeStats:
    """Counters for what the exchange layer saw; cheap to update, read by metrics."""

    queries_udp: int = 0
    queries_tcp: int = 0
    ignored_replies: int = 0  # wrong source, ID, question or case: spoofed or late
    malformed_replies: int = 0
    truncated_replies: int = 0
    edns_fallbacks: int = 0
    # UDP replies right but for the case of the question: forged, or from a server
    # that does not echo case (asked again over TCP to tell).
    case_mismatches: int = 0
    case_fallbacks: int = 0  # servers found not to echo case, asked without 0x20 since
    unwanted_flushes: int = 0  # times the unwanted-reply threshold was reached
    rebinding_removed: int = 0  # private addresses taken out of replies


class ServerMemory:
    """A set of server addresses that forgets the least recently used beyond `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._addresses: OrderedDict[Address, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._addresses)

    def __contains__(self, address: object) -> bool:
        if address not in self._addresses:
            return False
        self._addresses.move_to_end(address)  # type: ignore[arg-type]
        return True

    def discard(self, address: Address | None = None) -> int:
        """Forget `address`, or every address; how many went."""
        if address is None:
            count = len(self._addresses)
            self._addresses.clear()
            return count
        if address not in self._addresses:
            return 0
        del self._addresses[address]
        return 1

    def add(self, address: Address) -> None:
        self._addresses[address] = None
        self._addresses.move_to_end(address)
        while len(self._addresses) > self.limit:
            self._addresses.popitem(last=False)


def _matches(query: Message, reply: Message) -> bool:
    return reply.id == query.id and Flag.QR in reply.flags and reply.question == query.question


def randomise_case(wire: bytes) -> bytes:
    """A name's wire form with each letter in a random case (other octets as they are)."""
    mask = int.from_bytes(wire.translate(_LETTERS), "big")
    if not mask:
        return wire
    bits = int.from_bytes(random_bytes(len(wire)), "big")
    return (int.from_bytes(wire, "big") ^ (mask & bits)).to_bytes(len(wire), "big")


@attrs.frozen
class _Sent:
    """A query as it went out. Under 0x20, `asked` is the name's wire form as the
    caller spelled it and `sent` as it was sent; without, both are empty."""

    payload: bytes
    asked: bytes = b""
    sent: bytes = b""

    def restore(self, data: bytes) -> tuple[bytes, bool]:
        """The reply's octets with the caller's spelling back in its question, and
        whether the question was spelled as sent (False: forged, or not echoed)."""
        if not self.sent:
            return data, True
        end = _QUESTION_AT + len(self.sent)
        if data[4:6] != _ONE_QUESTION or data[_QUESTION_AT:end] != self.sent:
            return data, False
        if self.sent == self.asked:
            return data, True
        return data[:_QUESTION_AT] + self.asked + data[end:], True


@attrs.define(eq=False)
class Exchanger:
    """Sends queries through a transport; remembers which servers refuse EDNS and
    which do not echo case."""

    transport: Transport
    settings: ExchangeSettings = attrs.Factory(ExchangeSettings)
    # Called when `settings.unwanted_reply_threshold` ignored replies have been
    # seen: the owner of the caches flushes them (Unbound's defensive action).
    on_unwanted_threshold: Callable[[], None] | None = None
    stats: ExchangeStats = attrs.Factory(ExchangeStats)
    _no_edns: ServerMemory = attrs.field(init=False)
    _no_caps: ServerMemory = attrs.field(init=False)
    _unwanted: int = attrs.field(init=False, default=0)  # ignored since the last flush

    def __attrs_post_init__(self) -> None:
        self._no_edns = ServerMemory(self.settings.max_servers)
        self._no_caps = ServerMemory(self.settings.max_servers)

    def edns_refused(self, address: Address) -> bool:
        return address in self._no_edns

    def echoes_case(self, address: Address) -> bool:
        """False for a server found to answer without our case (asked without 0x20)."""
        return address not in self._no_caps

    def forget(self, address: Address | None = None) -> tuple[int, int]:
        """Forget that `address` (or any server) refuses EDNS or does not echo case:
        it is asked with both again. How many no-EDNS and no-0x20 entries went."""
        return self._no_edns.discard(address), self._no_caps.discard(address)

    @property
    def remembered(self) -> tuple[int, int]:
        """How many servers the no-EDNS and no-0x20 memories hold."""
        return len(self._no_edns), len(self._no_caps)

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
        rebinding = self.settings.rebinding
        if rebinding is not None:
            reply, removed = rebinding.apply(reply)
            self.stats.rebinding_removed += removed
        return reply

    async def _udp_then_tcp(self, address: Address, query: Message, tcp: bool) -> Message:
        if not tcp:
            try:
                reply = await self.exchange_udp(address, query)
            except _CaseMismatch:
                # A forger who guessed the ID and port, or a server that does not
                # echo case. Over TCP only the server can answer: its reply tells.
                try:
                    return await self.exchange_tcp(address, query)
                except ExchangeError:
                    # No TCP to tell by; a forger must guess ID and port again.
                    return await self.exchange_udp(address, query, randomise=False)
            if Flag.TC not in reply.flags:
                return reply
            self.stats.truncated_replies += 1
        return await self.exchange_tcp(address, query)

    def _prepare(self, address: Address, query: Message, randomise: bool = True) -> _Sent:
        payload = query.to_wire()
        if (
            not randomise
            or not self.settings.case_randomisation
            or len(query.question) != 1
            or query.question[0].rtype == RRType.PTR
            or address in self._no_caps
        ):
            return _Sent(payload)
        asked = query.question[0].name.to_wire()
        end = _QUESTION_AT + len(asked)
        if payload[_QUESTION_AT:end] != asked:  # pragma: no cover - the writer's guarantee
            return _Sent(payload)
        sent = randomise_case(asked)
        return _Sent(payload[:_QUESTION_AT] + sent + payload[end:], asked, sent)

    def _ignore(self) -> None:
        self.stats.ignored_replies += 1
        threshold = self.settings.unwanted_reply_threshold
        if not threshold:
            return
        self._unwanted += 1
        if self._unwanted >= threshold:
            self._unwanted = 0
            self.stats.unwanted_flushes += 1
            log.warning(
                "%d unwanted replies (wrong ID, source, question or case): "
                "flushing the caches in case a forgery got through",
                threshold,
            )
            if self.on_unwanted_threshold is not None:
                self.on_unwanted_threshold()

    async def exchange_udp(
        self, address: Address, query: Message, *, randomise: bool = True
    ) -> Message:
        """One UDP exchange. Raises ExchangeError (a subclass) for a reply right in
        everything but the 0x20 case."""
        sent = self._prepare(address, query, randomise)
        payload = sent.payload
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
                    self._ignore()
                    continue
                data, spelled_as_sent = sent.restore(data)
                try:
                    reply = Message.from_wire(data)
                except MalformedMessage as exc:
                    if data[:2] != payload[:2]:
                        self._ignore()
                        continue
                    # Our ID from the right address: the server itself sent garbage.
                    self.stats.malformed_replies += 1
                    raise ExchangeError(
                        f"{format_address(address)} sent a malformed reply: {exc}"
                    ) from None
                if not _matches(query, reply):
                    self._ignore()
                    continue
                if not spelled_as_sent:
                    self.stats.case_mismatches += 1
                    self._ignore()
                    raise _CaseMismatch(
                        f"{format_address(address)} answered {query.question[0].name} "
                        "in another case than asked"
                    )
                return reply

    async def exchange_tcp(self, address: Address, query: Message) -> Message:
        sent = self._prepare(address, query)
        payload = sent.payload
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
                    data, spelled_as_sent = sent.restore(await reader.frame())
                    try:
                        reply = Message.from_wire(data)
                    except MalformedMessage as exc:
                        self.stats.malformed_replies += 1
                        raise ExchangeError(
                            f"{format_address(address)} sent a malformed reply over TCP: {exc}"
                        ) from None
                    if _matches(query, reply):
                        if not spelled_as_sent:
                            # No off-path forger answers over TCP: this server
                            # itself does not echo case.
                            self.stats.case_fallbacks += 1
                            self._no_caps.add(address)
                        return reply
                    self._ignore()
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
