"""Hypothesis strategies for wire-format values: names, rdata, records, EDNS, messages.

Shared by the wire tests and usable by any test that wants arbitrary valid
messages. Everything generated is valid by construction, so `to_wire` then
`from_wire` must give back an equal value. Two things shape the generators:

- Record names are drawn from a small pool of related names (and their random-case
  spellings), so that messages share suffixes and name compression is exercised,
  including pointers between names that differ only in case.
- Values that the parser turns into a richer class (an EDNS option with the cookie
  or EDE code, a GenericRdata of a registered type) are never generated in their
  generic form, since they would not round-trip to an equal object. Generic rdata
  uses the private-use types 65280-65534, which no class will ever claim.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce
from operator import or_

from hypothesis import strategies as st

from trio_dns import (
    Cookie,
    EdeCode,
    Edns,
    EdnsOption,
    EdnsOptionCode,
    ExtendedError,
    Flag,
    GenericOption,
    GenericRdata,
    Header,
    Message,
    Name,
    Opcode,
    Question,
    Rcode,
    Rdata,
    Record,
    RRClass,
    RRType,
)
from trio_dns._wire.name import MAX_NAME
from trio_dns._wire.rdtypes.address import AAAA, A
from trio_dns._wire.rdtypes.mx import MX
from trio_dns._wire.rdtypes.single_name import CNAME, NS
from trio_dns._wire.rdtypes.soa import SOA
from trio_dns._wire.rdtypes.txt import TXT

u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
ttls = st.integers(0, 2**31 - 1)

# Octets that need escaping in presentation form, or look like length octets or
# compression pointers if a parser gets its offsets wrong.
_AWKWARD = b'.\\"();@$ \x00\x01\x3f\x40\x7f\x80\xc0\xff'

_LDH = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"


def _pick(alphabet: bytes) -> st.SearchStrategy[bytes]:
    # One draw of raw octets mapped onto the alphabet is much faster than drawing
    # each character.
    return st.binary(min_size=1, max_size=12).map(
        lambda raw: bytes(alphabet[octet % len(alphabet)] for octet in raw)
    )


labels = st.one_of(
    _pick(_LDH),
    _pick(_AWKWARD + _LDH[:8]),
    st.binary(min_size=1, max_size=63),
)


def _fit(label_list: list[bytes]) -> tuple[bytes, ...]:
    """Drop labels from the left until the name fits in 255 octets."""
    while sum(len(label) + 1 for label in label_list) + 1 > MAX_NAME:
        label_list = label_list[1:]
    return tuple(label_list)


names = st.lists(labels, max_size=6).map(_fit).map(Name)


# A name used in a message is made from a pool of names drawn for that message:
# (which pool name, maybe a label to put in front, which letters to flip case).
# Strategies draw these plain references and `_resolve` turns them into names, so
# that no strategy needs building per example (which would make hypothesis slow).
_NameRef = tuple[int, bytes | None, int]
_Resolve = Callable[[_NameRef], Name]
name_refs: st.SearchStrategy[_NameRef] = st.tuples(
    st.integers(0, 7), st.none() | labels, st.integers(0, 2**64 - 1)
)


def _flip_case(label: bytes, bits: int) -> bytes:
    out = bytearray(label)
    for i, octet in enumerate(out):
        if bits >> (i % 64) & 1 and (0x41 <= octet <= 0x5A or 0x61 <= octet <= 0x7A):
            out[i] = octet ^ 0x20
    return bytes(out)


def _resolver(pool: list[Name]) -> _Resolve:
    def resolve(ref: _NameRef) -> Name:
        index, label, flips = ref
        base = pool[index % len(pool)]
        if label is not None and len(base.to_wire()) + len(label) + 1 <= MAX_NAME:
            base = base.child(label)
        return Name(tuple(_flip_case(label, flips >> i) for i, label in enumerate(base.labels)))

    return resolve


_Make = Callable[[_Resolve], Rdata]
_rdata_makers: st.SearchStrategy[_Make] = st.one_of(
    st.ip_addresses(v=4).map(lambda address: lambda _: A(str(address))),
    st.ip_addresses(v=6).map(lambda address: lambda _: AAAA(str(address))),
    name_refs.map(lambda ref: lambda resolve: NS(resolve(ref))),
    name_refs.map(lambda ref: lambda resolve: CNAME(resolve(ref))),
    st.builds(lambda pref, ref: lambda resolve: MX(pref, resolve(ref)), u16, name_refs),
    st.lists(st.binary(max_size=255), min_size=1, max_size=4).map(
        lambda strings: lambda _: TXT(tuple(strings))
    ),
    st.builds(
        lambda m, r, numbers: lambda resolve: SOA(resolve(m), resolve(r), *numbers),
        name_refs,
        name_refs,
        st.tuples(u32, u32, u32, u32, u32),
    ),
    st.builds(
        lambda rtype, data: lambda _: GenericRdata(rtype, data),
        st.integers(65280, 65534).map(RRType),
        st.binary(max_size=64),
    ),
)

rdatas: st.SearchStrategy[Rdata] = st.builds(
    lambda pool, make: make(_resolver(pool)), st.lists(names, min_size=1, max_size=3), _rdata_makers
)
"""A/AAAA/NS/CNAME/MX/TXT/SOA rdata, or opaque rdata of a private-use type."""

rclasses = st.one_of(st.sampled_from([RRClass.IN, RRClass.CH, RRClass.HS]), u16.map(RRClass))


def _record_makers(
    rclass_strategy: st.SearchStrategy[RRClass],
) -> st.SearchStrategy[Callable[[_Resolve], Record]]:
    def build(
        ref: _NameRef, make: _Make, rclass: RRClass, ttl: int
    ) -> Callable[[_Resolve], Record]:
        def record(resolve: _Resolve) -> Record:
            rdata = make(resolve)
            return Record(resolve(ref), rdata.rtype, rclass, ttl, rdata)

        return record

    return st.builds(build, name_refs, _rdata_makers, rclass_strategy, ttls)


# Option codes that dnspython (the oracle) parses itself, and rejects a malformed
# body of, are not made as opaque options.
edns_options: st.SearchStrategy[EdnsOption] = st.one_of(
    st.builds(
        GenericOption,
        u16.filter(
            lambda code: (
                code
                not in (EdnsOptionCode.COOKIE, EdnsOptionCode.EDE, EdnsOptionCode.CLIENT_SUBNET)
            )
        ).map(EdnsOptionCode),
        st.binary(max_size=40),
    ),
    st.builds(
        Cookie,
        st.binary(min_size=8, max_size=8),
        st.just(b"") | st.binary(min_size=8, max_size=32),
    ),
    st.builds(ExtendedError, u16.map(EdeCode), st.text(max_size=40)),
)

edns = st.builds(
    Edns,
    payload=u16,
    version=st.integers(0, 255),
    dnssec_ok=st.booleans(),
    options=st.lists(edns_options, max_size=4).map(tuple),
    z=st.integers(0, 0x7FFF),
)

flags = st.sets(st.sampled_from(list(Flag))).map(lambda chosen: reduce(or_, chosen, Flag(0)))


def messages(rclass_strategy: st.SearchStrategy[RRClass] = rclasses) -> st.SearchStrategy[Message]:
    """Whole valid messages: header, questions, three sections, maybe EDNS."""
    record_makers = st.lists(_record_makers(rclass_strategy), max_size=5)
    question_parts = st.lists(st.tuples(name_refs, u16.map(RRType), rclass_strategy), max_size=2)

    def build(
        pool: list[Name],
        message_id: int,
        message_flags: Flag,
        opcode: int,
        rcode: int,
        message_edns: Edns | None,
        questions: list[tuple[_NameRef, RRType, RRClass]],
        sections: tuple[list[Callable[[_Resolve], Record]], ...],
    ) -> Message:
        resolve = _resolver(pool)
        if message_edns is None:
            rcode &= 0xF  # only EDNS can carry the upper 8 bits of an extended rcode
        header = Header(message_id, message_flags, Opcode(opcode), Rcode(rcode))
        answer, authority, additional = (
            tuple(make(resolve) for make in section) for section in sections
        )
        return Message(
            header,
            tuple(Question(resolve(ref), rtype, rclass) for ref, rtype, rclass in questions),
            answer,
            authority,
            additional,
            message_edns,
        )

    return st.builds(
        build,
        st.lists(names, min_size=1, max_size=3),
        u16,
        flags,
        st.integers(0, 15),
        st.integers(0, 0xFFF),
        st.none() | edns,
        question_parts,
        st.tuples(record_makers, record_makers, record_makers),
    )
