"""NAPTR: a rewrite rule of the Dynamic Delegation Discovery System (RFC 3403).

Three character-strings (flags, services, regexp) and a replacement name. The name
is not compressed when written (only RFC 1035 types are, RFC 3597 section 4) and is
lowercased in the DNSSEC canonical form (RFC 4034 section 6.2).
"""

from __future__ import annotations

import struct
from typing import Self

import attrs

from ..enums import RRType
from ..name import Name
from ..rdata import Rdata, register
from ..reader import WireReader
from ..text import TokenStream, escape_string
from ..writer import WireWriter
from ._fields import U16, check_counted, to_bytes

_TWO_U16 = struct.Struct("!HH")


@register
@attrs.frozen
class NAPTR(Rdata):
    rtype = RRType.NAPTR
    canonical_lowercase = True

    order: int = attrs.field(validator=U16)
    preference: int = attrs.field(validator=U16)
    flags: bytes = attrs.field(converter=to_bytes, validator=check_counted)
    services: bytes = attrs.field(converter=to_bytes, validator=check_counted)
    regexp: bytes = attrs.field(converter=to_bytes, validator=check_counted)
    replacement: Name = attrs.field(validator=attrs.validators.instance_of(Name))

    @classmethod
    def from_wire_untrusted(cls, reader: WireReader) -> Self:
        order, preference = reader.unpack(_TWO_U16)
        flags = reader.counted_bytes()
        services = reader.counted_bytes()
        regexp = reader.counted_bytes()
        return cls(order, preference, flags, services, regexp, reader.name())

    def to_wire(self, writer: WireWriter, compress: bool = True) -> None:
        writer.write(_TWO_U16.pack(self.order, self.preference))
        writer.counted_bytes(self.flags)
        writer.counted_bytes(self.services)
        writer.counted_bytes(self.regexp)
        writer.name(self.replacement, compress=False)

    @classmethod
    def from_tokens(cls, tokens: TokenStream) -> Self:
        return cls(
            tokens.integer("order"),
            tokens.integer("preference"),
            tokens.character_string("flags"),
            tokens.character_string("services"),
            tokens.character_string("regexp"),
            tokens.name("replacement"),
        )

    def to_text(self) -> str:
        return (
            f"{self.order} {self.preference} {escape_string(self.flags)} "
            f"{escape_string(self.services)} {escape_string(self.regexp)} {self.replacement}"
        )
