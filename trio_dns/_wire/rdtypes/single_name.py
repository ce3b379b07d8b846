"""Types whose rdata is one domain name: NS, CNAME, PTR (RFC 1035) and DNAME (RFC 6672)."""

from __future__ import annotations

from typing import Self

import attrs

from ..enums import RRType
from ..name import Name
from ..rdata import Rdata, register
from ..reader import WireReader
from ..text import TokenStream
from ..writer import WireWriter


@attrs.frozen
class _SingleName(Rdata):
    target: Name

    @classmethod
    def from_wire_untrusted(cls, reader: WireReader) -> Self:
        rdata = object.__new__(cls)
        object.__setattr__(rdata, "target", reader.name())
        return rdata

    def to_wire(self, writer: WireWriter, compress: bool = True) -> None:
        writer.name(self.target, compress and self.compress_names)

    @classmethod
    def from_tokens(cls, tokens: TokenStream) -> Self:
        return cls(tokens.name())

    def to_text(self) -> str:
        return self.target.to_text()


@register
@attrs.frozen
class NS(_SingleName):
    rtype = RRType.NS
    compress_names = True
    canonical_lowercase = True


@register
@attrs.frozen
class CNAME(_SingleName):
    rtype = RRType.CNAME
    compress_names = True
    canonical_lowercase = True


@register
@attrs.frozen
class PTR(_SingleName):
    rtype = RRType.PTR
    compress_names = True
    canonical_lowercase = True


@register
@attrs.frozen
class DNAME(_SingleName):
    rtype = RRType.DNAME
    # RFC 6672 section 2.5: not compressed when sent; still lowercased for DNSSEC
    # (RFC 4034 section 6.2 lists it).
    canonical_lowercase = True
