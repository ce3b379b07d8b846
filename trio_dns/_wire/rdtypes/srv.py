"""SRV: the location of a service (RFC 2782).

The target is never compressed when written (RFC 2782, RFC 3597 section 4), but a
compressed one is still read, as some servers send it. It is lowercased in the
DNSSEC canonical form (RFC 4034 section 6.2).
"""

from __future__ import annotations

import struct
from typing import Self

import attrs

from ..enums import RRType
from ..name import Name
from ..rdata import Rdata, register
from ..reader import WireReader
from ..text import TokenStream
from ..writer import WireWriter
from ._fields import U16

_THREE_U16 = struct.Struct("!HHH")


@register
@attrs.frozen
class SRV(Rdata):
    rtype = RRType.SRV
    canonical_lowercase = True

    priority: int = attrs.field(validator=U16)
    weight: int = attrs.field(validator=U16)
    port: int = attrs.field(validator=U16)
    target: Name = attrs.field(validator=attrs.validators.instance_of(Name))

    @classmethod
    def from_wire_untrusted(cls, reader: WireReader) -> Self:
        priority, weight, port = reader.unpack(_THREE_U16)
        return cls(priority, weight, port, reader.name())

    def to_wire(self, writer: WireWriter, compress: bool = True) -> None:
        writer.write(_THREE_U16.pack(self.priority, self.weight, self.port))
        writer.name(self.target, compress=False)

    @classmethod
    def from_tokens(cls, tokens: TokenStream) -> Self:
        return cls(
            tokens.integer("priority"),
            tokens.integer("weight"),
            tokens.integer("port"),
            tokens.name("target"),
        )

    def to_text(self) -> str:
        return f"{self.priority} {self.weight} {self.port} {self.target}"
