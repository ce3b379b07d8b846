"""TXT: one or more character-strings (RFC 1035 section 3.3.14)."""

from __future__ import annotations

from typing import Self

import attrs

from ..._errors import InvalidRdata
from ..enums import RRType
from ..rdata import Rdata, register
from ..reader import WireReader
from ..text import TokenStream, escape_string
from ..writer import WireWriter


def _check_strings(instance: object, attribute: object, value: tuple[bytes, ...]) -> None:
    if not value:
        raise ValueError("TXT needs at least one string")
    for item in value:
        if not isinstance(item, bytes) or len(item) > 255:
            raise ValueError("each TXT string is at most 255 octets")


def _to_tuple(value: tuple[bytes, ...] | list[bytes]) -> tuple[bytes, ...]:
    return tuple(value)


@register
@attrs.frozen
class TXT(Rdata):
    rtype = RRType.TXT
    strings: tuple[bytes, ...] = attrs.field(converter=_to_tuple, validator=_check_strings)

    @classmethod
    def from_wire_untrusted(cls, reader: WireReader) -> Self:
        strings = []
        while reader.remaining():
            strings.append(reader.counted_bytes())
        return cls(tuple(strings))

    def to_wire(self, writer: WireWriter, compress: bool = True) -> None:
        for item in self.strings:
            writer.counted_bytes(item)

    @classmethod
    def from_tokens(cls, tokens: TokenStream) -> Self:
        strings = []
        while not tokens.at_end():
            strings.append(tokens.character_string())
        if not strings:
            raise InvalidRdata("TXT needs at least one string")
        return cls(tuple(strings))

    def to_text(self) -> str:
        return " ".join(escape_string(item) for item in self.strings)
