"""The type bitmap of NSEC, NSEC3 and CSYNC (RFC 4034 section 4.1.2).

Theory of operation: the 65536 types are split into 256 windows of 256 types. Each
window that holds a type is written as its number, the length of its bitmap (1 to
32 octets) and the bitmap, where the most significant bit of the first octet is
type 0 of the window. Windows come in increasing order, and trailing zero octets
(hence empty windows) are left out, so each set of types has exactly one encoding.
The parser insists on that: it is what makes the rdata re-encode to the octets
that were signed.

In this library the set is a sorted tuple of `RRType` without repeats.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..._errors import InvalidRdata, MalformedMessage, UnknownType
from ..enums import RRType
from ..reader import WireReader
from ..text import TokenStream
from ..writer import WireWriter

# RRType keeps every member it has made here, named ones and TYPEnnn alike.
_MEMBERS: dict[object, RRType] = RRType._value2member_map_  # type: ignore[assignment]


def normalise_types(types: Iterable[int]) -> tuple[RRType, ...]:
    """Converter for a bitmap field: sorted, without repeats, as RRType."""
    return tuple(sorted({RRType.make(rtype) for rtype in types}))


def types_from_wire_untrusted(reader: WireReader) -> tuple[RRType, ...]:
    """Read windows up to the end of the rdata."""
    types: list[RRType] = []
    previous = -1
    while reader.remaining():
        start = reader.pos
        window = reader.u8()
        length = reader.u8()
        if window <= previous:
            raise MalformedMessage("type bitmap windows out of order", start)
        if not 1 <= length <= 32:
            raise MalformedMessage(f"type bitmap window of {length} octets", start)
        bitmap = reader.read(length)
        if bitmap[-1] == 0:
            raise MalformedMessage("type bitmap window ends in a zero octet", start)
        previous = window
        base = window << 8
        for index, octet in enumerate(bitmap):
            if not octet:
                continue
            low = base | (index << 3)
            for bit in range(8):
                if octet & (0x80 >> bit):
                    value = low | bit
                    # A dict hit for types seen before; the enum call is much slower.
                    types.append(_MEMBERS.get(value) or RRType(value))
    return tuple(types)


def types_to_wire(writer: WireWriter, types: tuple[RRType, ...]) -> None:
    """Write `types`, which must be sorted without repeats (`normalise_types`)."""
    position = 0
    while position < len(types):
        window = types[position] >> 8
        bitmap = bytearray(32)
        length = 0
        while position < len(types) and types[position] >> 8 == window:
            low = types[position] & 0xFF
            bitmap[low >> 3] |= 0x80 >> (low & 7)
            length = (low >> 3) + 1
            position += 1
        writer.u8(window)
        writer.u8(length)
        writer.write(bytes(bitmap[:length]))


def types_from_tokens(tokens: TokenStream) -> tuple[RRType, ...]:
    """The rest of the tokens, each a type mnemonic or `TYPEnnn`."""
    types = []
    for token in tokens.rest():
        try:
            types.append(RRType.from_text(token.text))
        except UnknownType:
            raise InvalidRdata(f"unknown type {token.text!r} in type bitmap") from None
    return normalise_types(types)


def types_to_text(types: tuple[RRType, ...]) -> str:
    return " ".join(rtype.name for rtype in types)
