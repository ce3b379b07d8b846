"""NSEC3 and NSEC3PARAM: hashed authenticated denial of existence (RFC 5155).

NSEC3 holds the hash parameters (algorithm, flags, iterations, salt), the next
hashed owner name as raw hash octets, and the type bitmap shared with NSEC. In
text the salt is hex, or `-` when empty, and the next hash is base32hex without
padding (RFC 4648 section 7), the spelling of the hashed owner labels themselves.
NSEC3PARAM is the first four fields alone, published at the apex for signers.
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Self

import attrs

from ..._errors import InvalidRdata, MalformedMessage
from ..enums import RRType
from ..rdata import Rdata, register
from ..reader import WireReader
from ..text import TokenStream
from ..writer import WireWriter
from ._fields import U8, U16, check_counted, hex_text, to_bytes
from .typebitmap import (
    normalise_types,
    types_from_tokens,
    types_from_wire_untrusted,
    types_to_text,
    types_to_wire,
)

_FIXED = struct.Struct("!BBH")
OPT_OUT = 0x01  # RFC 5155 section 3.1.2.1


def _check_hash(instance: object, attribute: attrs.Attribute[bytes], value: bytes) -> None:
    if not 1 <= len(value) <= 255:
        raise ValueError(f"next hashed owner of {len(value)} octets (must be 1 to 255)")


def _salt_from_tokens(tokens: TokenStream) -> bytes:
    text = tokens.string("salt")
    salt = tokens.hex("salt", text)
    if len(salt) > 255:
        raise InvalidRdata(f"salt of {len(salt)} octets is longer than 255")
    return salt


def _salt_text(salt: bytes) -> str:
    return hex_text(salt) if salt else "-"


def base32hex_text(data: bytes) -> str:
    return base64.b32hexencode(data).decode("ascii").rstrip("=").lower()


def base32hex_decode(text: str) -> bytes:
    padded = text.upper() + "=" * (-len(text) % 8)
    try:
        return base64.b32hexdecode(padded)
    except (binascii.Error, ValueError):
        raise InvalidRdata(f"not valid base32hex: {text!r}") from None


@attrs.frozen
class _Parameters(Rdata):
    hash_algorithm: int = attrs.field(validator=U8)
    flags: int = attrs.field(validator=U8)
    iterations: int = attrs.field(validator=U16)
    salt: bytes = attrs.field(converter=to_bytes, validator=check_counted)

    def _write_parameters(self, writer: WireWriter) -> None:
        writer.write(_FIXED.pack(self.hash_algorithm, self.flags, self.iterations))
        writer.counted_bytes(self.salt)

    def _parameters_text(self) -> str:
        return f"{self.hash_algorithm} {self.flags} {self.iterations} {_salt_text(self.salt)}"


@register
@attrs.frozen
class NSEC3(_Parameters):
    rtype = RRType.NSEC3

    next: bytes = attrs.field(converter=to_bytes, validator=_check_hash)
    types: tuple[RRType, ...] = attrs.field(converter=normalise_types)

    @property
    def opt_out(self) -> bool:
        """Unsigned delegations may lie in the span this record covers."""
        return bool(self.flags & OPT_OUT)

    def has_type(self, rtype: int) -> bool:
        return rtype in self.types

    @classmethod
    def from_wire_untrusted(cls, reader: WireReader) -> Self:
        algorithm, flags, iterations = reader.unpack(_FIXED)
        salt = reader.counted_bytes()
        start = reader.pos
        next_hash = reader.counted_bytes()
        if not next_hash:
            raise MalformedMessage("NSEC3 next hashed owner is empty", start)
        types = types_from_wire_untrusted(reader)
        rdata = cls(algorithm, flags, iterations, salt, next_hash, ())
        # The bitmap parser yields types sorted and unique: skip the converter.
        object.__setattr__(rdata, "types", types)
        return rdata

    def to_wire(self, writer: WireWriter, compress: bool = True) -> None:
        self._write_parameters(writer)
        writer.counted_bytes(self.next)
        types_to_wire(writer, self.types)

    @classmethod
    def from_tokens(cls, tokens: TokenStream) -> Self:
        algorithm = tokens.integer("hash algorithm", 0xFF)
        flags = tokens.integer("flags", 0xFF)
        iterations = tokens.integer("iterations")
        salt = _salt_from_tokens(tokens)
        next_hash = base32hex_decode(tokens.string("next hashed owner"))
        if not 1 <= len(next_hash) <= 255:
            raise InvalidRdata(f"next hashed owner of {len(next_hash)} octets")
        return cls(algorithm, flags, iterations, salt, next_hash, types_from_tokens(tokens))

    def to_text(self) -> str:
        text = f"{self._parameters_text()} {base32hex_text(self.next)}"
        types = types_to_text(self.types)
        return f"{text} {types}" if types else text


@register
@attrs.frozen
class NSEC3PARAM(_Parameters):
    rtype = RRType.NSEC3PARAM

    @classmethod
    def from_wire_untrusted(cls, reader: WireReader) -> Self:
        algorithm, flags, iterations = reader.unpack(_FIXED)
        return cls(algorithm, flags, iterations, reader.counted_bytes())

    def to_wire(self, writer: WireWriter, compress: bool = True) -> None:
        self._write_parameters(writer)

    @classmethod
    def from_tokens(cls, tokens: TokenStream) -> Self:
        return cls(
            tokens.integer("hash algorithm", 0xFF),
            tokens.integer("flags", 0xFF),
            tokens.integer("iterations"),
            _salt_from_tokens(tokens),
        )

    def to_text(self) -> str:
        return self._parameters_text()
