"""CAA: which certification authorities may issue for a domain (RFC 8659).

A flags octet (bit 0x80 is Issuer Critical), a tag of ASCII letters and digits
(`issue`, `issuewild`, `iodef`, ...) and a value that is the rest of the rdata, so
it may be longer than a character-string. Text form: `0 issue "ca.example"`.
"""

from __future__ import annotations

from typing import Self

import attrs

from ..._errors import InvalidRdata, MalformedMessage
from ..enums import RRType
from ..rdata import Rdata, register
from ..reader import WireReader
from ..text import TokenStream, escape_string, unescape
from ..writer import WireWriter
from ._fields import U8, to_bytes

_CRITICAL = 0x80


def _is_tag(tag: bytes) -> bool:
    return 0 < len(tag) <= 255 and tag.isascii() and tag.isalnum()


def _check_tag(instance: object, attribute: attrs.Attribute[bytes], value: bytes) -> None:
    if not _is_tag(value):
        raise ValueError(f"CAA tag must be 1 to 255 ASCII letters and digits, not {value!r}")


@register
@attrs.frozen
class CAA(Rdata):
    rtype = RRType.CAA

    flags: int = attrs.field(validator=U8)
    tag: bytes = attrs.field(converter=to_bytes, validator=_check_tag)
    value: bytes = attrs.field(converter=to_bytes)

    @property
    def critical(self) -> bool:
        """Issuer Critical: a CA that does not understand the tag must not issue."""
        return bool(self.flags & _CRITICAL)

    @classmethod
    def from_wire_untrusted(cls, reader: WireReader) -> Self:
        flags = reader.u8()
        start = reader.pos
        tag = reader.counted_bytes()
        if not _is_tag(tag):
            raise MalformedMessage("CAA tag is not 1 or more ASCII letters and digits", start)
        return cls(flags, tag, reader.rest())

    def to_wire(self, writer: WireWriter, compress: bool = True) -> None:
        writer.u8(self.flags)
        writer.counted_bytes(self.tag)
        writer.write(self.value)

    @classmethod
    def from_tokens(cls, tokens: TokenStream) -> Self:
        flags = tokens.integer("flags", 0xFF)
        tag = tokens.string("tag").encode("utf-8")
        if not _is_tag(tag):
            raise InvalidRdata(f"CAA tag must be ASCII letters and digits, not {tag!r}")
        return cls(flags, tag, unescape(tokens.string("value")))

    def to_text(self) -> str:
        return f"{self.flags} {self.tag.decode('ascii')} {escape_string(self.value)}"
