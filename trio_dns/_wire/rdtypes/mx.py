"""MX: a mail exchange and its preference (RFC 1035 section 3.3.9)."""

from __future__ import annotations

from typing import Self

import attrs

from ..enums import RRType
from ..name import Name
from ..rdata import Rdata, register
from ..reader import WireReader
from ..text import TokenStream
from ..writer import WireWriter


@register
@attrs.frozen
class MX(Rdata):
    rtype = RRType.MX
    compress_names = True
    canonical_lowercase = True

    preference: int
    exchange: Name

    @classmethod
    def from_wire_untrusted(cls, reader: WireReader) -> Self:
        return cls(reader.u16(), reader.name())

    def to_wire(self, writer: WireWriter, compress: bool = True) -> None:
        writer.u16(self.preference)
        writer.name(self.exchange, compress)

    @classmethod
    def from_tokens(cls, tokens: TokenStream) -> Self:
        return cls(tokens.integer("preference"), tokens.name("exchange"))

    def to_text(self) -> str:
        return f"{self.preference} {self.exchange}"
