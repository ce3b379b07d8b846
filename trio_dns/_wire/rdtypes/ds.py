"""DS (RFC 4034 section 5) and CDS (RFC 7344): a digest of a child zone's DNSKEY.

The digest is kept whatever its length: a validator compares it with the digest
it computes, and a digest type it does not know just leaves the DS unusable
(RFC 4035 section 5.2), which is not a reason to refuse the message.
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
from ._fields import U8, U16, algorithm_from_tokens, hex_text, join_fields, to_bytes

_FIXED = struct.Struct("!HBB")


@attrs.frozen
class _DigestBase(Rdata):
    key_tag: int = attrs.field(validator=U16)
    algorithm: int = attrs.field(validator=U8)
    digest_type: int = attrs.field(validator=U8)
    digest: bytes = attrs.field(converter=to_bytes)

    @classmethod
    def from_wire_untrusted(cls, reader: WireReader) -> Self:
        key_tag, algorithm, digest_type = reader.unpack(_FIXED)
        return cls(key_tag, algorithm, digest_type, reader.rest())

    def to_wire(self, writer: WireWriter, compress: bool = True) -> None:
        writer.write(_FIXED.pack(self.key_tag, self.algorithm, self.digest_type))
        writer.write(self.digest)

    @classmethod
    def from_tokens(cls, tokens: TokenStream) -> Self:
        return cls(
            tokens.integer("key tag"),
            algorithm_from_tokens(tokens),
            tokens.integer("digest type", 0xFF),
            tokens.hex("digest"),
        )

    def to_text(self) -> str:
        return join_fields(self.key_tag, self.algorithm, self.digest_type, hex_text(self.digest))


@register
@attrs.frozen
class DS(_DigestBase):
    rtype = RRType.DS


@register
@attrs.frozen
class CDS(_DigestBase):
    rtype = RRType.CDS
