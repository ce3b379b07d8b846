"""NSEC: the next owner name in a zone and the types at this one (RFC 4034 section 4).

The next name is neither compressed nor, since RFC 6840 section 5.1, lowercased in
the DNSSEC canonical form: it is signed as the zone spells it.
"""

from __future__ import annotations

from typing import Self

import attrs

from ..enums import RRType
from ..name import Name
from ..rdata import Rdata, register
from ..reader import WireReader
from ..text import TokenStream
from ..writer import WireWriter
from .typebitmap import (
    normalise_types,
    types_from_tokens,
    types_from_wire_untrusted,
    types_to_text,
    types_to_wire,
)


@register
@attrs.frozen
class NSEC(Rdata):
    rtype = RRType.NSEC

    next: Name = attrs.field(validator=attrs.validators.instance_of(Name))
    types: tuple[RRType, ...] = attrs.field(converter=normalise_types)

    def has_type(self, rtype: int) -> bool:
        return rtype in self.types

    @classmethod
    def from_wire_untrusted(cls, reader: WireReader) -> Self:
        next_name = reader.name()
        rdata = object.__new__(cls)
        # The bitmap parser yields types sorted and unique: skip the converter.
        object.__setattr__(rdata, "next", next_name)
        object.__setattr__(rdata, "types", types_from_wire_untrusted(reader))
        return rdata

    def to_wire(self, writer: WireWriter, compress: bool = True) -> None:
        writer.name(self.next, compress=False)
        types_to_wire(writer, self.types)

    @classmethod
    def from_tokens(cls, tokens: TokenStream) -> Self:
        return cls(tokens.name("next name"), types_from_tokens(tokens))

    def to_text(self) -> str:
        types = types_to_text(self.types)
        return f"{self.next} {types}" if types else self.next.to_text()
