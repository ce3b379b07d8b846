"""TLSA (RFC 6698) and SMIMEA (RFC 8162): a certificate or key bound to a name.

Both have the same rdata: certificate usage, selector, matching type, then the
certificate association data, written in hex in presentation form.
"""

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

_THREE_U8 = struct.Struct("!BBB")


@attrs.frozen
class _CertAssociation(Rdata):
    usage: int = attrs.field(validator=U8)
    selector: int = attrs.field(validator=U8)
    matching_type: int = attrs.field(validator=U8)
    data: bytes = attrs.field(converter=to_bytes)

    @classmethod
    def from_wire_untrusted(cls, reader: WireReader) -> Self:
        usage, selector, matching_type = reader.unpack(_THREE_U8)
        return cls(usage, selector, matching_type, reader.rest())

    def to_wire(self, writer: WireWriter, compress: bool = True) -> None:
        writer.write(_THREE_U8.pack(self.usage, self.selector, self.matching_type))
        writer.write(self.data)

    @classmethod
    def from_tokens(cls, tokens: TokenStream) -> Self:
        return cls(
            tokens.integer("usage", 0xFF),
            tokens.integer("selector", 0xFF),
            tokens.integer("matching type", 0xFF),
            tokens.hex("certificate association data"),
        )

    def to_text(self) -> str:
        return join_fields(self.usage, self.selector, self.matching_type, hex_text(self.data))


@register
@attrs.frozen
class TLSA(_CertAssociation):
    rtype = RRType.TLSA


@register
@attrs.frozen
class SMIMEA(_CertAssociation):
    rtype = RRType.SMIMEA
