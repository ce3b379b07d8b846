"""Hostile input: `Message.from_wire` returns a Message or raises MalformedMessage.

First hand-made attacks on the parser (compression loops, out-of-range lengths,
misplaced OPT records), each checked for the reason given; then exhaustive loops
over every prefix and every single-bit flip of the golden packets; then
hypothesis with random bytes and random corruptions.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.data import NAMES, load
from trio_dns import MalformedMessage, Message

GOLDEN = {name: load(name) for name in NAMES}
PRIVATE_TYPE = 65280  # parsed as opaque octets: a place to hide bytes from the parser


def header(qd: int = 0, an: int = 0, ns: int = 0, ar: int = 0, flags: int = 0x8180) -> bytes:
    return struct.pack("!HHHHHH", 0x1234, flags, qd, an, ns, ar)


def rr(
    name: bytes, rtype: int, rdata: bytes, rdlength: int | None = None, rclass: int = 1
) -> bytes:
    length = len(rdata) if rdlength is None else rdlength
    return name + struct.pack("!HHIH", rtype, rclass, 300, length) + rdata


def opt(name: bytes = b"\x00", options: bytes = b"", rdlength: int | None = None) -> bytes:
    length = len(options) if rdlength is None else rdlength
    return name + struct.pack("!HHIH", 41, 1232, 0, length) + options


def pointer(offset: int) -> bytes:
    return struct.pack("!H", 0xC000 | offset)


EXAMPLE = b"\x07example\x03com\x00"
QUESTION = EXAMPLE + b"\x00\x01\x00\x01"


def hidden_rdata_then_name(rdata_for: object, owner_for: object) -> bytes:
    """An answer whose opaque rdata holds hostile name bytes, then a record whose
    owner name points into them. The callables get the rdata's offset."""
    # 12 (header) + 1 (root owner) + 10 (fixed fields): where the rdata starts.
    start = 23
    assert callable(rdata_for) and callable(owner_for)
    rdata = rdata_for(start)
    first = rr(b"\x00", PRIVATE_TYPE, rdata)
    second = rr(owner_for(start, start + len(rdata)), 1, b"\x7f\x00\x00\x01")
    return header(an=2) + first + second


def chain_of_pointers(start: int, hops: int) -> bytes:
    """The root at `start`, then `hops` pointers each to the one before it."""
    data = b"\x00" + pointer(start)
    for hop in range(1, hops):
        data += pointer(start + 1 + 2 * (hop - 1))
    return data


def chain_of_labels(start: int, hops: int) -> bytes:
    """The root at `start`, then names of one 63-octet label and a pointer back."""
    data = b"\x00"
    previous = start
    for _ in range(hops):
        here = start + len(data)
        data += b"\x3f" + b"x" * 63 + pointer(previous)
        previous = here
    return data


EVIL = {
    "self pointer": (
        header(qd=1) + pointer(12) + b"\x00\x01\x00\x01",
        "pointer does not point backwards",
    ),
    "forward pointer": (
        header(qd=1) + pointer(18) + b"\x00\x01\x00\x01" + EXAMPLE,
        "pointer does not point backwards",
    ),
    "pointer into the header": (
        header(qd=1) + b"\x03www" + pointer(4) + b"\x00\x01\x00\x01",
        "compression pointer into the header",
    ),
    "pointer loop": (
        hidden_rdata_then_name(
            lambda s: pointer(s + 2) + pointer(s),
            lambda s, end: pointer(s + 2),
        ),
        "pointer does not point backwards",
    ),
    "long chain of pointers": (
        hidden_rdata_then_name(
            lambda s: chain_of_pointers(s, 200),
            lambda s, end: pointer(end - 2),
        ),
        "too many compression pointers",
    ),
    "name over 255 octets through pointers": (
        hidden_rdata_then_name(
            lambda s: chain_of_labels(s, 5),
            lambda s, end: pointer(end - 66),
        ),
        "longer than 255",
    ),
    "name over 255 octets in full": (
        header(qd=1) + (b"\x3f" + b"y" * 63) * 4 + b"\x00\x00\x01\x00\x01",
        "longer than 255",
    ),
    "label type 0x40": (header(qd=1) + b"\x41" + b"a" * 65 + b"\x00\x00\x01\x00\x01", "0x41"),
    "label type 0x80": (header(qd=1) + b"\x80\x00\x00\x01\x00\x01", "label type 0x80"),
    "pointer cut short": (header(qd=1) + b"\xc0", "cut short"),
    "label past the end": (header(qd=1) + b"\x07exam", "past the end"),
    "rdlength past the end": (
        header(qd=1, an=1) + QUESTION + rr(pointer(12), 1, b"\x7f\x00\x00\x01", rdlength=100),
        "runs past the end",
    ),
    "rdlength wrong for the type": (
        header(qd=1, an=1) + QUESTION + rr(pointer(12), 1, b"\x7f\x00\x00\x01\x02"),
        "not 4 octets",
    ),
    "rdata longer than its contents": (
        header(qd=1, an=1) + QUESTION + rr(pointer(12), 2, pointer(12) + b"\x00"),
        "left over",
    ),
    "question count too big": (header(qd=2) + QUESTION, "past the end"),
    "answer count too big": (
        header(qd=1, an=3) + QUESTION + rr(pointer(12), 1, b"\x7f\x00\x00\x01"),
        "past the end",
    ),
    "record cut short": (header(qd=1, an=1) + QUESTION + pointer(12) + b"\x00\x01", "cut short"),
    "question cut short": (header(qd=1) + EXAMPLE + b"\x00", "cut short"),
    "two OPT records": (header(ar=2) + opt() + opt(), "more than one OPT"),
    "OPT not at the root": (header(qd=1, ar=1) + QUESTION + opt(name=pointer(12)), "root"),
    "OPT in the answer section": (header(an=1) + opt(), "OPT record in the answer"),
    "OPT in the authority section": (header(ns=1) + opt(), "OPT record in the authority"),
    "OPT rdata past the end": (header(ar=1) + opt(rdlength=8), "past the end"),
    "EDNS option past the OPT record": (
        header(ar=1) + opt(options=b"\x00\x0a\x00\x10" + b"c" * 8),
        "EDNS option",
    ),
    "EDNS option header cut short": (header(ar=1) + opt(options=b"\x00\x0a"), "EDNS option"),
    "EDE text not UTF-8": (
        header(ar=1) + opt(options=b"\x00\x0f\x00\x04\x00\x06\xff\xfe"),
        "UTF-8",
    ),
    "trailing garbage": (header(qd=1) + QUESTION + b"\xde\xad", "after the last record"),
    "shorter than a header": (header()[:11], "header"),
}


@pytest.mark.parametrize("case", sorted(EVIL))
def test_hostile_packet_is_refused(case: str) -> None:
    packet, reason = EVIL[case]
    with pytest.raises(MalformedMessage) as info:
        Message.from_wire(packet)
    assert reason in info.value.reason
    assert info.value.offset is not None and 0 <= info.value.offset <= len(packet)


def test_the_hiding_place_is_sound() -> None:
    # The construction used for the pointer attacks parses when the pointer is honest.
    packet = hidden_rdata_then_name(lambda s: EXAMPLE, lambda s, end: pointer(s))
    message = Message.from_wire(packet)
    assert str(message.answer[1].name) == "example.com."
    # ...and so does a chain of backward pointers of reasonable length.
    packet = hidden_rdata_then_name(
        lambda s: chain_of_pointers(s, 20), lambda s, end: pointer(end - 2)
    )
    assert Message.from_wire(packet).answer[1].name.is_root()


def parse_or_refuse(data: bytes, reencode: bool = True) -> Message | None:
    """The only two outcomes allowed. A parsed message must also re-encode."""
    try:
        message = Message.from_wire(data)
    except MalformedMessage:
        return None
    if reencode:
        assert Message.from_wire(message.to_wire()) == message
    return message


# -- exhaustive: cheap enough to do all of them ------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_prefix_is_refused(name: str) -> None:
    wire = GOLDEN[name]
    for end in range(len(wire)):
        with pytest.raises(MalformedMessage):
            Message.from_wire(wire[:end])
    assert Message.from_wire(wire)


@pytest.mark.parametrize("name", NAMES)
def test_every_single_bit_flip(name: str) -> None:
    wire = GOLDEN[name]
    buf = bytearray(wire)
    parsed = 0
    for index in range(len(wire)):
        for bit in range(8):
            buf[index] ^= 1 << bit
            # Re-encoding costs more than parsing: check it for one flip per octet.
            if parse_or_refuse(bytes(buf), reencode=bit == index % 8) is not None:
                parsed += 1
            buf[index] ^= 1 << bit
    # Most flips land in TTLs, addresses and signatures and still parse; the
    # loop is only worth having if both outcomes happen.
    assert 0 < parsed < 8 * len(wire)


# -- hypothesis ------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    parse_or_refuse(data)


@settings(max_examples=500, deadline=None)
@given(
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
    st.binary(max_size=300),
)
def test_random_bodies_behind_small_counts(counts: tuple[int, int, int, int], body: bytes) -> None:
    # Random bytes after a header with small counts get further into the parser.
    parse_or_refuse(header(*counts) + body)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(NAMES),
    st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), min_size=1, max_size=6),
)
def test_replaced_bytes(name: str, changes: list[tuple[int, int]]) -> None:
    buf = bytearray(GOLDEN[name])
    for index, value in changes:
        buf[index % len(buf)] = value
    parse_or_refuse(bytes(buf))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(NAMES), st.integers(0, 2000), st.integers(0, 2000), st.binary(max_size=40))
def test_spliced_bytes(name: str, start: int, length: int, insert: bytes) -> None:
    # Cut a piece out and put other bytes in: moves everything after it, so
    # compression pointers and lengths no longer line up.
    wire = GOLDEN[name]
    start %= len(wire)
    parse_or_refuse(wire[:start] + insert + wire[start + length % 64 :])
