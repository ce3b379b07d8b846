"""DNSKEY (RFC 4034 section 2) and CDNSKEY (RFC 7344): a zone's public key.

`key_tag()` is the RFC 4034 Appendix B checksum that DS and RRSIG records use to
point at a key; it is a hint, not an identity (different keys may share a tag).
A protocol field other than 3 is kept: RFC 4034 section 2.1.2 makes such a key
unusable for validation, not the message malformed.
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
from ._fields import U8, U16, algorithm_from_tokens, base64_text, join_fields, to_bytes

_FIXED = struct.Struct("!HBB")

ZONE_KEY = 0x0100  # bit 7: may verify zone data (RFC 4034 section 2.1.1)
REVOKE = 0x0080  # bit 8: revoked (RFC 5011 section 2.1)
SEP = 0x0001  # bit 15: secure entry point, a key-signing key by convention
_RSAMD5 = 1


@attrs.frozen
class _KeyBase(Rdata):
    flags: int = attrs.field(validator=U16)
    protocol: int = attrs.field(validator=U8)
    algorithm: int = attrs.field(validator=U8)
    key: bytes = attrs.field(converter=to_bytes)

    @property
    def zone_key(self) -> bool:
        return bool(self.flags & ZONE_KEY)

    @property
    def sep(self) -> bool:
        return bool(self.flags & SEP)

    @property
    def revoked(self) -> bool:
        return bool(self.flags & REVOKE)

    def key_tag(self) -> int:
        """The RFC 4034 Appendix B key tag."""
        if self.algorithm == _RSAMD5:
            # Appendix B.1: the 16 bits above the last octet of the modulus.
            return int.from_bytes(self.key[-3:-1], "big") if len(self.key) >= 3 else 0
        # The ones' complement-like sum of the rdata read as 16-bit words: octets at
        # even offsets are high bytes, odd offsets low bytes.
        rdata = self.to_bytes()
        total = (sum(rdata[0::2]) << 8) + sum(rdata[1::2])
        total += (total >> 16) & 0xFFFF
        return total & 0xFFFF

    @classmethod
    def from_wire_untrusted(cls, reader: WireReader) -> Self:
        flags, protocol, algorithm = reader.unpack(_FIXED)
        return cls(flags, protocol, algorithm, reader.rest())

    def to_wire(self, writer: WireWriter, compress: bool = True) -> None:
        writer.write(_FIXED.pack(self.flags, self.protocol, self.algorithm))
        writer.write(self.key)

    @classmethod
    def from_tokens(cls, tokens: TokenStream) -> Self:
        return cls(
            tokens.integer("flags"),
            tokens.integer("protocol", 0xFF),
            algorithm_from_tokens(tokens),
            tokens.base64("public key"),
        )

    def to_text(self) -> str:
        return join_fields(self.flags, self.protocol, self.algorithm, base64_text(self.key))


@register
@attrs.frozen
class DNSKEY(_KeyBase):
    rtype = RRType.DNSKEY


@register
@attrs.frozen
class CDNSKEY(_KeyBase):
    rtype = RRType.CDNSKEY
