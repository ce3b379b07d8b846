"""Field helpers shared by the record types: integer bounds, converters, the DNSSEC
algorithm field, and the hex and base64 spellings of binary fields.

Theory of operation: validators on the attrs fields keep every rdata object
encodable (a value that does not fit its wire field is refused when the object is
built, not when it is written). Wire parsers read fields of the right size, so
they never trip these; text parsers bound numbers as they read them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from ..._errors import InvalidRdata
from ..text import TokenStream


def _unsigned(bits: int) -> Callable[[Any, attrs.Attribute[int], int], None]:
    return attrs.validators.and_(
        attrs.validators.instance_of(int),
        attrs.validators.ge(0),
        attrs.validators.le((1 << bits) - 1),
    )


U8 = _unsigned(8)
U16 = _unsigned(16)
U32 = _unsigned(32)


def to_bytes(value: bytes | bytearray | memoryview) -> bytes:
    """Converter: any bytes-like value is kept as immutable `bytes`."""
    return bytes(value)


def to_bytes_tuple(value: Iterable[bytes]) -> tuple[bytes, ...]:
    return tuple(bytes(item) for item in value)


def check_counted(instance: object, attribute: attrs.Attribute[bytes], value: bytes) -> None:
    """Validator for a <character-string>: one length octet, so at most 255 octets."""
    if len(value) > 255:
        raise ValueError(f"{attribute.name} of {len(value)} octets is longer than 255")


# DNSSEC algorithm mnemonics (IANA "DNS Security Algorithm Numbers"), accepted in
# text as RFC 4034 section 2.2 allows; numbers are always printed.
ALGORITHMS = {
    "RSAMD5": 1,
    "DH": 2,
    "DSA": 3,
    "RSASHA1": 5,
    "DSA-NSEC3-SHA1": 6,
    "RSASHA1-NSEC3-SHA1": 7,
    "RSASHA256": 8,
    "RSASHA512": 10,
    "ECC-GOST": 12,
    "ECDSAP256SHA256": 13,
    "ECDSAP384SHA384": 14,
    "ED25519": 15,
    "ED448": 16,
    "INDIRECT": 252,
    "PRIVATEDNS": 253,
    "PRIVATEOID": 254,
}


def algorithm_from_tokens(tokens: TokenStream) -> int:
    text = tokens.string("algorithm")
    if text.isdigit() and text.isascii():
        value = int(text)
        if value > 0xFF:
            raise InvalidRdata(f"algorithm: {value} is larger than 255")
        return value
    try:
        return ALGORITHMS[text.upper()]
    except KeyError:
        raise InvalidRdata(f"algorithm: unknown mnemonic {text!r}") from None


def hex_text(data: bytes) -> str:
    return data.hex().upper()


def base64_text(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def join_fields(*fields: object) -> str:
    """Fields separated by spaces; an empty binary field is left out rather than
    leaving a trailing space (its parser reads the empty rest as no octets)."""
    return " ".join(text for text in map(str, fields) if text)
