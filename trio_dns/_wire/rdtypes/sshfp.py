"""SSHFP: the fingerprint of an SSH host key (RFC 4255), in hex in presentation form."""

from __future__ import annotations

import struct
from typing import Self

import attrs

from ..enums import RRType
from ..rdata import Rdata, register
from ..reader import WireReader
from ..text import TokenStream
from ..writer import WireWriter
from ._fields import U8, hex_text, join_fields, to_bytes

_TWO_U8 = struct.Struct("!BB")


@register
@attrs.frozen
class SSHFP(Rdata):
    rtype = RRType.SSHFP

    algorithm: int = attrs.field(validator=U8)
    fingerprint_type: int = attrs.field(validator=U8)
    fingerprint: bytes = attrs.field(converter=to_bytes)

    @classmethod
    def from_wire_untrusted(cls, reader: WireReader) -> Self:
        algorithm, fingerprint_type = reader.unpack(_TWO_U8)
        return cls(algorithm, fingerprint_type, reader.rest())

    def to_wire(self, writer: WireWriter, compress: bool = True) -> None:
        writer.write(_TWO_U8.pack(self.algorithm, self.fingerprint_type))
        writer.write(self.fingerprint)

    @classmethod
    def from_tokens(cls, tokens: TokenStream) -> Self:
        return cls(
            tokens.integer("algorithm", 0xFF),
            tokens.integer("fingerprint type", 0xFF),
            tokens.hex("fingerprint"),
        )

    def to_text(self) -> str:
        return join_fields(self.algorithm, self.fingerprint_type, hex_text(self.fingerprint))
