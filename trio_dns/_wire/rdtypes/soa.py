"""SOA: the start of a zone of authority (RFC 1035 section 3.3.13).

Its MINIMUM field is, since RFC 2308, the TTL of negative answers.
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

_FIVE_U32 = struct.Struct("!IIIII")
_U32_MAX = 0xFFFFFFFF


@register
@attrs.frozen
class SOA(Rdata):
    rtype = RRType.SOA
    compress_names = True
    canonical_lowercase = True

    mname: Name
    rname: Name
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int

    @classmethod
    def from_wire_untrusted(cls, reader: WireReader) -> Self:
        mname = reader.name()
        rname = reader.name()
        return cls(mname, rname, *reader.unpack(_FIVE_U32))

    def to_wire(self, writer: WireWriter, compress: bool = True) -> None:
        writer.name(self.mname, compress)
        writer.name(self.rname, compress)
        writer.write(
            _FIVE_U32.pack(self.serial, self.refresh, self.retry, self.expire, self.minimum)
        )

    @classmethod
    def from_tokens(cls, tokens: TokenStream) -> Self:
        mname = tokens.name("mname")
        rname = tokens.name("rname")
        numbers = [
            tokens.integer(what, _U32_MAX)
            for what in ("serial", "refresh", "retry", "expire", "minimum")
        ]
        return cls(mname, rname, *numbers)

    def to_text(self) -> str:
        return (
            f"{self.mname} {self.rname} {self.serial} {self.refresh} "
            f"{self.retry} {self.expire} {self.minimum}"
        )
