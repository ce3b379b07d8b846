"""A simulated authoritative server: zones, addresses, and a behaviour.

Theory of operation: `respond` is the whole server. It takes the bytes of one
query as they arrived at one of the server's addresses and returns a `Response`:
what to log and which packets to send back, each with its delay and apparent
source. It answers from its zones with `answer_query`, then applies the
behaviour (lameness, EDNS intolerance, case not echoed, truncation, wrong ID,
garbage, loss, duplication, late replies, forgery); a custom handler's message
goes through the same truncation and wrong-ID steps, its raw bytes go out as
they are. It never waits and never touches the network itself, so the fake
network can compute the replies at the moment a query is sent and schedule them
on virtual time.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from functools import partial

import attrs

from .._decisions.authority import Zone, answer_query
from .._errors import MalformedMessage
from .._network.transport import Address, normalize_address
from .._wire.edns import DEFAULT_PAYLOAD, Edns
from .._wire.enums import Flag, Rcode, RRClass, RRType
from .._wire.message import Header, Message, Question, Record
from .._wire.name import ROOT, Name
from .._wire.rdtypes.address import A
from .._wire.rdtypes.single_name import NS
from ._behaviour import Behaviour, ForgedCase, Forgery, Lame
from ._log import Action

_UDP_LIMIT_WITHOUT_EDNS = 512  # RFC 1035 section 4.2.1
_TCP_LIMIT = 65535
_ROOT_SERVER = Name.from_text("a.root-servers.net.")
_FORGED_QUESTION = Name.from_text("forged.invalid.")
# Parses as a header claiming one question, then a label of a reserved type.
_GARBAGE_TAIL = b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\xbf\xff\xfe\xfd garbage"


@attrs.frozen
class Packet:
    """One datagram (or, over TCP, one message) sent back to the asker."""

    data: bytes
    delay: float
    source: Address


@attrs.frozen
class Response:
    action: Action
    query: Message | bytes
    reply: Message | bytes | None = None
    packets: tuple[Packet, ...] = ()


def make_address(value: str | Address, port: int = 53) -> Address:
    """`"192.0.2.1"` or `("192.0.2.1", 5353)`, normalised."""
    if isinstance(value, str):
        return normalize_address(value, port)
    return normalize_address(value[0], value[1])


def _make_zone(zone: Zone | str) -> Zone:
    return zone if isinstance(zone, Zone) else Zone.from_text(zone)


@attrs.define(eq=False)
class AuthoritativeServer:
    """A server with one or more addresses, serving zones, misbehaving as told.

    `behaviour` applies at every address unless `links` has one for that address.
    Both may be replaced at any time, for example to kill a server mid-test.
    """

    addresses: tuple[Address, ...]
    zones: tuple[Zone, ...]
    behaviour: Behaviour = attrs.Factory(Behaviour)
    links: dict[Address, Behaviour] = attrs.Factory(dict)
    name: str = ""
    _previous: bytes | None = attrs.field(default=None, init=False)  # for late_replies

    @classmethod
    def make(
        cls,
        addresses: Iterable[str | Address],
        zones: Iterable[Zone | str] = (),
        *,
        behaviour: Behaviour | None = None,
        port: int = 53,
        name: str = "",
    ) -> AuthoritativeServer:
        """Addresses as text (on `port`) or (host, port); zones as Zone or zone-file
        text with absolute names or an $ORIGIN."""
        return cls(
            tuple(make_address(address, port) for address in addresses),
            tuple(_make_zone(zone) for zone in zones),
            behaviour or Behaviour(),
            name=name,
        )

    def behaviour_at(self, address: Address) -> Behaviour:
        return self.links.get(address, self.behaviour)

    def set_behaviour(self, behaviour: Behaviour, address: str | Address | None = None) -> None:
        """Change how the server behaves, everywhere or at one of its addresses."""
        if address is None:
            self.behaviour = behaviour
            self.links.clear()
            return
        resolved = make_address(address, self.addresses[0][1] if self.addresses else 53)
        if resolved not in self.addresses:
            raise ValueError(f"{resolved} is not an address of this server")
        self.links[resolved] = behaviour

    def answer(self, query: Message) -> Message:
        """The correct answer from this server's zones, misbehaviour aside."""
        return answer_query(self.zones, query)

    def respond(self, data: bytes, *, address: Address, tcp: bool, rng: random.Random) -> Response:
        """What happens to `data` arriving at `address`."""
        behaviour = self.behaviour_at(address)
        query: Message | bytes
        try:
            query = Message.from_wire(data)
        except MalformedMessage:
            query = data
        if behaviour.dead:
            return Response(Action.DEAD, query)
        if isinstance(query, Message) and Flag.QR in query.flags:
            return Response(Action.DROPPED, query)  # a reply is never answered
        if not tcp and behaviour.loss and rng.random() < behaviour.loss:
            return Response(Action.LOST, query)
        reply = self._reply(_as_echoed(query, behaviour), behaviour, tcp)
        if reply is None:
            return Response(Action.DROPPED, query)
        wire = reply if isinstance(reply, bytes) else reply.to_wire(_size_limit(query, tcp))
        source = behaviour.reply_from or address
        delay = behaviour.delay(rng)
        packets = []
        if not tcp and behaviour.forge is not None and isinstance(query, Message):
            packets += _forgeries(behaviour.forge, query, address, rng)
        if not tcp and behaviour.late_replies and self._previous is not None:
            packets.append(Packet(self._previous, delay / 2, source))
        packets.append(Packet(wire, delay, source))
        self._previous = wire
        if not tcp and behaviour.duplicate and rng.random() < behaviour.duplicate:
            packets.append(Packet(wire, delay + behaviour.delay(rng), source))
        return Response(Action.ANSWERED, query, reply, tuple(packets))

    def _reply(
        self, query: Message | bytes, behaviour: Behaviour, tcp: bool
    ) -> Message | bytes | None:
        if isinstance(query, bytes):
            if len(query) < 2:
                return None
            if behaviour.garbage:
                return query[:2] + _GARBAGE_TAIL
            # What a server can still say to a query it cannot read: FORMERR, with
            # the ID, and nothing else (the question could not be read back).
            return query[:2] + (0x8000 | Rcode.FORMERR).to_bytes(2, "big") + bytes(8)
        if behaviour.garbage:
            return query.id.to_bytes(2, "big") + _GARBAGE_TAIL
        reply: Message | bytes | None
        if behaviour.handler is not None:
            reply = behaviour.handler(query)
        elif not behaviour.edns and query.edns is not None:
            # RFC 1035 servers see the OPT record as a malformed additional record.
            reply = attrs.evolve(query.make_response(Rcode.FORMERR), edns=None)
        elif behaviour.lame == Lame.REFUSED:
            reply = query.make_response(Rcode.REFUSED)
        elif behaviour.lame == Lame.UPWARD_REFERRAL:
            reply = _upward_referral(query)
        else:
            reply = self.answer(query)
            if behaviour.lame == Lame.NOT_AUTHORITATIVE:
                # A server that has no authority for the zone: no data, no SOA, only
                # the zone's own NS set, AA clear (what a stale secondary says).
                ns = tuple(r for r in reply.authority if r.rtype == RRType.NS)
                if not ns:
                    ns = tuple(r for r in reply.answer + reply.authority if r.rtype == RRType.NS)
                reply = attrs.evolve(
                    reply.evolve_header(flags=reply.flags & ~Flag.AA),
                    answer=(),
                    authority=ns or _zone_ns(self.zones, query),
                    additional=(),
                )
            elif behaviour.lame == Lame.NO_FLAGS:
                reply = reply.evolve_header(flags=reply.flags & ~(Flag.AA | Flag.RA))
        if not isinstance(reply, Message):
            return reply
        if behaviour.truncate_udp and not tcp:
            reply = attrs.evolve(
                reply,
                header=attrs.evolve(reply.header, flags=reply.flags | Flag.TC),
                answer=(),
                authority=(),
                additional=(),
            )
        if behaviour.wrong_id:
            reply = reply.evolve_header(id=(reply.id + 1) & 0xFFFF)
        return reply


def _size_limit(query: Message | bytes, tcp: bool) -> int:
    if tcp:
        return _TCP_LIMIT
    if isinstance(query, Message) and query.edns is not None:
        return max(_UDP_LIMIT_WITHOUT_EDNS, min(query.edns.payload, DEFAULT_PAYLOAD))
    return _UDP_LIMIT_WITHOUT_EDNS


def _zone_ns(zones: Sequence[Zone], query: Message) -> tuple[Record, ...]:
    """The NS set at the apex of the zone that would answer `query`."""
    name = query.question[0].name if query.question else ROOT
    best = max(
        (z for z in zones if name.is_subdomain(z.origin)), key=lambda z: len(z.origin), default=None
    )
    if best is None:
        return ()
    apex = answer_query(
        (best,), Message.make_query(best.origin, RRType.NS, id=0, flags=Flag(0), edns=None)
    )
    return tuple(r for r in apex.answer if r.rtype == RRType.NS)


def _upward_referral(query: Message) -> Message:
    ns = Record(ROOT, RRType.NS, RRClass.IN, 518400, NS(_ROOT_SERVER))
    glue = Record(_ROOT_SERVER, RRType.A, RRClass.IN, 518400, A("198.41.0.4"))
    return attrs.evolve(query.make_response(), authority=(ns,), additional=(glue,))


def _lowercase(name: Name) -> Name:
    return Name(tuple(label.lower() for label in name.labels))


def _random_case(name: Name, rng: random.Random) -> Name:
    return Name(
        tuple(
            bytes(c ^ 0x20 if 97 <= c <= 122 and rng.random() < 0.5 else c for c in label)
            for label in _lowercase(name).labels
        )
    )


def _as_echoed(query: Message | bytes, behaviour: Behaviour) -> Message | bytes:
    """The query as the server will copy it into its reply."""
    if behaviour.echo_case or not isinstance(query, Message):
        return query
    question = tuple(attrs.evolve(q, name=_lowercase(q.name)) for q in query.question)
    return attrs.evolve(query, question=question)


def _forged_question(forge: Forgery, query: Message, rng: random.Random) -> tuple[Question, ...]:
    if forge.wrong_question:
        return (Question(_FORGED_QUESTION, RRType.A),)
    if forge.case == ForgedCase.ECHO:
        return query.question
    spell = _lowercase if forge.case == ForgedCase.LOWER else partial(_random_case, rng=rng)
    return tuple(attrs.evolve(q, name=spell(q.name)) for q in query.question)


def _forgeries(
    forge: Forgery, query: Message, address: Address, rng: random.Random
) -> list[Packet]:
    source = forge.source or address
    packets = []
    for attempt in range(forge.count):
        question = _forged_question(forge, query, rng)
        qname = question[0].name if question else _FORGED_QUESTION
        record = Record(qname, RRType.A, RRClass.IN, forge.ttl, A(forge.address))
        msg_id = query.id if forge.correct_id else (query.id + 1 + attempt) & 0xFFFF
        header = Header(id=msg_id, flags=Flag.QR | Flag.AA | (query.flags & Flag.RD))
        edns = Edns() if query.edns is not None else None
        forged = Message(header, question, (record,), edns=edns)
        packets.append(Packet(forged.to_wire(), forge.lead, source))
    return packets
